using System.Text.Json;
using Durable.Replication;

namespace Durable.VDiff.Tests;

/// <summary>A shard's VDiff from its sidecar state: checkpoints, stop and resume, the seeds' report shape, repair.</summary>
[Trait("Category", "Integration")]
public sealed class ShardDifferTests
{
    private static readonly string[] Tables = ["orders", "names", "order_lines"];

    private static ShardJob Job(PairBed bed, string uuid, VDiffOptions options) => new()
    {
        Uuid = uuid,
        Workflow = "wf_" + bed.Suffix,
        Keyspace = "customer",
        Shard = "0",
        SourceDb = bed.SourceDb,
        TargetDb = bed.TargetDb,
        Tables = Tables.Select(t => new TableRule(t)).ToList(),
        Options = options,
    };

    private static DirectSnapshots Snapshots() => new(
        ct => Durable.MySql.MySqlConnection.OpenAsync(PairBed.Dba(PairBed.SourceUid), ct),
        ct => Durable.MySql.MySqlConnection.OpenAsync(PairBed.Dba(PairBed.TargetUid), ct));

    private static ShardDiffer Differ(PairBed bed, VDiffStore store, Func<ChunkOutcome, Task>? progress = null) =>
        new(store, ct => Durable.MySql.MySqlConnection.OpenAsync(PairBed.Dba(PairBed.TargetUid), ct), Snapshots()) { Progress = progress };

    private static async Task<VDiffReport> ReportAsync(PairBed bed, VDiffStore store, string uuid, bool verbose = true)
    {
        await using var c = await PairBed.OpenAsync(PairBed.TargetUid);
        await c.ExecuteAsync("SET SESSION time_zone = '+00:00'");
        var shards = new List<(VDiffShardRecord, IReadOnlyList<VDiffTableRecord>)>();
        foreach (var s in await store.ListAsync(c, "wf_" + bed.Suffix, "customer", uuid))
        {
            shards.Add((s, await store.TablesAsync(c, s.Id)));
        }

        return VDiffReport.Build("wf_" + bed.Suffix, "customer", uuid, shards, verbose, DateTime.UtcNow);
    }

    private static async Task SetUpCorruptedAsync(PairBed bed)
    {
        await bed.CreateAsync();
        await bed.BothAsync(CompareEngineTestsData.Schema);
        await bed.BothAsync(CompareEngineTestsData.Data);
        await bed.TargetAsync(CompareEngineTestsData.Corruption);
    }

    [Fact]
    public async Task Stop_and_resume_mid_table_gives_the_totals_of_an_uninterrupted_run()
    {
        await using var bed = new PairBed("resume");
        await SetUpCorruptedAsync(bed);
        var store = new VDiffStore(bed.SidecarName);
        var options = new VDiffOptions { ChunkRows = 40, MaxSamples = 5 };

        var straight = Guid.NewGuid().ToString();
        Assert.Equal(VDiffStates.Completed, await Differ(bed, store).RunAsync(Job(bed, straight, options), default));

        var interrupted = Guid.NewGuid().ToString();
        var chunks = 0;
        long id = 0;
        var stopping = Differ(bed, store, async o =>
        {
            if (++chunks == 3)
            {
                // Stop from another connection, as the stop command does; the loop sees it right after this checkpoint.
                await using var c = await PairBed.OpenAsync(PairBed.TargetUid);
                Assert.True(await store.SetStateAsync(c, id, VDiffStates.Stopped, "test stop", [VDiffStates.Started]));
            }
        });
        id = await stopping.CreateAsync(Job(bed, interrupted, options), default);
        Assert.Equal(VDiffStates.Stopped, await stopping.RunAsync(Job(bed, interrupted, options), default));

        var mid = await ReportAsync(bed, store, interrupted);
        Assert.Equal(VDiffStates.Stopped, mid.State);
        Assert.Equal(120, mid.TableSummary["names"].RowsCompared + mid.TableSummary["order_lines"].RowsCompared + mid.TableSummary["orders"].RowsCompared);
        Assert.Equal(VDiffStates.Started, mid.TableSummary["orders"].State);
        Assert.Equal(VDiffStates.Pending, mid.TableSummary["names"].State);
        Assert.NotNull(mid.TableSummary["orders"].LastPK);

        // A stopped VDiff does not run until resumed.
        Assert.Equal(VDiffStates.Stopped, await Differ(bed, store).RunAsync(Job(bed, interrupted, options), default));
        await using (var c = await PairBed.OpenAsync(PairBed.TargetUid))
        {
            Assert.True(await store.SetStateAsync(c, id, VDiffStates.Pending, "resume", [VDiffStates.Stopped]));
        }

        Assert.Equal(VDiffStates.Completed, await Differ(bed, store).RunAsync(Job(bed, interrupted, options), default));
        var a = await ReportAsync(bed, store, straight, verbose: false);
        var b = await ReportAsync(bed, store, interrupted, verbose: false);
        Assert.Equal(JsonSerializer.Serialize(a.TableSummary), JsonSerializer.Serialize(b.TableSummary));
        Assert.All(b.TableSummary.Values, t =>
        {
            Assert.Equal(300 + 1, t.RowsCompared);
            Assert.Equal(1, t.MismatchedRows);
            Assert.Equal(1, t.ExtraRowsSource);
            Assert.Equal(1, t.ExtraRowsTarget);
        });

        // Running a completed VDiff again changes nothing (a re-delivered activity).
        Assert.Equal(VDiffStates.Completed, await Differ(bed, store).RunAsync(Job(bed, interrupted, options), default));
        Assert.Equal(JsonSerializer.Serialize(b.TableSummary), JsonSerializer.Serialize((await ReportAsync(bed, store, interrupted, verbose: false)).TableSummary));
    }

