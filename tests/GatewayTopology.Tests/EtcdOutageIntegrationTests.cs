using System.Diagnostics;
using Durable.Routing;
using Durable.Routing.Following;
using Durable.Topology;
using Durable.Topology.Etcd;
using Durable.Topology.Tests;

namespace Durable.GatewayTopology.Tests;

/// <summary>
/// etcd killed under a following gateway (an etcd of the test's own): the last snapshot stays in force, a held
/// statement is never released on an end the gateway could not see (it fails at its window), and once etcd is back
/// the watches reconnect and the gateway follows the rules and ends holds again.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdOutageIntegrationTests
{
    private const string ToCommerce = """{"rules": [{"from_table": "corder", "to_tables": ["commerce.corder"]}]}""";
    private const string ToCustomer = """{"rules": [{"from_table": "corder", "to_tables": ["customer.corder"]}]}""";

    [Fact]
    public async Task While_etcd_is_down_the_last_snapshot_stays_and_nothing_is_released_and_after_it_the_gateway_follows_again()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        using var connection = new EtcdConnection(etcd.Endpoint);
        var store = new TopologyStore(connection, new TopologyOptions { Root = "/gwoutage" });
        var admin = new TopologyAdmin(store);
        await admin.CreateCellAsync("zone1");
        await admin.CreateKeyspaceAsync("commerce", false, ["0"]);
        await admin.CreateKeyspaceAsync("customer", false, ["0"]);
        await admin.ApplyRoutingRulesAsync(ToCommerce);

        await using var topology = new Routing.Following.GatewayTopology(store);
        topology.Start();
        await topology.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        await using var gateway = new TrafficHolds(new TrafficHoldStore(store), topology,
            new TrafficHoldsOptions { Name = "gw-a", Limits = new TrafficHoldLimits { Window = TimeSpan.FromSeconds(2) }, RegistrationTtl = TimeSpan.FromSeconds(3) });
        await gateway.StartAsync(CancellationToken.None);
        var holds = new TrafficHoldStore(store);
        var hold = new TrafficHoldRecord("outage", "gwhold", "commerce", "customer", ["corder"], TrafficHoldStates.Holding, DateTimeOffset.UtcNow, "test");
        await store.CommitAsync([], holds.AnnounceOps(hold), null, "announce");
        QualifiedTable[] corder = [new("commerce", "corder")];
        await Until(() => gateway.IsHeld(corder), TimeSpan.FromSeconds(5));

        // etcd dies: the snapshot stays, and the held statement fails at its window instead of being released.
        var held = gateway.WaitIfHeld(corder, CancellationToken.None)!;
        await etcd.KillAsync();
        var error = await Assert.ThrowsAsync<GatewaySqlException>(() => held.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("BufferWindowSeconds", error.Message);
        Assert.Equal("commerce.corder", topology.Current.Rules.Rules.Single().ToTables.Single());
        Assert.True(gateway.IsHeld(corder));

        // etcd is back: the switch flips the rules and ends its hold; the gateway reconnects, follows and releases.
        await etcd.RestartAsync();
        var again = gateway.WaitIfHeld(corder, CancellationToken.None)!;
        // The test's own client may still be in its reconnect backoff: its writes are retried, the gateway's are not helped.
        var flipped = await RetryAsync(() => store.UpdateRoutingRulesAsync(_ => RoutingRules.Parse(ToCustomer)));
        await RetryAsync(() => store.CommitAsync([], holds.EndOps(hold, TrafficHoldStates.Committed, flipped.ModRevision), null, "end"));
        await again.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("customer.corder", topology.Current.Rules.Rules.Single().ToTables.Single());
        Assert.False(gateway.IsHeld(corder));
        await Until(async () => (await holds.GatewaysAsync(CancellationToken.None)).Contains("gw-a"), TimeSpan.FromSeconds(20));
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> write)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await write();
            }
            catch (EtcdUnavailableException) when (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(200);
            }
        }
    }

    private static Task Until(Func<bool> condition, TimeSpan within) => Until(() => Task.FromResult(condition()), within);

    private static async Task Until(Func<Task<bool>> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < within, "the condition did not hold in time");
            await Task.Delay(50);
        }
    }
}
