using Durable.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Replication.Tests;

/// <summary>
/// Processes killed (SIGKILL through DURABLE_FAULT_POINTS) at each named point of copy, catch-up, fast-forward and
/// apply, then restarted: the target must end equal to the source, no row lost and none duplicated. And a paused
/// (SIGSTOP) Streamer whose lease expired must not commit after it resumes.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CrashTests
{
    /// <param name="uniqueKey">false: uk is a plain index, so the primary key is the only unique key and the applier
    /// writes rows that stay as in-place upserts (the other apply path).</param>
    private static async Task<(TestBed Bed, long Id)> SetUpAsync(string name, int rows, bool uniqueKey = true)
    {
        var bed = new TestBed(name);
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            $"CREATE TABLE items (id INT PRIMARY KEY, uk INT NULL, v VARCHAR(60), n BIGINT, {(uniqueKey ? "UNIQUE KEY" : "KEY")} uk (uk))",
            $"INSERT INTO items SELECT seq, seq, CONCAT('v', seq), seq * 10 FROM seq_1_to_{rows}");
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("items")));
        return (bed, id);
    }

    internal static async Task FinishAndCompareAsync(TestBed bed, long id)
    {
        await using (var supervisor = new StreamerSupervisor(bed.Engine, bed.Etcd, new StreamerOptions { OwnershipRoot = bed.EtcdRoot + "/inproc" }, NullLogger.Instance))
        {
            using var stop = new CancellationTokenSource();
            var run = supervisor.RunAsync(stop.Token);
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(90));
            await stop.CancelAsync();
            await run;
        }

        Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "items"), await TestBed.DumpAsync(200, bed.TargetDb, "items"));
    }

    [Theory]
    [InlineData("copy.chunk.rows-written@2")]
    [InlineData("copy.chunk.before-commit@2")]
    [InlineData("copy.chunk.after-commit@2")]
    [InlineData("copy.catchup.before-commit@1")]
    [InlineData("copy.catchup.after-commit@1")]
    [InlineData("copy.fastforward.after-commit@1")]
    [InlineData("copy.finish.before-commit@1")]
    public Task Copy_killed_at_a_fault_point_and_rerun_loses_and_duplicates_nothing(string faultPoint) =>
        CopyKilledAndRerunAsync(faultPoint, maxRows: 300, commitRows: null);

    /// <summary>One snapshot for the whole table, committed every 250 rows: killed between two commits of a chunk.</summary>
    [Theory]
    [InlineData("copy.chunk.rows-written@3")]
    [InlineData("copy.chunk.after-commit@2")]
    public Task Copy_committing_many_times_inside_one_snapshot_killed_and_rerun_loses_and_duplicates_nothing(string faultPoint) =>
        CopyKilledAndRerunAsync(faultPoint, maxRows: 100_000, commitRows: 250);

    private static async Task CopyKilledAndRerunAsync(string faultPoint, int maxRows, int? commitRows)
    {
        var (bed, id) = await SetUpAsync("crashcopy", 3000);
        await using var _ = bed;
        using var stopLoad = new CancellationTokenSource();
        var load = Workload.RunAsync(bed.SourceDb, "items", 5000, stopLoad.Token);
        try
        {
            await using (var crashing = ChildProcess.CopyHost(bed, "customer", "0", id, maxRows, faultPoint, commitRows))
            {
                var code = await crashing.WaitForExitAsync(TimeSpan.FromSeconds(120));
                Assert.True(code != 0 && crashing.Output.Contains($"fault point '{faultPoint.Split('@')[0]}' reached", StringComparison.Ordinal),
                    $"the copy host should have been killed at {faultPoint}; exit {code}, output:\n{crashing.Output}");
            }

            if (commitRows is { } every)
            {
                // Killed inside the one chunk: the commits before the kill stay, each a whole batch.
                var committed = await TestBed.ScalarAsync(200, $"SELECT rows_copied FROM `{bed.SidecarName}`.copy_state WHERE vrepl_id = {id}");
                Assert.Equal((2 * every).ToString(System.Globalization.CultureInfo.InvariantCulture), committed);
            }

            await using (var rerun = ChildProcess.CopyHost(bed, "customer", "0", id, maxRows, commitRows: commitRows))
            {
                var code = await rerun.WaitForExitAsync(TimeSpan.FromSeconds(180));
                Assert.True(code == 0, $"the re-run copy failed with {code}:\n{rerun.Output}");
            }
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
        }

        await FinishAndCompareAsync(bed, id);
    }

    [Theory]
    [InlineData("apply.before-commit@3")]
    [InlineData("apply.after-commit@3")]
    public Task Streamer_killed_at_a_fault_point_and_restarted_loses_and_duplicates_nothing(string faultPoint) =>
        StreamerKilledAndRestartedAsync(faultPoint);

    [Theory]
    [InlineData("apply.before-commit@3")]
    [InlineData("apply.after-commit@3")]
    public Task Streamer_applying_in_place_upserts_killed_at_a_fault_point_and_restarted_loses_and_duplicates_nothing(string faultPoint) =>
        StreamerKilledAndRestartedAsync(faultPoint, uniqueKey: false);

    internal static async Task StreamerKilledAndRestartedAsync(string faultPoint, bool uniqueKey = true)
    {
        var (bed, id) = await SetUpAsync("crashapply", 1000, uniqueKey);
        await using var _ = bed;
        await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 500 });
        using var stopLoad = new CancellationTokenSource();
        var heartbeatOnly = faultPoint.StartsWith("apply.heartbeat", StringComparison.Ordinal);
        var load = heartbeatOnly ? Task.FromResult(new WriteLoadStats(0, 0, 0, 0, 0)) : Workload.RunAsync(bed.SourceDb, "items", 2000, stopLoad.Token);
        try
        {
            await using (var crashing = ChildProcess.Streamer(bed, faultPoint))
            {
                var code = await crashing.WaitForExitAsync(TimeSpan.FromSeconds(60));
                Assert.True(code != 0 && crashing.Output.Contains($"fault point '{faultPoint.Split('@')[0]}' reached", StringComparison.Ordinal),
                    $"the Streamer should have been killed at {faultPoint}; exit {code}, output:\n{crashing.Output}");
            }

            await using var restarted = ChildProcess.Streamer(bed);
            await Task.Delay(2000);
            await stopLoad.CancelAsync();
            await load;
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "items"), await TestBed.DumpAsync(200, bed.TargetDb, "items"));
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
        }
    }

    [Fact]
    public async Task A_paused_streamer_whose_lease_expired_cannot_commit_after_it_resumes()
    {
        var (bed, id) = await SetUpAsync("sigstop", 500);
        await using var _ = bed;
        await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 500 });
        await using var first = ChildProcess.Streamer(bed, replicaName: "first");
        await bed.ExecAsync(100, bed.SourceDb, "UPDATE items SET n = n + 1 WHERE id <= 100");
        await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
        var epochBefore = long.Parse(await TestBed.ScalarAsync(200, $"SELECT owner_epoch FROM `{bed.SidecarName}`.vreplication WHERE id = {id}"), System.Globalization.CultureInfo.InvariantCulture);

        first.Signal("STOP");
        await bed.ExecAsync(100, bed.SourceDb, "UPDATE items SET n = n + 1 WHERE id BETWEEN 101 AND 200", "DELETE FROM items WHERE id > 450");
        await using var second = ChildProcess.Streamer(bed, replicaName: "second");
        await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
        var epochAfter = long.Parse(await TestBed.ScalarAsync(200, $"SELECT owner_epoch FROM `{bed.SidecarName}`.vreplication WHERE id = {id}"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(epochAfter > epochBefore, $"the second Streamer did not take the stream (epoch {epochBefore} -> {epochAfter}):\n{second.Output}");

        first.Signal("CONT");
        await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO items (id, uk, v, n) SELECT seq, seq, 'late', 0 FROM seq_1001_to_1100");
        await Task.Delay(3000);
        await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
        Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "items"), await TestBed.DumpAsync(200, bed.TargetDb, "items"));
        Assert.Equal(epochAfter, long.Parse(await TestBed.ScalarAsync(200, $"SELECT owner_epoch FROM `{bed.SidecarName}`.vreplication WHERE id = {id}"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("Running", await TestBed.ScalarAsync(200, $"SELECT state FROM `{bed.SidecarName}`.vreplication WHERE id = {id}"));
        Assert.Contains("taken by second", await TestBed.ScalarAsync(200, $"SELECT GROUP_CONCAT(message) FROM `{bed.SidecarName}`.vreplication_log WHERE vrepl_id = {id} AND type = 'Owner'"));
    }
}

/// <summary>
/// A stream writes its heartbeat only when the source server sends one, and a server sends heartbeats only while its
/// binlog is idle: any other test writing to the shared source (the soak and host crash tests do, for minutes) starves
/// the heartbeat. So this kill test runs in a collection of its own with parallelization off, after the others.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IdleSourceCollection
{
    public const string Name = "Idle source server";
}

[Trait("Category", "Integration")]
[Collection(IdleSourceCollection.Name)]
public sealed class IdleSourceCrashTests
{
    [Fact]
    public Task Streamer_killed_while_writing_a_heartbeat_and_restarted_loses_and_duplicates_nothing() =>
        CrashTests.StreamerKilledAndRestartedAsync("apply.heartbeat.before-commit@1");
}
