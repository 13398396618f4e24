using Durable.Routing;
using Durable.Routing.Following;
using Durable.Testing;
using Durable.Topology;

namespace Durable.GatewayTopology.Tests;

[Trait("Category", "Integration")]
public sealed class BackendPickerIntegrationTests
{
    [Fact]
    public async Task Picks_the_primary_replica_and_rdonly_tablets_of_the_local_cluster_after_probing_them()
    {
        await using var t = PrivateTopology.Create();
        await t.RegisterLocalClusterAsync();
        await using var topology = new Routing.Following.GatewayTopology(t.Store);
        topology.Start();
        await topology.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        await using var picker = new BackendPicker(topology, new MySqlReplicationProbe(PrivateTopology.Secrets()), new BackendPickerOptions { Cell = "zone1" });
        await picker.StartAsync(CancellationToken.None);

        var primary = await picker.PickAsync(KeyspaceTarget.Parse("commerce"), CancellationToken.None);
        Assert.Equal((LocalCluster.Current.Primary("commerce").Port, TabletType.Primary, "vt_commerce"), (primary.Port, primary.Type, primary.DbName));
        var replica = await picker.PickAsync(KeyspaceTarget.Parse("commerce@replica"), CancellationToken.None);
        Assert.Equal((LocalCluster.Current.Tablet(101).Port, TabletType.Replica), (replica.Port, replica.Type));
        var rdonly = await picker.PickAsync(KeyspaceTarget.Parse("customer@rdonly"), CancellationToken.None);
        Assert.Equal((LocalCluster.Current.Tablet(202).Port, TabletType.Rdonly, "vt_customer"), (rdonly.Port, rdonly.Type, rdonly.DbName));

        // A sharded keyspace: statements naming no table go to its first shard; PickShardAsync picks within a shard.
        var sharded = await picker.PickAsync(KeyspaceTarget.Parse("customer_sharded"), CancellationToken.None);
        Assert.Equal((LocalCluster.Current.Primary("customer_sharded", "-80").Port, "-80"), (sharded.Port, sharded.Shard));
        var shard = await picker.PickShardAsync(KeyspaceTarget.Parse("customer_sharded@replica"), "80-", CancellationToken.None);
        Assert.Equal((LocalCluster.Current.Tablet(401).Port, TabletType.Replica), (shard.Port, shard.Type));
        var unknown = await Assert.ThrowsAsync<GatewaySqlException>(async () => await picker.PickAsync(KeyspaceTarget.Parse("nosuch"), CancellationToken.None));
        Assert.Equal(GatewaySqlException.BadDb, unknown.Code);
        Assert.Contains("'nosuch'", unknown.Message);
        Assert.Contains("commerce", unknown.Message);
    }

    [Fact]
    public async Task Passes_over_a_replica_that_does_not_replicate_or_cannot_be_reached_and_names_each_problem()
    {
        await using var server = await PrivateMariaDbServer.StartAsync(serverId: 7391);
        await using var t = PrivateTopology.Create();
        await t.Admin.CreateCellAsync("zone1");
        await t.Admin.CreateCellAsync("zone2");
        await t.Admin.CreateKeyspaceAsync("gwpick", false, ["0"]);
        var commercePrimary = LocalCluster.Current.Primary("commerce");
        var commerceReplica = LocalCluster.Current.Tablet(101);
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-9100", "gwpick", "0", "PRIMARY", commercePrimary.Host, commercePrimary.Port, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", "vt_commerce"));
        // A private server that replicates from nothing: a stopped replica, as far as serving reads goes.
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-9101", "gwpick", "0", "REPLICA", server.Host, server.Port, PrivateMariaDbServer.AdminUser, "secret:GWPICK_PRIVATE", "vt_commerce"));
        // Nothing listens on port 1.
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-9102", "gwpick", "0", "REPLICA", "127.0.0.1", 1, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", "vt_commerce"));

        var secrets = new Dictionary<string, string>(PrivateTopology.Secrets()) { ["GWPICK_PRIVATE"] = server.AdminPassword };
        await using var topology = new Routing.Following.GatewayTopology(t.Store);
        topology.Start();
        await topology.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        await using var picker = new BackendPicker(topology, new MySqlReplicationProbe(secrets, TimeSpan.FromSeconds(2)),
            new BackendPickerOptions { Cell = "zone1", ProbeInterval = TimeSpan.FromMilliseconds(300) });
        await picker.StartAsync(CancellationToken.None);

        var none = await Assert.ThrowsAsync<GatewaySqlException>(async () => await picker.PickAsync(KeyspaceTarget.Parse("gwpick@replica"), CancellationToken.None));
        Assert.Equal((GatewaySqlException.Unknown, "HY000"), (none.Code, none.SqlState));
        Assert.Contains("'gwpick'", none.Message);
        Assert.Contains("REPLICA", none.Message);
        Assert.Contains("zone1-0000009101 REPLICA (cell zone1: replication is not running", none.Message);
        Assert.Contains("zone1-0000009102 REPLICA (cell zone1: unreachable", none.Message);
        Assert.Equal("vt_commerce", (await picker.PickAsync(KeyspaceTarget.Parse("gwpick"), CancellationToken.None)).DbName);

        // A healthy replica in another cell serves when none in the gateway's cell does; the unhealthy ones are never picked.
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone2-9103", "gwpick", "0", "REPLICA", commerceReplica.Host, commerceReplica.Port, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", "vt_commerce"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (picker.ProblemOf("zone2-0000009103") is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the new replica was not found serving: {picker.ProblemOf("zone2-0000009103")}");
            await Task.Delay(50);
        }

        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("zone2-0000009103", (await picker.PickAsync(KeyspaceTarget.Parse("gwpick@replica"), CancellationToken.None)).Alias);
        }

        // A second healthy replica, in the gateway's cell, is preferred over the other cell's.
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-9104", "gwpick", "0", "REPLICA", commerceReplica.Host, commerceReplica.Port, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", "vt_commerce"));
        while (picker.ProblemOf("zone1-0000009104") is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the in-cell replica was not found serving");
            await Task.Delay(50);
        }

        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("zone1-0000009104", (await picker.PickAsync(KeyspaceTarget.Parse("gwpick@replica"), CancellationToken.None)).Alias);
        }

        // Two serving replicas in the cell: the picks are spread over both.
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-9105", "gwpick", "0", "REPLICA", commerceReplica.Host, commerceReplica.Port, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", "vt_commerce"));
        while (picker.ProblemOf("zone1-0000009105") is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the second in-cell replica was not found serving");
            await Task.Delay(50);
        }

        var picked = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            picked.Add((await picker.PickAsync(KeyspaceTarget.Parse("gwpick@replica"), CancellationToken.None)).Alias);
        }

        Assert.Equal(["zone1-0000009104", "zone1-0000009105"], picked.Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(5, picked.Count(a => a == "zone1-0000009104"));
    }
}
