using System.Diagnostics;
using Durable.Routing.Following;
using Durable.Topology;

namespace Durable.GatewayTopology.Tests;

[Trait("Category", "Integration")]
public sealed class GatewayTopologyIntegrationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string CommerceVSchema = """{"sharded": false, "tables": {"product": {}, "customer": {}, "corder": {}}}""";

    [Fact]
    public async Task Loads_rules_keyspaces_and_tablets_before_it_is_ready()
    {
        await using var t = PrivateTopology.Create();
        await t.RegisterLocalClusterAsync();
        await t.Admin.ApplyVSchemaAsync("commerce", CommerceVSchema);
        var rules = await t.Admin.ApplyRoutingRulesAsync("""{"rules": [{"from_table": "customer", "to_tables": ["commerce.customer"]}]}""");

        await using var topology = new Routing.Following.GatewayTopology(t.Store);
        Assert.Throws<InvalidOperationException>(() => topology.Current);
        topology.Start();
        await topology.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        var snapshot = topology.Current;
        Assert.Equal(rules.Revision, snapshot.RulesRevision);
        Assert.Equal("commerce.customer", Assert.Single(snapshot.Rules.Rules).ToTables.Single());
        var commerce = snapshot.Keyspaces["commerce"];
        Assert.Equal("vt_commerce", commerce.DbName);
        Assert.False(commerce.Sharded);
        Assert.Equal(["corder", "customer", "product"], commerce.VSchemaTables.Order(StringComparer.Ordinal));
        Assert.True(snapshot.Keyspaces["customer_sharded"].Sharded);
        Assert.Empty(snapshot.Keyspaces["customer"].VSchemaTables);
        Assert.Equal(LocalClusterTabletCount(), topology.Tablets.Count);
        Assert.True(topology.SeenRevision >= rules.Revision);
    }

    [Fact]
    public async Task A_routing_rule_change_reaches_it_within_a_second_and_WaitForRevision_follows()
    {
        await using var t = PrivateTopology.Create();
        await t.RegisterLocalClusterAsync();
        await using var topology = new Routing.Following.GatewayTopology(t.Store);
        topology.Start();
        await topology.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        var before = topology.Current;
        Assert.Empty(before.Rules.Rules);

        var clock = Stopwatch.StartNew();
        var written = await t.Admin.ApplyRoutingRulesAsync("""{"rules": [{"from_table": "corder", "to_tables": ["customer.corder"]}]}""");
        var reached = topology.WaitForRevisionAsync(written.Revision, CancellationToken.None);
        await reached.WaitAsync(TimeSpan.FromSeconds(1));
        clock.Stop();

        Assert.Equal(written.Revision, topology.Current.RulesRevision);
        Assert.Equal("customer.corder", topology.Current.Rules.Rules.Single().ToTables.Single());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the rule took {clock.ElapsedMilliseconds} ms to arrive");
        output.WriteLine($"rule written and seen by the gateway topology in {clock.Elapsed.TotalMilliseconds:0.0} ms");
        Assert.Empty(before.Rules.Rules); // the old snapshot is never mutated

        // A waiter for a revision not written yet waits, and is released by the write that reaches it.
        var later = topology.WaitForRevisionAsync(written.Revision + 1000, CancellationToken.None);
        await Task.Delay(200);
        Assert.False(later.IsCompleted);

        // Keyspace and tablet changes are followed too.
        await t.Admin.CreateKeyspaceAsync("gwtopo_extra", false, ["0"]);
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-9901", "gwtopo_extra", "0", "PRIMARY", "127.0.0.1", 1, "u", "secret:NONE", "vt_gwtopo_extra_db"));
        await WaitUntil(() => topology.Tablets.Any(x => x.Alias == "zone1-0000009901") && topology.Current.Keyspaces.ContainsKey("gwtopo_extra"));
        Assert.Equal("vt_gwtopo_extra_db", topology.Current.Keyspaces["gwtopo_extra"].DbName);
        Assert.Equal(written.Revision, topology.Current.RulesRevision);

        using var cancel = new CancellationTokenSource(100);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => topology.WaitForRevisionAsync(long.MaxValue, cancel.Token));
    }

    private static int LocalClusterTabletCount() => Testing.LocalCluster.Current.Tablets.Count;

    private static async Task WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the change did not arrive within 5 s");
            await Task.Delay(20);
        }
    }
}
