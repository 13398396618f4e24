using System.Diagnostics;
using System.Globalization;
using Durable.MySql;
using Durable.Replication;

namespace Durable.VDiff.Tests.Bench;

/// <summary>
/// The driver of bench/benchmarks/vdiff-*.sh: one VDiff of one table between two servers (quiesced, so
/// <see cref="DirectSnapshots"/>), through the real <see cref="ShardDiffer"/> with its sidecar checkpoints on the target,
/// as a workflow's shard runs it minus the stream alignment. Prints the totals and, last, rows compared per second.
/// It lives in the test project because bench/Durable.Bench does not reference src/VDiff (see docs/vdiff.md).
/// </summary>
public static class VDiffBench
{
    public const string Usage =
        "usage: Durable.VDiff.Tests bench checksum|rowlevel HOST SOURCE_PORT TARGET_PORT DATABASE TABLE [CHUNK_ROWS]  (user and password from VDIFF_BENCH_USER / VDIFF_BENCH_PASSWORD)";

    private static double Cpu() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    public static async Task<int> RunAsync(string[] args)
    {
        double? firstChunkCpu = null;
        if (args.Length is < 6 or > 7 || args[0] is not ("checksum" or "rowlevel")
            || !int.TryParse(args[2], NumberStyles.None, CultureInfo.InvariantCulture, out var sourcePort)
            || !int.TryParse(args[3], NumberStyles.None, CultureInfo.InvariantCulture, out var targetPort))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var chunkRows = 10_000;
        if (args.Length == 7 && (!int.TryParse(args[6], NumberStyles.None, CultureInfo.InvariantCulture, out chunkRows) || chunkRows < 1))
        {
            Console.Error.WriteLine($"CHUNK_ROWS '{args[6]}' is invalid: use a whole number >= 1.");
            return 2;
        }

        var user = Environment.GetEnvironmentVariable("VDIFF_BENCH_USER") ?? "bench";
        var password = Environment.GetEnvironmentVariable("VDIFF_BENCH_PASSWORD")
            ?? throw new InvalidOperationException("VDIFF_BENCH_PASSWORD is not set.");
        MySqlConnectionOptions Options(int port) => new() { Host = args[1], Port = port, User = user, Password = password, SslMode = SslMode.Disabled };

        var db = args[4];
        var table = args[5];
        var store = new VDiffStore("_vt");
        var differ = new ShardDiffer(
            store,
            ct => MySqlConnection.OpenAsync(Options(targetPort), ct),
            new DirectSnapshots(ct => MySqlConnection.OpenAsync(Options(sourcePort), ct), ct => MySqlConnection.OpenAsync(Options(targetPort), ct)))
        {
            // CPU of this process at its first checkpoint: start-up, JIT and the first chunk, which a long-lived host pays once.
            Progress = _ =>
            {
                firstChunkCpu ??= Cpu();
                return Task.CompletedTask;
            },
        };
        var job = new ShardJob
        {
            Uuid = Guid.NewGuid().ToString(),
            Workflow = "bench",
            Keyspace = "bench",
            Shard = "0",
            SourceDb = db,
            TargetDb = db,
            Tables = [new TableRule(table)],
            Options = new VDiffOptions { ChunkRows = chunkRows, RowLevel = args[0] == "rowlevel", MaxDiffDuration = TimeSpan.FromHours(1) },
        };

        var startCpu = Cpu();
        var clock = Stopwatch.StartNew();
        var state = await differ.RunAsync(job, CancellationToken.None).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds;
        await using var c = await MySqlConnection.OpenAsync(Options(targetPort)).ConfigureAwait(false);
        var shard = (await store.ListAsync(c, "bench", "bench", job.Uuid).ConfigureAwait(false)).Single();
        var counts = (await store.TablesAsync(c, shard.Id).ConfigureAwait(false)).Single().Counts;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{args[0]} {db}.{table}: {state}, compared {counts.ProcessedRows}, matching {counts.MatchingRows}, mismatched {counts.MismatchedRows}, " +
            $"extra source {counts.ExtraRowsSource}, extra target {counts.ExtraRowsTarget}, chunks {counts.ChunksCompared} ({counts.ChunksDiffering} differing) in {seconds:0.00} s"));
        if (state != VDiffStates.Completed)
        {
            Console.Error.WriteLine($"VDiff ended {state}: {shard.LastError}");
            return 1;
        }

        // Where the process's memory went: the GC heap after the run and at its peak, what was allocated in all, and how
        // often each generation was collected (the benchmark's VmHWM is the whole process, runtime and JIT included).
        var gc = GC.GetGCMemoryInfo(GCKind.Any);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: gc heap {gc.HeapSizeBytes / 1024} kB (committed {gc.TotalCommittedBytes / 1024} kB), allocated {GC.GetTotalAllocatedBytes() / 1024} kB in all, " +
            $"collections gen0 {GC.CollectionCount(0)} gen1 {GC.CollectionCount(1)} gen2 {GC.CollectionCount(2)}, working set {Environment.WorkingSet / 1024} kB, server gc {System.Runtime.GCSettings.IsServerGC}"));
        // The process's own CPU and peak resident memory, read here so the benchmark needs no poller of its own.
        var cpu = Cpu();
        var hwm = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]
            : null;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"process: cpu {cpu:0.00} s, VmHWM {hwm ?? "?"} kB; cpu before the diff {startCpu:0.00} s, at the first checkpoint {firstChunkCpu:0.00} s"));
        Console.WriteLine((counts.ProcessedRows / seconds).ToString("0", CultureInfo.InvariantCulture));
        return 0;
    }
}
