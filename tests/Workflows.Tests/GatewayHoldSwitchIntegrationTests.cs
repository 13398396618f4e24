using System.Diagnostics;
using Durable.Routing;
using Durable.Routing.Following;
using Durable.Topology;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// The write switch and a live gateway side of the cutover hold (<see cref="TrafficHolds"/> over a followed
/// <see cref="GatewayTopology"/>) on the test's own topology root: the switch waits for the gateway's acknowledgement
/// before its guards, at most its bound for a registered gateway that never answers, and the held statement is released
/// only onto the switched routing after the commit, or onto the restored one after a recovery rolled a switch back.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GatewayHoldSwitchIntegrationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task A_switch_holds_the_gateways_waits_its_bound_for_a_silent_one_and_releases_onto_the_new_routing_and_recovery_ends_a_dead_switchs_hold()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("gwhold", "customer");
        await using var _ = bed;
        var spec = state.Spec;
        var ops = bed.Env.Operations;
        var holdStore = new TrafficHoldStore(bed.Env.Store);
        await using var topology = new Routing.Following.GatewayTopology(bed.Env.Store);
        topology.Start();
        await topology.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        await using var gateway = new TrafficHolds(holdStore, topology, new TrafficHoldsOptions { Name = "gw-live", RegistrationTtl = TimeSpan.FromSeconds(3) });
        await gateway.StartAsync(CancellationToken.None);
        QualifiedTable[] onSource = [new("commerce", table)];

        // A gateway that registered and never answers (alive, but its watch is stuck): its lease is kept alive.
        var (silentLease, ttl) = await bed.Env.Etcd.LeaseGrantAsync(TimeSpan.FromSeconds(3));
        var silent = new LeaseKeeper(bed.Env.Etcd, silentLease, ttl);
        await holdStore.RegisterGatewayAsync(new GatewayRegistration("gw-silent", "zone1", DateTimeOffset.UtcNow), silentLease, CancellationToken.None);

        // 1. A switch whose host died after announcing its hold: the recovery sweep rolls it back and ends the hold,
        //    and the statement held meanwhile is released onto the restored rules (the table still in commerce).
        await using (var dead = await SwitchLease.AcquireAsync(bed.Env.Store, [spec.SourceKeyspace, spec.TargetKeyspace], "dead-host", "test", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), default))
        {
            var journal = new SwitchJournal("crashed", false, state.Traffic, state.Traffic with { Primary = true }, SwitchSteps.Intent,
                new Dictionary<string, string>(), new Dictionary<string, string>(), DateTimeOffset.UtcNow) { State = state, Holder = "dead-host", HoldId = "crashed" };
            var announcer = new GatewayHolds(bed.Env.Store, bed.Env.Registry, TimeSpan.FromMilliseconds(300), NullLogger.Instance);
            var hold = GatewayHolds.HoldFor(spec, state.Tables, "crashed", "dead-host");
            await announcer.AnnounceAsync(hold, [bed.Env.Registry.JournalOp(spec.TargetKeyspace, spec.Workflow, journal)], dead, default);
            var answer = await announcer.WaitForAcknowledgementsAsync(hold, default);
            Assert.Equal(["gw-live"], answer.Acknowledged);
            Assert.Equal(["gw-silent"], answer.Silent);
        }

        Assert.True(gateway.IsHeld(onSource));
        var heldAcrossRollback = Released(gateway, topology, onSource, table);
        Assert.Equal(1, await ops.Recovery.SweepAsync(default));
        Assert.Equal($"commerce.{table}", await heldAcrossRollback.WaitAsync(TimeSpan.FromSeconds(5)));
        var rolledBack = (await holdStore.GetHoldAsync(spec.TargetKeyspace, spec.Workflow, default))!.Value;
        Assert.Equal(("crashed", TrafficHoldStates.RolledBack), (rolledBack.Id, rolledBack.State));
        Assert.Equal((await bed.Env.Store.GetRoutingRulesAsync()).ModRevision, rolledBack.RulesRevision);
        Assert.False(gateway.IsHeld(onSource));

        // 2. SwitchTraffic: the live gateway acknowledges, the silent one is waited for its bound (2 s) and named; the
        //    statement held from the announce runs after the commit, on the switched routing.
        var heldAcrossSwitch = WhenHeldThenReleased(gateway, topology, onSource, table);
        var clock = Stopwatch.StartNew();
        var forward = await ops.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TabletTypes = ["PRIMARY"], TimeoutSeconds = 30 }, false, "fwd"), default);
        clock.Stop();
        Assert.True(forward.Ok, forward.Message);
        Assert.Contains("1 gateway(s) holding (no answer within the bound from gw-silent: the write guards protect their clients)", forward.Steps);
        Assert.InRange(clock.Elapsed.TotalSeconds, ops.Settings.GatewayAckBound.TotalSeconds, ops.Settings.GatewayAckBound.TotalSeconds + 20);
        Assert.Equal($"customer.{table}", await heldAcrossSwitch.WaitAsync(TimeSpan.FromSeconds(5)));
        var committed = (await holdStore.GetHoldAsync(spec.TargetKeyspace, spec.Workflow, default))!.Value;
        Assert.Equal(("fwd", TrafficHoldStates.Committed), (committed.Id, committed.State));
        Assert.Null(await bed.Env.Registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, default));
        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{table}` (customer_id, email) VALUES (2000, 'after the switch')");

        // 3. The silent gateway is gone (its lease lapsed with it): ReverseTraffic waits for the live one only.
        await silent.DisposeAsync();
        Assert.Equal(["gw-live"], await holdStore.GatewaysAsync(default));
        var switched = state with { Traffic = forward.Traffic, Streams = forward.Streams, ReverseStreams = forward.ReverseStreams };
        var heldAcrossReverse = WhenHeldThenReleased(gateway, topology, [new("customer", table)], table);
        clock.Restart();
        var back = await ops.SwitchAsync(new SwitchRequest(switched, new SwitchOptions { TabletTypes = ["PRIMARY"], TimeoutSeconds = 30 }, true, "back"), default);
        clock.Stop();
        Assert.True(back.Ok, back.Message);
        output.WriteLine($"SwitchTraffic (one silent gateway) {forward.Steps}; ReverseTraffic (one live gateway) in {clock.ElapsedMilliseconds} ms: {back.Steps}");
        Assert.Contains("1 gateway(s) holding", back.Steps);
        Assert.DoesNotContain("no answer", back.Steps);
        Assert.Equal($"commerce.{table}", await heldAcrossReverse.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(gateway.IsHeld(onSource));
    }

    /// <summary>Holds a statement now; completes with where the table routes once it is released.</summary>
    private static async Task<string> Released(TrafficHolds gateway, IGatewayTopology topology, QualifiedTable[] tables, string table)
    {
        var held = gateway.WaitIfHeld(tables, CancellationToken.None) ?? throw new InvalidOperationException("nothing held");
        await held;
        return RoutingRulesPlan.Resolve(topology.Current.Rules, table) ?? "(no rule)";
    }

    /// <summary>Waits for the hold to begin, holds a statement, and completes with where the table routes once it is released.</summary>
    private static async Task<string> WhenHeldThenReleased(TrafficHolds gateway, IGatewayTopology topology, QualifiedTable[] tables, string table)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!gateway.IsHeld(tables))
        {
            Assert.True(DateTime.UtcNow < deadline, "the switch never held the gateway");
            await Task.Delay(5);
        }

        return await Released(gateway, topology, tables, table);
    }
}
