using System.Diagnostics;
using System.Globalization;
using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Binlog;

namespace Durable.Bench.MySql;

/// <summary>
/// The MySQL protocol benchmarks run by bench/benchmarks/mysql-*.sh. Connection settings come from the environment
/// (BENCH_MYSQL_HOST, BENCH_MYSQL_PORT, BENCH_MYSQL_USER, BENCH_MYSQL_PASSWORD) so no password is on a command line.
/// Each prints its speed as the last stdout line and the process's peak memory on stderr.
/// </summary>
public static class MySqlBenchmarks
{
    private static MySqlConnectionOptions Options() => new()
    {
        Host = Environment.GetEnvironmentVariable("BENCH_MYSQL_HOST") ?? "127.0.0.1",
        Port = int.Parse(Environment.GetEnvironmentVariable("BENCH_MYSQL_PORT") ?? throw new InvalidOperationException("BENCH_MYSQL_PORT is not set"), CultureInfo.InvariantCulture),
        User = Environment.GetEnvironmentVariable("BENCH_MYSQL_USER") ?? "root",
        Password = Environment.GetEnvironmentVariable("BENCH_MYSQL_PASSWORD") ?? string.Empty,
        SslMode = SslMode.Disabled,
        CommandTimeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>mysql-read: stream a query's rows, touching every value; prints rows per second.</summary>
    public static async Task<int> ReadAsync(string[] args)
    {
        var sql = args.Length > 0 ? args[0] : "SELECT id, k, c, pad FROM sbtest.sbtest1";
        var watch = Stopwatch.StartNew();
        await using var connection = await MySqlConnection.OpenAsync(Options());
        long rows = 0;
        long bytes = 0;
        await using (var reader = await connection.QueryAsync(sql))
        {
            var columns = reader.FieldCount;
            while (await reader.ReadAsync())
            {
                rows++;
                for (var i = 0; i < columns; i++)
                {
                    bytes += reader.GetValue(i).Span.Length;
                }
            }
        }

        var seconds = watch.Elapsed.TotalSeconds;
        Report($"read {rows} rows ({bytes} value bytes) in {seconds:F3} s");
        Console.WriteLine((rows / seconds).ToString("F0", CultureInfo.InvariantCulture));
        return rows > 0 ? 0 : 1;
    }

    /// <summary>
    /// mysql-binlog: stream and decode the binlog from a GTID position until END_GTID has arrived (its last row
    /// change decoded and its commit read); prints rows per second. The timed region starts in the running process,
    /// just before the connection opens — as the anchor's starts at START SLAVE on the running replica — so it holds
    /// every JIT compilation of a fresh process but not the runtime's own start (reported on stderr).
    /// </summary>
    public static async Task<int> BinlogAsync(string[] args)
    {
        if (args.Length < 3)
        {
            Console.Error.WriteLine("usage: Durable.Bench mysql-binlog START_GTID END_GTID ROW_COUNT");
            return 2;
        }

        var watch = Stopwatch.StartNew();
        var start = GtidPosition.Parse(args[0], GtidFlavor.MariaDb);
        var end = GtidPosition.Parse(args[1], GtidFlavor.MariaDb);
        var target = long.Parse(args[2], CultureInfo.InvariantCulture);
        var options = new BinlogStreamOptions { ServerId = (uint)(4_000_000 + Environment.ProcessId % 100_000), Start = start, ResolveExtendedTypes = false };
        await using var stream = await BinlogStream.StartAsync(Options(), options);
        long rows = 0;
        long bytes = 0;
        long events = 0;
        var startup = watch.Elapsed;
        var firstRows = TimeSpan.Zero;
        while (rows < target || !stream.Position.AtLeast(end))
        {
            var evt = await stream.ReadEventAsync() ?? throw new InvalidOperationException("the source ended the stream");
            events++;
            if (evt is RowsEvent rowsEvent)
            {
                if (rows == 0)
                {
                    firstRows = watch.Elapsed;
                }

                foreach (var change in rowsEvent.Rows)
                {
                    rows++;
                    foreach (var v in change.After ?? change.Before!)
                    {
                        bytes += v.Span.Length;
                    }
                }
            }
        }

        var seconds = watch.Elapsed.TotalSeconds;
        if (rows != target)
        {
            Console.Error.WriteLine($"expected {target} row changes up to {end}, decoded {rows}");
            return 1;
        }

        using var self = Process.GetCurrentProcess();
        var runtimeStart = (DateTime.Now - self.StartTime).TotalSeconds - seconds;
        Report($"decoded {rows} row changes ({bytes} value bytes) in {events} events in {seconds:F3} s (connect+start {startup.TotalSeconds:F3} s, " +
               $"first rows at {firstRows.TotalSeconds:F3} s; before that the runtime's own start took {runtimeStart:F3} s), position {stream.Position}, " +
               $"waited for the network {stream.ReadAheadStalls.ConsumerWaits} times, read-ahead held back by decoding {stream.ReadAheadStalls.ReaderHoldBacks} times");
        Console.WriteLine((rows / seconds).ToString("F0", CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>
    /// mysql-binlog's anchor: on a replica already set up (CHANGE MASTER TO, at the start position, SQL thread
    /// stopped), START SLAVE IO_THREAD and wait until its Gtid_IO_Pos is END_GTID; prints rows per second. Timed from
    /// just before START SLAVE to the first poll that sees END_GTID (polled every millisecond over one connection
    /// opened, and its reading path compiled, before the clock starts); the IO thread is stopped afterwards.
    /// </summary>
    public static async Task<int> ReplicaIoThreadAsync(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: Durable.Bench mysql-binlog-anchor END_GTID ROW_COUNT (BENCH_MYSQL_PORT: the replica)");
            return 2;
        }

        var end = args[0];
        var rows = long.Parse(args[1], CultureInfo.InvariantCulture);
        await using var replica = await MySqlConnection.OpenAsync(Options());
        if (await IoPositionAsync(replica) is null)
        {
            Console.Error.WriteLine("the server is not set up as a replica (SHOW SLAVE STATUS is empty)");
            return 1;
        }

        var polls = 0;
        var watch = Stopwatch.StartNew();
        await replica.ExecuteAsync("START SLAVE IO_THREAD");
        while (await IoPositionAsync(replica) != end)
        {
            polls++;
            if (watch.Elapsed > TimeSpan.FromMinutes(10))
            {
                Console.Error.WriteLine($"the replica's IO thread did not reach {end} in 10 minutes");
                return 1;
            }

            await Task.Delay(1);
        }

        var seconds = watch.Elapsed.TotalSeconds;
        await replica.ExecuteAsync("STOP SLAVE IO_THREAD");
        Console.Error.WriteLine($"replica IO thread received {rows} row changes up to {end} in {seconds:F3} s ({polls} polls)");
        Console.WriteLine((rows / seconds).ToString("F0", CultureInfo.InvariantCulture));
        return 0;
    }

    private static async Task<string?> IoPositionAsync(MySqlConnection replica)
    {
        await using var status = await replica.QueryAsync("SHOW SLAVE STATUS");
        return await status.ReadAsync() ? status.GetString(status.GetOrdinal("Gtid_IO_Pos")) : null;
    }

    private static void Report(string what)
    {
        using var self = Process.GetCurrentProcess();
        Console.Error.WriteLine($"{what}; peak working set {self.PeakWorkingSet64 / (1024 * 1024)} MiB, managed heap {GC.GetTotalMemory(false) / (1024 * 1024)} MiB, " +
            $"{GC.CollectionCount(0)} gen0/{GC.CollectionCount(1)} gen1/{GC.CollectionCount(2)} gen2 GCs pausing {GC.GetTotalPauseDuration().TotalSeconds:F3} s, {GC.GetTotalAllocatedBytes() / (1024 * 1024)} MiB allocated, JIT {System.Runtime.JitInfo.GetCompiledMethodCount()} methods in {System.Runtime.JitInfo.GetCompilationTime().TotalSeconds:F3} s, " +
            $"CPU {self.TotalProcessorTime.TotalSeconds:F3} s");
    }
}
