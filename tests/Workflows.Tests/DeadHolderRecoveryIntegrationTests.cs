using Durable.MySql;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.Workflows.Tests;

/// <summary>
/// A switch whose holder died with the guards armed, and no host left to deliver its activity again: the always-on
/// process's recovery sweep (as the Streamer runs it) undoes it once the holder's lease lapses, writes are accepted
/// again within the 30 s bound, and the intent's recorded answer states how long writes were refused, crash included.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DeadHolderRecoveryIntegrationTests
{
    [Fact]
    public async Task A_switch_left_with_guards_armed_by_a_dead_holder_is_undone_by_a_live_process_within_the_bound()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("dead", "customer");
        await using var _ = bed;
        var spec = state.Spec;
        var ops = bed.Env.Operations;

        // What a holder killed right after arming the guards leaves: its locks on a lease nobody renews any more (as
        // the dead process's), its journal (with the window's start on the source primary's clock) and the source guards.
        var (leaseId, ttl) = await bed.Env.Etcd.LeaseGrantAsync(ops.Settings.SwitchLeaseTtl);
        foreach (var ks in new[] { spec.SourceKeyspace, spec.TargetKeyspace })
        {
            var taken = await bed.Env.Etcd.TxnAsync([EtcdCompare.Absent(bed.Env.Store.LockKey(ks))],
                [EtcdOp.Put(bed.Env.Store.LockKey(ks), TopologyJson.Serialize(new LockRecord("dead-host", "SwitchTraffic", DateTimeOffset.UtcNow, ttl, leaseId)), leaseId)]);
            Assert.True(taken.Succeeded);
        }

        double opened;
        await using (var c = await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 100, "vt_commerce")))
        {
            opened = double.Parse((await c.QueryScalarAsync("SELECT UNIX_TIMESTAMP(NOW(6))"))!, System.Globalization.CultureInfo.InvariantCulture);
            await ops.Guards.InstallAsync(c, "vt_commerce", spec.TargetKeyspace, spec.Workflow, spec.SourceKeyspace, GuardSide.Source, [table], TimeSpan.FromSeconds(5), default);
        }

        var refused = System.Diagnostics.Stopwatch.StartNew();
        await bed.Env.Etcd.TxnAsync([], [EtcdOp.Put(bed.Env.Registry.JournalKey(spec.TargetKeyspace, spec.Workflow), TopologyJson.Serialize(
            new SwitchJournal("dead", false, state.Traffic, state.Traffic with { Primary = true }, SwitchSteps.GuardsArmed,
                new Dictionary<string, string>(), new Dictionary<string, string>(), DateTimeOffset.UtcNow)
            { State = state with { Audit = [], Commands = [] }, Holder = "dead-host", WindowOpenedAt = opened }))]);
        await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (email) VALUES ('refused')"));

        await using var sweep = RecoverySweep.Start(bed);
        while (true)
        {
            try
            {
                await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (email) VALUES ('accepted again')");
                break;
            }
            catch (MySqlException e) when (RoutedWriter.IsGuard(e))
            {
                Assert.True(refused.Elapsed < TimeSpan.FromSeconds(30), $"writes were still refused {refused.Elapsed.TotalSeconds:0.0} s after the holder died");
                await Task.Delay(100);
            }
        }

        var window = refused.Elapsed;
        // Writes open before the journal ends (its end, with the recorded answer, is the undo's last step).
        var ended = DateTime.UtcNow.AddSeconds(10);
        while (await bed.Env.Registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, default) is not null)
        {
            Assert.True(DateTime.UtcNow < ended, "the journal was not ended after the undo");
            await Task.Delay(100);
        }

        var answer = await bed.Env.Registry.GetAsync(spec.TargetKeyspace, spec.Workflow, "dead", default);
        Assert.NotNull(answer);
        Assert.False(answer.Result.Ok);
        Assert.True(answer.Result.WindowMs >= window.TotalMilliseconds - 500,
            $"the recorded window ({answer.Result.WindowMs} ms) must cover the {window.TotalMilliseconds:0} ms the application saw writes refused: {answer.Result.Message}");
        Assert.Contains("Traffic is unchanged: Reads Not Switched. Writes Not Switched", answer.Result.Message);
        Assert.Equal($"commerce.{table}", RoutingRulesPlan.Resolve((await bed.Env.Store.GetRoutingRulesAsync()).Value, table));
    }
}
