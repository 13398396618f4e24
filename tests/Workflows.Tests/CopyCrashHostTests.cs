using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;
using Xunit.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// kill -9 of the real Functions host in the middle of a MoveTables copy, at each named fault point of the engine's
/// copy (chunk written, chunk committed, catch-up committed, fast-forward committed, finish about to commit) and of the
/// durable dispatch around the <c>MoveTables_CopyChunk</c> activity (delivered but not run, run but its result not
/// delivered, the orchestration's step committed). A private
/// host (<see cref="SwitchTrafficCrashHost"/>: src/Functions binaries, its own Azurite task hub and port) runs
/// <c>MoveTables create</c> with small chunks (DURABLE_COPY_CHUNK_ROWS) while a load inserts, updates, changes primary
/// keys, swaps unique keys and deletes across the table's whole key space; the host SIGKILLs itself at the Nth hit of
/// the point. A fresh host on the same hub takes the orchestration over (the dead host's in-flight chunk is delivered
/// again and continues from the sidecar), the stream reaches Running, and once the load stops and an in-process
/// Streamer has caught up the target equals the source row by row: no row lost, none duplicated.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CopyCrashHostTests(ITestOutputHelper output)
{
    internal const string Source = "commerce";
    internal const string Target = "customer";
    private const int Rows = 2400;
    internal const int KeySpace = 3200;

    /// <summary>Small chunks: the seeded table alone takes six, the load's inserts add more.</summary>
    internal const int ChunkRows = 400;

    /// <summary>
    /// Each point with the hit it fires on, chosen so the kill leaves the copy half done: the third chunk (rows written
    /// but not committed / committed but its result not delivered), the second catch-up commit (catch-up runs before
    /// every chunk after the first; under the load it has rows to apply), the first fast-forward commit (between the
    /// catch-up and the snapshot the source moves on), the finish (every table copied, Running not yet committed /
    /// committed but the orchestration never told), and a chunk committed while --defer-secondary-keys has the target's
    /// unique key dropped (the fresh host must re-add it exactly). The durable points count the host's activities and
    /// orchestration steps, which come in a fixed order with one stream: activities Preflight (1), Create (2), then
    /// CopyChunk (3, 5, 7, ...) each followed by Progress (4, 6, ...); steps 1 and 2 schedule Preflight and Create, step
    /// 3 the first chunk, then each step schedules the next activity. So: the first chunk (which starts the stream)
    /// run but its result not delivered; the second chunk delivered but killed before it ran; the third chunk run,
    /// result not delivered (delivered again, it continues from the sidecar instead of repeating); and the step that
    /// scheduled the second chunk's Progress committed.
    /// </summary>
    public static TheoryData<string, int, bool> Points() => new()
    {
        { "copy.chunk.rows-written", 3, false },
        { "copy.chunk.after-commit", 3, false },
        { "copy.catchup.after-commit", 2, false },
        { "copy.fastforward.after-commit", 1, false },
        { "copy.finish.before-commit", 1, false },
        { "copy.finish.after-commit", 1, false },
        { "copy.chunk.after-commit", 3, true },
        { "durable.activity.before-complete", 3, false },
        { "durable.activity.after-lock", 5, false },
        { "durable.activity.before-complete", 7, false },
        { "durable.orchestration.after-complete", 6, false },
    };

    [Theory]
    [MemberData(nameof(Points))]
    public async Task A_host_killed_at_a_copy_fault_point_during_MoveTables_create_finishes_with_no_row_lost_or_duplicated(string point, int hit, bool deferSecondaryKeys)
    {
        var clock = Stopwatch.StartNew();
        await using var bed = new ClusterBed("cpcrash");
        await bed.InitAsync();
        var table = "c_" + bed.Suffix;
        var workflow = "cc_" + bed.Suffix;
        await CreateSeededTableAsync(bed, table);
        // Streams run in a Streamer of this process (on the bed's root and sidecar) once copied: only the host dies.
        bed.StartStreamer();

        var suffix = bed.Suffix.Replace("_", "", StringComparison.Ordinal);
        var hub = "CopyCrash" + suffix;
        var work = Path.Combine(Path.GetTempPath(), "durable-copycrash-" + suffix);
        var dll = SwitchTrafficCrashHost.PrepareBinaries(Path.Combine(work, "bin"));
        var key = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        var settings = new Dictionary<string, string> { [MoveTablesEnvironmentOptions.CopyChunkRowsSetting] = ChunkRows.ToString(CultureInfo.InvariantCulture) };
        var seed = Random.Shared.Next();
        await using var load = new CopyCrashLoad(table, KeySpace, seed, opsPerSecond: 150);
        SwitchTrafficCrashHost? host = null;
        try
        {
            host = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "root"), hub, bed, key, $"{point}@{hit}", settings);
            load.Start();
            await load.WaitForOpsAsync(30);
            var (status, created) = await host.PostAsync($"/api/movetables/{Target}/{workflow}/create",
                new { source_keyspace = Source, tables = new[] { table }, tablet_types = "PRIMARY", vdiff_interval = "off", defer_secondary_keys = deferSecondaryKeys });
            Assert.True(status == 202, $"create answered {status}: {created}");

            // The copy must die at the point: a copy that finishes (or a host that lives on) means the point was never
            // reached at that hit, and the case would prove nothing.
            await WaitForKillAsync(host, workflow, point, hit, TimeSpan.FromSeconds(90));
            Assert.True(host.ExitCode == 137, $"the host should die by SIGKILL at {point}@{hit} (exit 137), exit code {host.ExitCode}:\n{SwitchTrafficCrashHost.Tail(host.Log)}");
            Assert.Contains($"fault point '{point}' reached", host.Log);
            await host.DisposeAsync();
            var atKill = Assert.Single(await bed.Env.Engine.ListStreamsAsync(Target, "0", workflow));
            // After the finish committed the stream is Running, but the orchestration was never told: the chunk delivered
            // again must answer "done" from the sidecar.
            var expected = point == "copy.finish.after-commit" ? StreamState.Running : StreamState.Copying;
            Assert.True(atKill.State == expected, $"killed at {point}@{hit}, the stream should be {expected}: {atKill.State} '{atKill.Message}'");
            if (deferSecondaryKeys)
            {
                Assert.True(await UniqueKeyAsync(table) is null, $"killed at {point}@{hit} with --defer-secondary-keys, the target's unique key should be dropped for the copy");
            }

            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s killed at {point}@{hit}: {atKill.RowsCopied} rows copied and committed, {load.Total} load changes so far (seed {seed})");

            // A fresh host on the same hub, without the fault point, finishes the workflow's copy.
            host = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "root"), hub, bed, key, null, settings);
            var state = await WaitPhaseAsync(host, workflow, TimeSpan.FromSeconds(150));
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s copy finished after the restart: phase {state.Phase}, {state.Copy.Sum(c => c.RowsCopied)} rows copied");
            Assert.True(state.Phase == Phases.Running, $"after the restart the workflow should replicate: phase {state.Phase}, error {state.LastError}");
            var copied = Assert.Single(await bed.Env.Engine.ListStreamsAsync(Target, "0", workflow));
            Assert.True(copied.State == StreamState.Running, $"the copied stream should be Running: {copied.State} '{copied.Message}'");
            Assert.Equal("uk:0:uk", await UniqueKeyAsync(table));

            // Let the Streamer replicate under the load a moment, then stop the load and compare once caught up.
            await Task.Delay(1000);
            var stats = await load.StopAsync();
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s load stopped: {stats}");
            Assert.True(stats.Inserts > 0 && stats.Updates > 0 && stats.KeyChanges > 0 && stats.Deletes > 0, $"the load should have done every kind of change: {stats}");
            await AssertSameRowsAsync(bed, workflow, table, $"{point}@{hit}");
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s target equals source ({point}@{hit})");
            await host.StopAsync();
        }
        finally
        {
            // A failed assertion leaves the current host running: it must not outlive the test.
            if (host is not null)
            {
                await host.DisposeAsync();
            }

            // The load stops when it is disposed (before the bed drops the tables); a load failure is reported by
            // StopAsync above, not here where it would hide the test's own failure.
            await SwitchTrafficCrashHost.DeleteHubAsync(hub);
            try
            {
                Directory.Delete(work, true);
            }
            catch (IOException)
            {
                // a leftover temp folder is harmless
            }
        }
    }

    /// <summary>The source table the copy crash tests move (dropped on both sides when the bed ends).</summary>
    internal static async Task CreateSeededTableAsync(ClusterBed bed, string table)
    {
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(200, "vt_customer", table);
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{table}` (id INT NOT NULL, uk INT NULL, v VARCHAR(60) NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (id), UNIQUE KEY uk (uk))",
            // Every fourth key of the key space is free at the start, so the load's inserts land inside copied,
            // being-copied and not-yet-copied ranges alike.
            $"INSERT INTO `{table}` (id, uk, v, n) SELECT seq, seq + 1000000, CONCAT('seed ', seq), seq * 10 FROM seq_1_to_{KeySpace} WHERE seq % 4 <> 0");
    }

    /// <summary>Waits for the host's SIGKILL; fails at once when the workflow finishes its copy first.</summary>
    private static async Task WaitForKillAsync(SwitchTrafficCrashHost host, string workflow, string point, int hit, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        WorkflowState? last = null;
        while (!host.HasExited)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"the host was not killed at {point}@{hit} within {timeout.TotalSeconds:0} s (phase {last?.Phase}, error {last?.LastError}):\n{SwitchTrafficCrashHost.Tail(host.Log)}");
            }

            try
            {
                last = await host.StateAsync(Target, workflow);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // The host died while answering.
                continue;
            }

            if (last is not null && last.Phase is Phases.Running or Phases.Stopped or Phases.Failed && !host.HasExited)
            {
                Assert.Fail($"the copy ended ({last.Phase}, error {last.LastError}) without reaching {point}@{hit}:\n{SwitchTrafficCrashHost.Tail(host.Log)}");
            }

            await host.TryWaitForExitAsync(TimeSpan.FromMilliseconds(200));
        }

        // HasExited turns true before the redirected output reaches end of file: the fault point's last line (written
        // just before the SIGKILL) may still be in the pipe. This wait returns once it was read.
        await host.TryWaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Waits until the copy is over (Running, or Stopped/Failed, which the caller reports).</summary>
    private static async Task<WorkflowState> WaitPhaseAsync(SwitchTrafficCrashHost host, string workflow, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (host.HasExited)
            {
                Assert.Fail($"the restarted host exited ({host.ExitCode}):\n{SwitchTrafficCrashHost.Tail(host.Log)}");
            }

            last = await host.StateAsync(Target, workflow);
            if (last is not null && last.Phase is Phases.Running or Phases.Stopped or Phases.Failed)
            {
                return last;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"the restarted host did not finish the copy within {timeout.TotalSeconds:0} s: phase {last?.Phase}, " +
                                   $"copy {string.Join(", ", last?.Copy.Select(c => $"{c.Table} {c.RowsCopied}{(c.Done ? " done" : "")}") ?? [])}, error {last?.LastError}\n{SwitchTrafficCrashHost.Tail(host.Log)}");
    }

    /// <summary>
    /// Source (quiesced) and target hold the same rows, compared row by row; polled while the Streamer catches up, and on
    /// failure the missing, extra and differing keys are listed with the stream's state.
    /// </summary>
    internal static async Task AssertSameRowsAsync(ClusterBed bed, string workflow, string table, string point)
    {
        var source = await RowsAsync(100, "vt_commerce", table);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        Dictionary<int, string> target;
        while (true)
        {
            target = await RowsAsync(200, "vt_customer", table);
            if (target.Count == source.Count && source.All(r => target.TryGetValue(r.Key, out var t) && t == r.Value))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }

        var missing = source.Keys.Where(k => !target.ContainsKey(k)).Order().ToList();
        var extra = target.Keys.Where(k => !source.ContainsKey(k)).Order().ToList();
        var differ = source.Keys.Where(k => target.TryGetValue(k, out var t) && t != source[k]).Order().ToList();
        var streams = await bed.Env.Engine.ListStreamsAsync(Target, "0", workflow);
        Assert.Fail($"after a kill at {point} the target differs from the source ({source.Count} rows vs {target.Count}): " +
                    $"{missing.Count} missing ({string.Join(",", missing.Take(20))}), {extra.Count} extra ({string.Join(",", extra.Take(20))}), " +
                    $"{differ.Count} different ({string.Join("; ", differ.Take(5).Select(k => $"{k}: source '{source[k]}' target '{target[k]}'"))}); " +
                    $"streams: {string.Join("; ", streams.Select(s => $"#{s.Id} {s.State} at {s.Position?.Encode()} '{s.Message}'"))}");
    }

    /// <summary>The target's secondary key as "name:non_unique:columns", or null when it is not there.</summary>
    private static Task<string?> UniqueKeyAsync(string table) =>
        ClusterBed.ScalarAsync("dba", 200, "vt_customer",
            "SELECT CONCAT(INDEX_NAME, ':', NON_UNIQUE, ':', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)) FROM information_schema.STATISTICS " +
            $"WHERE TABLE_SCHEMA = 'vt_customer' AND TABLE_NAME = '{table}' AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME, NON_UNIQUE");

    private static async Task<Dictionary<int, string>> RowsAsync(int uid, string db, string table)
    {
        await using var c = await MySqlConnection.OpenAsync(ClusterBed.Account("dba", uid, db));
        var rows = new Dictionary<int, string>();
        await using var r = await c.QueryAsync($"SELECT id, CONCAT_WS('|', COALESCE(uk, 'NULL'), v, n) FROM `{table}` ORDER BY id");
        while (await r.ReadAsync())
        {
            rows.Add(r.GetInt32(0), r.GetString(1) ?? "(null)");
        }

        return rows;
    }
}

/// <summary>
/// A paced write load on the source primary across a table's whole key space (id INT PK, uk INT UNIQUE, v, n):
/// inserts, range updates, primary key changes, unique-key swaps through NULL in one transaction, and deletes. Paced,
/// because a copy chases its source: an unpaced writer on a loaded 2-core machine can outrun the catch-up.
/// </summary>
public sealed class CopyCrashLoad(string table, int keySpace, int seed, int opsPerSecond) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task<WriteLoadStats>? _run;
    private int _total;

    public int Total => Volatile.Read(ref _total);

    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    public async Task WaitForOpsAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Total < count)
        {
            if (_run is { IsCompleted: true })
            {
                await _run; // surfaces the load's failure
            }

            Assert.True(DateTime.UtcNow < deadline, $"the load made only {Total} changes in 30 s");
            await Task.Delay(50);
        }
    }

    /// <summary>Stops the load (idempotent) and returns what it did; a load that failed fails here.</summary>
    public async Task<WriteLoadStats> StopAsync()
    {
        await _stop.CancelAsync();
        return _run is null ? new WriteLoadStats(0, 0, 0, 0, 0) : await _run;
    }

    private async Task<WriteLoadStats> RunAsync(CancellationToken ct)
    {
        await using var c = await MySqlConnection.OpenAsync(ClusterBed.Account("dba", 100, "vt_commerce"), ct);
        return await MixedWriteLoad.RunAsync(c, table, keySpace, ct, seed, opsPerSecond, uniqueKeyOffset: 2_000_000, onChange: () => Interlocked.Increment(ref _total));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception)
        {
            // Disposing after a failure already reported by the test.
        }

        _stop.Dispose();
    }
}

/// <summary>Checks without a server that the points the host crash tests name still exist in the engine, and the chunk-size setting.</summary>
public sealed partial class CopyCrashPointNameTests
{
    [Fact]
    public void Every_copy_fault_point_of_the_host_crash_tests_exists_in_the_engine()
    {
        var dir = Path.Combine(LocalCluster.RepositoryRoot(), "src", "Core", "Replication");
        var copier = File.ReadAllText(Path.Combine(dir, "Copier.cs"));
        // The applier is split by concept over several files (the commit points are in its fenced transaction): read them all.
        var applier = string.Concat(Directory.EnumerateFiles(dir, "*.cs").Order(StringComparer.Ordinal).Select(File.ReadAllText));
        // The applier names its commit points "<area>.before-commit" / "<area>.after-commit"; the copier sets the areas.
        var areas = FaultArea().Matches(copier).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("FaultPoints.Hit(faultArea + \".before-commit\")", applier, StringComparison.Ordinal);
        Assert.Contains("FaultPoints.Hit(faultArea + \".after-commit\")", applier, StringComparison.Ordinal);
        foreach (var row in CopyCrashHostTests.Points())
        {
            var point = (string)row[0];
            if (point.StartsWith("durable.", StringComparison.Ordinal))
            {
                // The durable dispatch points are the engine decorator's.
                Assert.Contains(point, Durable.Functions.Engine.FaultPointOrchestrationService.Points);
            }
            else if (point.EndsWith(".before-commit", StringComparison.Ordinal) || point.EndsWith(".after-commit", StringComparison.Ordinal))
            {
                var area = point[..point.LastIndexOf('.')];
                Assert.True(areas.Contains(area), $"{point}: the copier sets no fault area '{area}' (areas: {string.Join(", ", areas)})");
            }
            else
            {
                Assert.Contains($"FaultPoints.Hit(\"{point}\")", copier, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void The_copy_chunk_rows_setting_sets_the_chunk_size_and_refuses_a_bad_value_by_name()
    {
        var defaults = new MoveTablesSettings().CopyBudget;
        Assert.Equal(defaults, MoveTablesEnvironmentOptions.CopyBudgetFromSettings(null));
        Assert.Equal(defaults, MoveTablesEnvironmentOptions.CopyBudgetFromSettings(" "));
        Assert.Equal(defaults with { MaxRows = 400 }, MoveTablesEnvironmentOptions.CopyBudgetFromSettings("400"));
        foreach (var bad in new[] { "0", "-5", "ten", "1.5" })
        {
            var e = Assert.Throws<WorkflowValidationException>(() => MoveTablesEnvironmentOptions.CopyBudgetFromSettings(bad));
            Assert.Contains($"DURABLE_COPY_CHUNK_ROWS is '{bad}'", e.Message, StringComparison.Ordinal);
        }

        var options = MoveTablesEnvironmentOptions.FromSettings(k => k switch
        {
            MoveTablesEnvironmentOptions.EtcdSetting => "http://127.0.0.1:1",
            MoveTablesEnvironmentOptions.EnginePasswordSetting => "secret",
            MoveTablesEnvironmentOptions.CopyChunkRowsSetting => "250",
            _ => null,
        })!;
        Assert.Equal(250, options.Settings.CopyBudget.MaxRows);
        Assert.Equal(defaults.MaxTime, options.Settings.CopyBudget.MaxTime);
    }

    [GeneratedRegex("FaultArea = \"([a-z.-]+)\"")]
    private static partial Regex FaultArea();
}
