using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// A write switch interrupted part way (as a killed host leaves it: a journal, guards armed, streams stopped) is rolled
/// back by the next attempt, which then switches fully; a committed one is rolled forward. And unsharded → sharded.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RecoveryIntegrationTests
{
    private static async Task<WorkflowState> WaitAsync(ClusterBed bed, string id, Func<WorkflowState, bool> until, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, error {last?.LastError}");
    }

    /// <summary>A bed with a Streamer and a worker, and a MoveTables of one 40-row table copied and replicating.</summary>
    internal static async Task<(ClusterBed Bed, WorkflowState State, string Table)> RunningWorkflowAsync(string name, string targetKeyspace, string? vschemaFor = null)
    {
        var bed = new ClusterBed(name);
        await bed.InitAsync();
        var table = "t_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{table}` (customer_id BIGINT NOT NULL AUTO_INCREMENT, email VARBINARY(128), PRIMARY KEY (customer_id))",
            $"INSERT INTO `{table}` (customer_id, email) VALUES " + string.Join(",", Enumerable.Range(1, 40).Select(i => $"({i}, 'u{i}@x')")));
        bed.DropLater(100, "vt_commerce", table);
        foreach (var uid in targetKeyspace == "customer" ? new[] { 200 } : [300, 400])
        {
            bed.DropLater(uid, targetKeyspace == "customer" ? "vt_customer" : "vt_customer_sharded", table);
        }

        if (vschemaFor is not null)
        {
            var vschema = "{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"" + table + "\":{\"column_vindexes\":[{\"column\":\"customer_id\",\"name\":\"hash\"}]}}}";
            await new TopologyAdmin(bed.Env.Store).ApplyVSchemaAsync(targetKeyspace, vschema);
        }

        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var spec = new MoveTablesCreate { Workflow = "w_" + bed.Suffix, TargetKeyspace = targetKeyspace, SourceKeyspace = "commerce", Tables = [table], TabletTypes = "PRIMARY" }; // a replica of the loaded shared cluster may lag behind the table just created
        var id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));
        var state = await WaitAsync(bed, id, s => s.Phase == Phases.Running || s.Phase == Phases.Failed, "running");
        Assert.True(state.Phase == Phases.Running, state.LastError);
        return (bed, state, table);
    }

    [Fact]
    public async Task An_interrupted_write_switch_is_rolled_back_then_completed_and_a_committed_one_rolled_forward()
    {
        var (bed, state, table) = await RunningWorkflowAsync("rec", "customer");
        await using var _ = bed;
        var spec = state.Spec;
        var ops = bed.Env.Operations;

        // What a host killed after "inbound-stopped" leaves behind: journal, source guards, forward stream stopped.
        await using (var c = await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 100, "vt_commerce")))
        {
            await ops.Guards.InstallAsync(c, "vt_commerce", spec.TargetKeyspace, spec.Workflow, spec.SourceKeyspace, GuardSide.Source, [table], TimeSpan.FromSeconds(5), default);
        }

        foreach (var s in state.Streams)
        {
            await bed.Env.Engine.StopStreamAsync(s.Keyspace, s.Shard, s.Id, "killed mid-switch");
        }

        await SaveJournalAsDeadHostAsync(bed, spec, new SwitchJournal("crashed", false, state.Traffic, state.Traffic with { Primary = true },
            SwitchSteps.InboundStopped, new Dictionary<string, string>(), new Dictionary<string, string>(), DateTimeOffset.UtcNow));
        await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (email) VALUES ('x')"));

        // The next command: recovery rolls the half switch back, restarts the stream, and the new switch goes through.
        var result = await ops.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TabletTypes = ["PRIMARY"], TimeoutSeconds = 30 }, false, "next"), default);
        Assert.True(result.Ok, result.Message);
        Assert.True(result.Traffic.Primary);
        Assert.Null(await bed.Env.Registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, default));
        Assert.Equal($"{spec.TargetKeyspace}.{table}", RoutingRulesPlan.Resolve((await bed.Env.Store.GetRoutingRulesAsync()).Value, table));
        Assert.All(await bed.Env.Engine.ListStreamsAsync("customer", "0", spec.Workflow), s => Assert.Equal(StreamState.Frozen, s.State));
        Assert.All(await bed.Env.Engine.ListStreamsAsync("commerce", "0", spec.ReverseWorkflow), s => Assert.Equal(StreamState.Running, s.State));
        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{table}` (customer_id, email) VALUES (1000, 'after')");
        var switched = state with { Traffic = result.Traffic, Streams = result.Streams, ReverseStreams = result.ReverseStreams };

        // A host killed after the commit point of a reverse switch: the journal says committed, the streams were not
        // yet started/frozen. The next delivery of that same (unfinished) intent rolls it forward.
        var back = await ops.SwitchAsync(new SwitchRequest(switched, new SwitchOptions { TabletTypes = ["PRIMARY"] }, true, "rev1"), default);
        Assert.True(back.Ok, back.Message);
        Assert.False(back.Traffic.Primary);
        Assert.Contains("writes refused for", back.Steps);
        Assert.NotNull(back.WindowMs);
        await SaveJournalAsDeadHostAsync(bed, spec, new SwitchJournal("rev2", true, switched.Traffic, back.Traffic,
            SwitchSteps.Committed, new Dictionary<string, string>(), new Dictionary<string, string>(), DateTimeOffset.UtcNow));
        var again = await ops.SwitchAsync(new SwitchRequest(switched, new SwitchOptions { TabletTypes = ["PRIMARY"] }, true, "rev2"), default);
        Assert.True(again.Ok, again.Message);
        Assert.False(again.Traffic.Primary);
        Assert.Null(await bed.Env.Registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, default));
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (customer_id, email) VALUES (1001, 'back')");
        Assert.Equal("1", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT COUNT(*) FROM `{table}` WHERE customer_id = 1000"));

        // A late copy of the first switch ("next"), after the reverse: it assumed "not switched", which is true again,
        // so only the recorded finished intent (in etcd) stops it. It answers what it answered then and changes nothing.
        var rulesBefore = await bed.Env.Store.GetRoutingRulesAsync();
        var late = await ops.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TabletTypes = ["PRIMARY"], TimeoutSeconds = 30 }, false, "next"), default);
        Assert.True(late.Repeated, late.Message);
        Assert.Contains("switch request next had already finished", late.Message);
        Assert.True(late.Traffic.Primary); // its old answer
        var rulesAfter = await bed.Env.Store.GetRoutingRulesAsync();
        Assert.Equal(rulesBefore.ModRevision, rulesAfter.ModRevision);
        Assert.Equal($"commerce.{table}", RoutingRulesPlan.Resolve(rulesAfter.Value, table));
        Assert.Null(await bed.Env.Registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, default));
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (customer_id, email) VALUES (1002, 'still source')");
        Assert.NotNull(await bed.Env.Registry.GetAsync(spec.TargetKeyspace, spec.Workflow, "next", default));
    }

    /// <summary>
    /// A journal as a host that died left it: saved under that host's lease, which is then released. It carries no
    /// workflow state (as a journal of the previous version), so only the next command on the workflow ends it.
    /// </summary>
    private static async Task SaveJournalAsDeadHostAsync(ClusterBed bed, MoveTablesCreate spec, SwitchJournal journal)
    {
        await using var lease = await SwitchLease.AcquireAsync(bed.Env.Store, [spec.SourceKeyspace, spec.TargetKeyspace], "dead-host", "test", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), default);
        await bed.Env.Registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, lease, default);
    }

    [Fact]
    public async Task Unsharded_to_sharded_splits_rows_by_the_hash_vindex_and_removes_auto_increment()
    {
        var (bed, state, table) = await RunningWorkflowAsync("shard", "customer_sharded", vschemaFor: "hash");
        await using var _ = bed;
        Assert.Equal(2, state.Streams.Count);
        var low = long.Parse((await ClusterBed.ScalarAsync("dba", 300, "vt_customer_sharded", $"SELECT COUNT(*) FROM `{table}`"))!, System.Globalization.CultureInfo.InvariantCulture);
        var high = long.Parse((await ClusterBed.ScalarAsync("dba", 400, "vt_customer_sharded", $"SELECT COUNT(*) FROM `{table}`"))!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(40, low + high);
        Assert.True(low > 0 && high > 0, $"-80 has {low}, 80- has {high}");
        Assert.Null(await ClusterBed.ScalarAsync("dba", 300, "vt_customer_sharded",
            $"SELECT EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'vt_customer_sharded' AND TABLE_NAME = '{table}' AND EXTRA LIKE '%auto_increment%'"));
        var result = await bed.Env.Operations.SwitchAsync(new SwitchRequest(state, new SwitchOptions(), false, "s"), default);
        Assert.True(result.Ok, result.Message);
        Assert.Equal(2, result.ReverseStreams.Count);
        // Writes open on both target shards after the switch (the guards are lifted there).
        foreach (var uid in new[] { 300, 400 })
        {
            await ClusterBed.ExecAsync("app", uid, "vt_customer_sharded", $"UPDATE `{table}` SET email = 'after-switch' WHERE customer_id = 1");
        }

        await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync("app", 100, "vt_commerce", $"UPDATE `{table}` SET email = 'x' WHERE customer_id = 1"));
    }
}