    [Fact]
    public async Task Runs_cut_short_by_their_budget_continue_after_the_last_checkpoint_to_the_same_totals()
    {
        await using var bed = new PairBed("budget");
        await SetUpCorruptedAsync(bed);
        var store = new VDiffStore(bed.SidecarName);
        var options = new VDiffOptions { ChunkRows = 40, MaxSamples = 5 };
        var straight = Guid.NewGuid().ToString();
        Assert.Equal(VDiffStates.Completed, await Differ(bed, store).RunAsync(Job(bed, straight, options), default));

        // Each run gets a budget of 1 ms: it compares at most a chunk or so and answers "started", as the shard
        // orchestration's activity does before ContinueAsNew; the next run (the shard is still started) must go on
        // from the checkpoint, not answer "started" again without a step (which made the orchestration spin).
        var budgeted = Guid.NewGuid().ToString();
        var runs = 0;
        var chunks = 0;
        string state;
        do
        {
            Assert.True(++runs < 200, "a budgeted VDiff makes no progress from run to run");
            state = await Differ(bed, store, _ =>
            {
                chunks++;
                return Task.CompletedTask;
            }).RunAsync(Job(bed, budgeted, options), default, TimeSpan.FromMilliseconds(1));
        }
        while (state == VDiffStates.Started);

        Assert.Equal(VDiffStates.Completed, state);
        Assert.True(runs > 3, $"the budget should have cut the diff into several runs, took {runs}");
        Assert.Equal(3 * 8, chunks);
        Assert.Equal(
            JsonSerializer.Serialize((await ReportAsync(bed, store, straight, verbose: false)).TableSummary),
            JsonSerializer.Serialize((await ReportAsync(bed, store, budgeted, verbose: false)).TableSummary));
    }

    [Fact]
    public async Task Report_has_the_seed_json_shape()
    {
        await using var bed = new PairBed("report");
        await SetUpCorruptedAsync(bed);
        var store = new VDiffStore(bed.SidecarName);
        var uuid = Guid.NewGuid().ToString();
        await Differ(bed, store).RunAsync(Job(bed, uuid, new VDiffOptions { ChunkRows = 100 }), default);
        var report = await ReportAsync(bed, store, uuid);
        using var doc = JsonDocument.Parse(report.ToJson());
        var root = doc.RootElement;
        Assert.Equal(
            ["Workflow", "Keyspace", "State", "UUID", "RowsCompared", "HasMismatch", "Shards", "StartedAt", "CompletedAt", "TableSummary", "Reports"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("completed", root.GetProperty("State").GetString());
        Assert.True(root.GetProperty("HasMismatch").GetBoolean());
        Assert.Equal(3 * 301, root.GetProperty("RowsCompared").GetInt64());
        Assert.Equal("0", root.GetProperty("Shards").GetString());
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", root.GetProperty("StartedAt").GetString());
        var orders = root.GetProperty("TableSummary").GetProperty("orders");
        Assert.Equal(["TableName", "State", "RowsCompared", "MatchingRows", "MismatchedRows", "ExtraRowsSource", "ExtraRowsTarget"], orders.EnumerateObject().Select(p => p.Name));
        var shard = root.GetProperty("Reports").GetProperty("orders").GetProperty("0");
        Assert.Equal(301, shard.GetProperty("ProcessedRows").GetInt64());
        Assert.Equal("77", shard.GetProperty("MismatchedRowsSample")[0].GetProperty("Pk").GetProperty("id").GetString());
        Assert.Equal("changed", shard.GetProperty("MismatchedRowsSample")[0].GetProperty("Target").GetProperty("note").GetString());
    }

    [Fact]
    public async Task Repair_recopies_the_differing_ranges_and_a_new_vdiff_is_clean()
    {
        await using var bed = new PairBed("repair");
        await SetUpCorruptedAsync(bed);
        var store = new VDiffStore(bed.SidecarName);
        var first = Guid.NewGuid().ToString();
        var job = Job(bed, first, new VDiffOptions { ChunkRows = 50 });
        var differ = Differ(bed, store);
        var id = await differ.CreateAsync(job, default);
        Assert.Equal(VDiffStates.Completed, await differ.RunAsync(job, default));
        Assert.True((await ReportAsync(bed, store, first)).HasMismatch);

        await using (var c = await PairBed.OpenAsync(PairBed.TargetUid))
        {
            var ranges = 0;
            foreach (var t in Tables)
            {
                ranges += (await store.DifferingRangesAsync(c, id, t)).Count;
            }

            Assert.InRange(ranges, 3, 9);
            Assert.Equal(ranges, await new Repairer(store).RepairAsync(c, id, job, Snapshots(), default));
            Assert.Equal(0, await new Repairer(store).RepairAsync(c, id, job, Snapshots(), default));
        }

        var second = Guid.NewGuid().ToString();
        Assert.Equal(VDiffStates.Completed, await Differ(bed, store).RunAsync(Job(bed, second, new VDiffOptions { ChunkRows = 50 }), default));
        var report = await ReportAsync(bed, store, second);
        Assert.False(report.HasMismatch, report.ToJson());
        Assert.All(report.TableSummary.Values, t => Assert.Equal(300, t.MatchingRows));
        foreach (var table in Tables)
        {
            Assert.Equal(string.Empty, (await CompareEngineTests.PtTableSyncPrintAsync(bed, table)).Trim());
        }
    }
}
