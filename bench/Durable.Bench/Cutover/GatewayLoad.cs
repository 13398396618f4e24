using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Durable.MySql;

namespace Durable.Bench.Cutover;

/// <summary>
/// cutover-gateway's application: it knows nothing of routing rules. Its connections (a pool of 16, spread over the
/// gateways in turn) connect to keyspace <c>commerce</c> as an application connects to vtgate; open loop at RATE
/// writes/s, each an autocommit INSERT followed by a read of the row it wrote (read-your-writes through the gateway,
/// whatever side the rules point to). Every error it sees is recorded and counted, not retried (the goal is none); a
/// statement's latency is from sending to its answer, held time included. The measurement is 1 / p99 latency of the
/// statements sent while a switch ran (≥ 1: p99 ≤ 1 s).
/// </summary>
internal sealed class GatewayLoad(IReadOnlyList<string> gateways, string user, string password, string keyspace, string table, int rate)
    : CutoverBenchmark.ICutoverLoad
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<(double Sent, double Done)> _statements = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private long _written;

    // Statements in flight when the load was stopped: cancelled by the harness, their outcome unknown (a write may have
    // landed), so neither an error of the application nor an acknowledged write.
    private long _cancelledInFlight;
    private long _read;

    /// <summary>Connections writing side by side (a pool).</summary>
    public int Connections { get; init; } = 16;

    public double Now => _clock.Elapsed.TotalSeconds;

    public long Written => Interlocked.Read(ref _written);

    public string? Error { get; private set; }

    public Task Ready => _ready.Task;

    public async Task RunAsync(HttpClient http, CancellationToken ct)
    {
        if (gateways.Count == 0)
        {
            Error = "BENCH_GATEWAYS lists no gateway (host:port,host:port)";
            return;
        }

        var start = Now;
        long next = 0;
        var workers = Enumerable.Range(0, Connections).Select(w => Task.Run(async () =>
        {
            var gateway = gateways[w % gateways.Count];
            MySqlConnection? c = null;
            try
            {
                while (!ct.IsCancellationRequested && Error is null)
                {
                    var id = Interlocked.Increment(ref next);
                    var due = start + (id / (double)rate);
                    var wait = due - Now;
                    if (wait > 0.001)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(wait), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    }

                    if (ct.IsCancellationRequested)
                    {
                        break;
                    }

                    var sent = Now;
                    try
                    {
                        if (c is null || !c.IsUsable)
                        {
                            if (c is not null)
                            {
                                await c.DisposeAsync();
                            }

                            c = await MySqlConnection.OpenAsync(Options(gateway), ct);
                        }

                        await c.ExecuteAsync($"INSERT INTO `{table}` (id, v) VALUES ({id}, 'w')", ct);
                        _statements.Enqueue((sent, Now));
                        Interlocked.Increment(ref _written);
                        _ready.TrySetResult();
                        sent = Now;
                        var v = await c.QueryScalarAsync($"SELECT v FROM `{table}` WHERE id = {id}", ct);
                        _statements.Enqueue((sent, Now));
                        Interlocked.Increment(ref _read);
                        if (v != "w")
                        {
                            _errors.Enqueue($"{sent:F3}s via {gateway}: read of row {id} right after its write found {(v is null ? "nothing" : $"'{v}'")}");
                        }
                    }
                    catch (Exception) when (ct.IsCancellationRequested)
                    {
                        // The harness stopping the load, not the application failing: the client cancels a statement
                        // in flight (through the gateway, which refuses KILL, by dropping its connection).
                        Interlocked.Increment(ref _cancelledInFlight);
                        break;
                    }
                    catch (Exception e) when (e is MySqlException or IOException or TimeoutException)
                    {
                        var what = e is MySqlException m ? $"ERROR {m.ErrorNumber} ({m.SqlState})" : e.GetType().Name;
                        _errors.Enqueue($"{sent:F3}s via {gateway}: statement for row {id}: {what}: {e.Message}");
                        if (_errors.Count > 10_000)
                        {
                            Error = "over 10,000 errors: " + e.Message;
                        }
                    }
                }
            }
            finally
            {
                if (c is not null)
                {
                    await c.DisposeAsync();
                }
            }
        }, CancellationToken.None)).ToList();
        await Task.WhenAll(workers);
    }

    public double Report(IReadOnlyList<CutoverBenchmark.Switch> switches, int cycles, int rate, long rows, Action<string> log)
    {
        var errors = _errors.ToArray();
        var all = _statements.Select(s => s.Done - s.Sent).Order().ToList();
        // A statement counts for a switch when it was sent while the switch command ran.
        var during = switches.Select(s => _statements.Where(x => x.Sent >= s.Start && x.Sent <= s.End).Select(x => x.Done - x.Sent).Order().ToList()).ToList();
        var pooled = during.SelectMany(d => d).Order().ToList();
        var p99 = CutoverBenchmark.Percentile(pooled, 0.99);
        log($"{cycles} cycles ({switches.Count} switches) through {gateways.Count} gateway(s) {string.Join(", ", gateways)} at {rate} writes/s (+ a read of each): " +
            $"{Written} writes and {Interlocked.Read(ref _read)} reads acknowledged, {rows} rows on {keyspace} (the side writes go to after the last ReverseTraffic)");
        log($"errors seen by the application: {errors.Length} (goal 0)");
        foreach (var e in errors.Take(10))
        {
            log("  " + e);
        }

        var unknown = errors.Length + Interlocked.Read(ref _cancelledInFlight);
        log(rows >= Written && rows - Written <= unknown
            ? $"every acknowledged write is present ({rows} rows: {Written} acknowledged, {rows - Written} more from the {unknown} statement(s) whose outcome is unknown: failed, or in flight when the load stopped)"
            : $"ROWS DIFFER: {rows} rows on {keyspace}, {Written} writes acknowledged ({errors.Length} errors and {Interlocked.Read(ref _cancelledInFlight)} statements in flight at the stop: a write among them may or may not have landed)");
        log($"statement latency during the switches ({pooled.Count} statements): p50 {CutoverBenchmark.Percentile(pooled, 0.5) * 1000:F1} ms, p99 {p99 * 1000:F1} ms, max {(pooled.Count > 0 ? pooled[^1] * 1000 : 0):F1} ms (goal p99 <= 1 s)");
        log($"all statements: p50 {CutoverBenchmark.Percentile(all, 0.5) * 1000:F1} ms, p99 {CutoverBenchmark.Percentile(all, 0.99) * 1000:F1} ms, max {(all.Count > 0 ? all[^1] * 1000 : 0):F1} ms");
        log("each switch: " + string.Join(", ", switches.Select((s, i) =>
            $"{CutoverBenchmark.SwitchName(switches, i)} max {(during[i].Count > 0 ? during[i][^1] : 0):F3}s over {during[i].Count} (command {s.Took:F1}s)")));
        foreach (var i in Enumerable.Range(0, switches.Count).OrderByDescending(i => during[i].Count > 0 ? during[i][^1] : 0).Take(3))
        {
            log($"slow switch {CutoverBenchmark.SwitchName(switches, i)}: {switches[i].Steps ?? "no steps reported"}");
        }

        return 1 / Math.Max(p99, 0.001);
    }

    private MySqlConnectionOptions Options(string gateway)
    {
        var colon = gateway.LastIndexOf(':');
        return new MySqlConnectionOptions
        {
            Host = gateway[..colon],
            Port = int.Parse(gateway[(colon + 1)..], CultureInfo.InvariantCulture),
            User = user,
            Password = password,
            Database = keyspace,
            SslMode = SslMode.Disabled,
        };
    }
}
