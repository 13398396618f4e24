using System.Diagnostics;
using System.Globalization;

namespace Durable.Replication;

/// <summary>
/// Where a stream's apply time goes, by phase (Stopwatch ticks, summed over the run): waiting for and decoding binlog
/// events, turning row images into SQL, round trips that carry row changes to the target (and how long the applier
/// stood waiting for them: blocks are pipelined, so round-trip time overlaps building), the fenced BEGIN (stream row
/// lock and checks), the position update + COMMIT, and throttle waits. Logged by the Streamer when a stream stops and
/// periodically while it runs, so catch-up speed can be profiled without a tracer.
/// </summary>
public sealed class ApplyProfile
{
    private readonly Stopwatch _wall = Stopwatch.StartNew();

    public long BinlogTicks;
    public long BuildTicks;
    /// <summary>Round trips carrying row changes, from send to answer (blocks run while the next one is built).</summary>
    public long SendTicks;

    /// <summary>Time the applier stood waiting for the target (a block in flight, or a direct statement).</summary>
    public long WaitTicks;
    public long BeginTicks;
    public long CommitTicks;
    public long ThrottleTicks;
    public long Events;
    public long RowEvents;
    public long Rows;
    public long Transactions;
    public long Commits;
    public long RoundTrips;
    public long BytesSent;

    /// <summary>Now, in Stopwatch ticks (for the callers' phase timings).</summary>
    public static long Now() => Stopwatch.GetTimestamp();

    public static long Since(long start) => Stopwatch.GetTimestamp() - start;

    public TimeSpan Elapsed => _wall.Elapsed;

    public override string ToString()
    {
        static string S(long ticks) => (ticks / (double)Stopwatch.Frequency).ToString("0.00", CultureInfo.InvariantCulture) + "s";
        var wall = _wall.Elapsed.TotalSeconds;
        var rate = wall > 0 ? (Rows / wall).ToString("0", CultureInfo.InvariantCulture) : "0";
        // Build is the applier's own time: its calls minus waits for the target and fenced begins.
        return $"wall {wall.ToString("0.00", CultureInfo.InvariantCulture)}s, {Events} events ({RowEvents} row events, {Rows} rows, {Transactions} source transactions, {rate} rows/s); " +
               $"binlog read+decode {S(BinlogTicks)}, SQL build {S(BuildTicks)}, row round trips {S(SendTicks)} ({RoundTrips}, {BytesSent / 1024} KiB; waited for {S(WaitTicks)}), " +
               $"fenced begin {S(BeginTicks)}, position+commit {S(CommitTicks)} ({Commits} commits), throttle {S(ThrottleTicks)}";
    }
}
