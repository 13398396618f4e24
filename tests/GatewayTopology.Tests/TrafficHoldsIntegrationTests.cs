using System.Diagnostics;
using Durable.Routing;
using Durable.Routing.Following;
using Durable.Topology;

namespace Durable.GatewayTopology.Tests;

[Trait("Category", "Integration")]
public sealed class TrafficHoldsIntegrationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string ToCommerce = """{"rules": [{"from_table": "corder", "to_tables": ["commerce.corder"]}, {"from_table": "customer.corder", "to_tables": ["commerce.corder"]}]}""";
    private const string ToCustomer = """{"rules": [{"from_table": "corder", "to_tables": ["customer.corder"]}, {"from_table": "commerce.corder", "to_tables": ["customer.corder"]}]}""";

    private static readonly QualifiedTable[] SourceCorder = [new("commerce", "corder")];
    private static readonly QualifiedTable[] TargetCorder = [new("customer", "corder")];
    private static readonly QualifiedTable[] Product = [new("commerce", "product")];

    [Fact]
    public async Task Two_gateways_acknowledge_a_hold_and_release_on_commit_only_once_the_switched_rules_are_seen()
    {
        await using var t = await StartTopologyAsync();
        await using var topology = await FollowAsync(t);
        await using var a = await GatewayAsync(t, topology, "gw-a");
        await using var b = await GatewayAsync(t, topology, "gw-b");
        await using var sw = await HoldingSwitch.LockAsync(t, "customer");
        Assert.Equal(["gw-a", "gw-b"], await sw.Holds.GatewaysAsync(CancellationToken.None));
        Assert.Null(a.WaitIfHeld(SourceCorder, CancellationToken.None));

        var hold = HoldingSwitch.Hold("h1");
        await sw.AnnounceAsync(hold);
        await WaitUntil(async () => (await sw.Holds.AcknowledgedAsync("h1", CancellationToken.None)).Count == 2);
        Assert.True(a.IsHeld(SourceCorder));
        Assert.True(b.IsHeld(TargetCorder)); // both keyspaces' names are held
        Assert.False(a.IsHeld(Product));
        Assert.Null(a.WaitIfHeld(Product, CancellationToken.None));

        var waiterA = a.WaitIfHeld(SourceCorder, CancellationToken.None)!;
        var waiterB = b.WaitIfHeld(TargetCorder, CancellationToken.None)!;
        Assert.NotNull(waiterA);
        var routedAt = waiterA.ContinueWith(_ => topology.Current.Rules.Rules.Single(r => r.FromTable == "corder").ToTables.Single(), TaskScheduler.Default);
        await Task.Delay(300);
        Assert.False(waiterA.IsCompleted);
        Assert.Equal(1, a.HeldCount);

        // The end names a rules revision not written yet: nothing is released until the gateway's topology has it.
        var flipped = await sw.RulesAsync(ToCustomer);
        var future = flipped + 3;
        await sw.EndAsync(hold, TrafficHoldStates.Committed, future);
        await Task.Delay(300);
        Assert.False(waiterA.IsCompleted);
        while (topology.SeenRevision < future)
        {
            await sw.RulesAsync(ToCustomer);
        }

        await Task.WhenAll(waiterA, waiterB).WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Equal("customer.corder", await routedAt);
        Assert.False(a.IsHeld(SourceCorder));
        Assert.Empty(a.ActiveHoldIds);
        Assert.Empty(await sw.Holds.AcknowledgedAsync("h1", CancellationToken.None));
    }

    [Fact]
    public async Task A_rollback_releases_onto_the_restored_rules()
    {
        await using var t = await StartTopologyAsync();
        await using var sw = await HoldingSwitch.LockAsync(t, "customer");
        var before = await sw.RulesAsync(ToCommerce);
        await using var topology = await FollowAsync(t);
        await using var a = await GatewayAsync(t, topology, "gw-a");
        var hold = HoldingSwitch.Hold("h2");
        await sw.AnnounceAsync(hold);
        await WaitUntil(() => Task.FromResult(a.IsHeld(SourceCorder)));
        var waiter = a.WaitIfHeld(SourceCorder, CancellationToken.None)!;
        await sw.RulesAsync(ToCustomer);
        var restored = await sw.RulesAsync(ToCommerce);
        Assert.True(restored > before);

        await sw.EndAsync(hold, TrafficHoldStates.RolledBack, restored);
        await waiter.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.True(topology.Current.RulesRevision >= restored);
        Assert.Equal("commerce.corder", topology.Current.Rules.Rules.Single(r => r.FromTable == "corder").ToTables.Single());
    }

    [Fact]
    public async Task A_statement_held_past_the_window_fails_naming_the_tables_the_workflow_and_the_limit()
    {
        await using var t = await StartTopologyAsync();
        await using var topology = await FollowAsync(t);
        await using var a = await GatewayAsync(t, topology, "gw-a", new TrafficHoldLimits { Window = TimeSpan.FromMilliseconds(400) });
        await using var sw = await HoldingSwitch.LockAsync(t, "customer");
        await sw.AnnounceAsync(HoldingSwitch.Hold("h3"));
        await WaitUntil(() => Task.FromResult(a.IsHeld(SourceCorder)));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<GatewaySqlException>(() => a.WaitIfHeld(SourceCorder, CancellationToken.None)!);
        Assert.InRange(clock.ElapsedMilliseconds, 350, 3000);
        Assert.Equal((1205, "HY000"), (error.Code, error.SqlState));
        Assert.Contains("commerce.corder", error.Message);
        Assert.Contains("customer.gwhold", error.Message);
        Assert.Contains("BufferWindowSeconds", error.Message);
        Assert.Equal(0, a.HeldCount);
    }

    [Fact]
    public async Task Beyond_the_buffer_size_new_statements_fail_at_once()
    {
        await using var t = await StartTopologyAsync();
        await using var topology = await FollowAsync(t);
        await using var a = await GatewayAsync(t, topology, "gw-a", new TrafficHoldLimits { MaxHeld = 2 });
        await using var sw = await HoldingSwitch.LockAsync(t, "customer");
        var hold = HoldingSwitch.Hold("h4");
        await sw.AnnounceAsync(hold);
        await WaitUntil(() => Task.FromResult(a.IsHeld(SourceCorder)));

        var first = a.WaitIfHeld(SourceCorder, CancellationToken.None)!;
        var second = a.WaitIfHeld(TargetCorder, CancellationToken.None)!;
        var third = a.WaitIfHeld(SourceCorder, CancellationToken.None)!;
        Assert.True(third.IsFaulted);
        var error = await Assert.ThrowsAsync<GatewaySqlException>(() => third);
        Assert.Contains("2 statements", error.Message);
        Assert.Contains("BufferSize", error.Message);
        Assert.Contains("customer.gwhold", error.Message);

        await sw.EndAsync(hold, TrafficHoldStates.RolledBack, (await t.Store.GetRoutingRulesAsync()).ModRevision);
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(0, a.HeldCount);
    }

    [Fact]
    public async Task A_hold_older_than_the_switch_limit_fails_what_it_holds_and_takes_no_more_until_its_end()
    {
        await using var t = await StartTopologyAsync();
        await using var topology = await FollowAsync(t);
        await using var a = await GatewayAsync(t, topology, "gw-a", new TrafficHoldLimits { MaxSwitchDuration = TimeSpan.FromMilliseconds(600) });
        await using var sw = await HoldingSwitch.LockAsync(t, "customer");
        var hold = HoldingSwitch.Hold("h5");
        await sw.AnnounceAsync(hold);
        await WaitUntil(() => Task.FromResult(a.IsHeld(SourceCorder)));

        var held = a.WaitIfHeld(SourceCorder, CancellationToken.None)!;
        var error = await Assert.ThrowsAsync<GatewaySqlException>(() => held.WaitAsync(TimeSpan.FromSeconds(3)));
        Assert.Contains("BufferMaxSwitchSeconds", error.Message);
        Assert.Contains("customer.gwhold", error.Message);
        var late = a.WaitIfHeld(SourceCorder, CancellationToken.None)!;
        Assert.True(late.IsFaulted); // not held: fails at once, never runs on a routing that may be stale

        await sw.EndAsync(hold, TrafficHoldStates.Committed, (await t.Store.GetRoutingRulesAsync()).ModRevision);
        await WaitUntil(() => Task.FromResult(!a.IsHeld(SourceCorder)));
        Assert.Null(a.WaitIfHeld(SourceCorder, CancellationToken.None));
    }

    [Fact]
    public async Task A_gateway_started_during_a_hold_holds_and_acknowledges_before_it_is_ready()
    {
        await using var t = await StartTopologyAsync();
        await using var topology = await FollowAsync(t);
        await using var sw = await HoldingSwitch.LockAsync(t, "customer");
        var hold = HoldingSwitch.Hold("h6");
        await sw.AnnounceAsync(hold);

        await using var late = await GatewayAsync(t, topology, "gw-late");
        Assert.True(late.IsHeld(SourceCorder)); // at Ready already
        await WaitUntil(async () => (await sw.Holds.AcknowledgedAsync("h6", CancellationToken.None)).Contains("gw-late"));
        var waiter = late.WaitIfHeld(TargetCorder, CancellationToken.None)!;
        await sw.EndAsync(hold, TrafficHoldStates.Committed, (await t.Store.GetRoutingRulesAsync()).ModRevision);
        await waiter.WaitAsync(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task A_gateway_that_dies_drops_out_of_the_registrations_with_its_lease()
    {
        await using var t = await StartTopologyAsync();
        var holds = new TrafficHoldStore(t.Store);
        // A gateway killed -9: registered on a lease nobody renews any more.
        var (lease, _) = await t.Etcd.LeaseGrantAsync(TimeSpan.FromSeconds(2));
        await holds.RegisterGatewayAsync(new GatewayRegistration("gw-dead", "zone1", DateTimeOffset.UtcNow), lease, CancellationToken.None);
        await using var topology = await FollowAsync(t);
        await using (var stopped = await GatewayAsync(t, topology, "gw-stopped"))
        {
            Assert.Equal(["gw-dead", "gw-stopped"], await holds.GatewaysAsync(CancellationToken.None));
        }

        Assert.Equal(["gw-dead"], await holds.GatewaysAsync(CancellationToken.None)); // a stopped gateway leaves at once
        await WaitUntil(async () => (await holds.GatewaysAsync(CancellationToken.None)).Count == 0, TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task Asking_about_tables_no_hold_covers_allocates_nothing()
    {
        await using var t = await StartTopologyAsync();
        await using var topology = await FollowAsync(t);
        await using var a = await GatewayAsync(t, topology, "gw-a");
        IReadOnlyList<QualifiedTable> tables = [new("commerce", "product"), new("commerce", "customer")];
        var none = Measure(a, tables);

        await using var sw = await HoldingSwitch.LockAsync(t, "customer");
        await sw.AnnounceAsync(HoldingSwitch.Hold("h7"));
        await WaitUntil(() => Task.FromResult(a.IsHeld(SourceCorder)));
        var other = Measure(a, tables);

        Assert.Equal(0, none.Bytes);
        Assert.Equal(0, other.Bytes);
        output.WriteLine($"WaitIfHeld+IsHeld: {none.Nanoseconds:0.0} ns per call with no hold, {other.Nanoseconds:0.0} ns with a hold on other tables; 0 bytes allocated");
    }

    private static (long Bytes, double Nanoseconds) Measure(TrafficHolds holds, IReadOnlyList<QualifiedTable> tables)
    {
        const int calls = 1_000_000;
        for (var i = 0; i < 1000; i++)
        {
            _ = holds.WaitIfHeld(tables, CancellationToken.None);
        }

        var started = Stopwatch.GetTimestamp(); // not a Stopwatch object: it would be the only allocation measured
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++)
        {
            if (holds.WaitIfHeld(tables, CancellationToken.None) is not null || holds.IsHeld(tables))
            {
                throw new InvalidOperationException("held");
            }
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        return (allocated, Stopwatch.GetElapsedTime(started).TotalMilliseconds * 1e6 / calls / 2);
    }

    [Fact]
    public void A_bad_gateway_name_is_refused_naming_it()
    {
        var store = new TrafficHoldStore(new TopologyStore(new Topology.Etcd.EtcdConnection("http://127.0.0.1:1")));
        var error = Assert.Throws<TopologyValidationException>(() => store.GatewayKey("a/b"));
        Assert.Contains("'a/b'", error.Message);
    }

    private static async Task<PrivateTopology> StartTopologyAsync()
    {
        var t = PrivateTopology.Create();
        await t.Admin.CreateCellAsync("zone1");
        await t.Admin.CreateKeyspaceAsync("commerce", false, ["0"]);
        await t.Admin.CreateKeyspaceAsync("customer", false, ["0"]);
        return t;
    }

    private static async Task<Routing.Following.GatewayTopology> FollowAsync(PrivateTopology t)
    {
        var topology = new Routing.Following.GatewayTopology(t.Store);
        topology.Start();
        await topology.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        return topology;
    }

    private static async Task<TrafficHolds> GatewayAsync(PrivateTopology t, IGatewayTopology topology, string name, TrafficHoldLimits? limits = null)
    {
        var holds = new TrafficHolds(new TrafficHoldStore(t.Store), topology,
            new TrafficHoldsOptions { Name = name, Limits = limits ?? new TrafficHoldLimits(), RegistrationTtl = TimeSpan.FromSeconds(3) });
        await holds.StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return holds;
    }

    private static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan? within = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < (within ?? TimeSpan.FromSeconds(5)), "the condition did not hold in time");
            await Task.Delay(20);
        }
    }
}
