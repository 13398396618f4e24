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

    /// <summary>mysql-binlog: stream and decode the binlog from a GTID position until N row changes; prints rows per second.</summary>
    public static async Task<int> BinlogAsync(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: Durable.Bench mysql-binlog START_GTID ROW_COUNT");
            return 2;
        }

        var start = GtidPosition.Parse(args[0], GtidFlavor.MariaDb);
        var target = long.Parse(args[1], CultureInfo.InvariantCulture);
        var watch = Stopwatch.StartNew();
        var options = new BinlogStreamOptions { ServerId = (uint)(4_000_000 + Environment.ProcessId % 100_000), Start = start, ResolveExtendedTypes = false };
        await using var stream = await BinlogStream.StartAsync(Options(), options);
        long rows = 0;
        long bytes = 0;
        long events = 0;
        var startup = watch.Elapsed;
        while (rows < target)
        {
            var evt = await stream.ReadEventAsync() ?? throw new InvalidOperationException("the source ended the stream");
            events++;
            if (evt is RowsEvent rowsEvent)
            {
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
        Report($"decoded {rows} row changes ({bytes} value bytes) in {events} events in {seconds:F3} s (connect+start {startup.TotalSeconds:F3} s), position {stream.Position}");
        Console.WriteLine((rows / seconds).ToString("F0", CultureInfo.InvariantCulture));
        return 0;
    }

    private static void Report(string what)
    {
        using var self = Process.GetCurrentProcess();
        Console.Error.WriteLine($"{what}; peak working set {self.PeakWorkingSet64 / (1024 * 1024)} MiB, managed heap {GC.GetTotalMemory(false) / (1024 * 1024)} MiB, " +
            $"{GC.CollectionCount(0)} gen0 GCs, JIT {System.Runtime.JitInfo.GetCompiledMethodCount()} methods in {System.Runtime.JitInfo.GetCompilationTime().TotalSeconds:F3} s, " +
            $"CPU {self.TotalProcessorTime.TotalSeconds:F3} s");
    }
}
