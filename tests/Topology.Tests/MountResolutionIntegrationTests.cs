using System.Net;
using System.Net.Sockets;

namespace Durable.Topology.Tests;

/// <summary>
/// Keyspaces of a mount are read through the mount at every call: another topology (here another root of the same
/// etcd, standing for the external cluster) or an unmanaged server's record.
/// </summary>
[Trait("Category", "Integration")]
public class MountResolutionIntegrationTests
{
    private sealed class AlwaysHealthy : ITabletHealthProbe
    {
        public Task<TabletHealth> ProbeAsync(TabletRecord tablet, CancellationToken ct) => Task.FromResult(new TabletHealth(true, true, 0));
    }

    private static async Task<TestTopology> ExternalClusterAsync()
    {
        var ext = TestTopology.Create();
        await ext.Admin.CreateKeyspaceAsync("commerce");
        await ext.Admin.AddTabletAsync(new AddTabletRequest("zone1-1100", "commerce", "0", "PRIMARY", "127.0.0.1", 18100, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD"));
        await ext.Admin.AddTabletAsync(new AddTabletRequest("zone1-1101", "commerce", "0", "REPLICA", "127.0.0.1", 18101, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD"));
        await ext.Admin.AddTabletAsync(new AddTabletRequest("zone2-1102", "commerce", "0", "REPLICA", "127.0.0.1", 18102, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD"));
        return ext;
    }

    [Fact]
    public async Task A_mounted_keyspace_its_shards_and_tablets_are_read_through_the_mount_every_time()
    {
        await using var ext = await ExternalClusterAsync();
        await using var main = TestTopology.Create();
        // Vitess spells the root as the global root and the server as HOST:PORT; both are accepted.
        var hostPort = new Uri(ext.Endpoints.Split(',')[0]).Authority;
        await main.Admin.MountRegisterAsync("ext1", "etcd2", hostPort, ext.Root + "/global", "durable_filtered", "secret:DURABLE_EXT1_FILTERED_PASSWORD");

        Assert.Null(await main.Store.GetKeyspaceAsync("commerce")); // not a keyspace of this cluster
        var keyspace = await main.Store.GetKeyspaceAsync("ext1:commerce");
        Assert.Equal("ext1:commerce", keyspace!.Value.Name);
        Assert.False(keyspace.Value.Sharded);
        Assert.Equal(["0"], (await main.Store.GetShardsAsync("ext1:commerce")).Select(s => s.Value.Name).ToArray());

        var tablets = await main.Store.GetTabletsAsync(keyspace: "ext1:commerce", shard: "0");
        Assert.Equal(["zone1-0000001100", "zone1-0000001101", "zone2-0000001102"], tablets.Select(t => t.Alias).ToArray());
        // The records name the reference they were asked by, and the mount's account (resolved by this cluster's secrets).
        Assert.All(tablets, t => Assert.Equal("ext1:commerce", t.Keyspace));
        Assert.All(tablets, t => Assert.Equal("secret:DURABLE_EXT1_FILTERED_PASSWORD", t.PasswordRef));

        // --cells: only replicas/rdonlys of those cells can be picked; the shard's primary stays visible.
        var zone2 = await main.Store.GetTabletsAsync(keyspace: "ext1:commerce;cells=zone2", shard: "0");
        Assert.Equal(["zone1-0000001100", "zone2-0000001102"], zone2.Select(t => t.Alias).ToArray());
        var picker = new TabletPicker(main.Store, new AlwaysHealthy());
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("zone2-0000001102", (await picker.PickAsync("ext1:commerce;cells=zone2", "0", TabletTypeSpec.Parse("REPLICA"))).Alias);
        }

        Assert.Equal("zone1-0000001100", (await picker.PickAsync("ext1:commerce;cells=zone2", "0", TabletTypeSpec.Parse("PRIMARY"))).Alias);
        var none = await Assert.ThrowsAsync<NoHealthyTabletException>(() => picker.PickAsync("ext1:commerce;cells=zone3", "0", TabletTypeSpec.Parse("REPLICA")));
        Assert.Contains("No REPLICA tablet of ext1:commerce;cells=zone3/0", none.Message);

        // A source tablet that moved (replaced by another) is found again on the next read.
        await ext.Admin.DeleteTabletsAsync(["zone1-1101"]);
        await ext.Admin.AddTabletAsync(new AddTabletRequest("zone1-1103", "commerce", "0", "REPLICA", "127.0.0.1", 18103, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD"));
        Assert.Equal(["zone1-0000001100", "zone1-0000001103", "zone2-0000001102"],
            (await main.Store.GetTabletsAsync(keyspace: "ext1:commerce", shard: "0")).Select(t => t.Alias).ToArray());

        // A keyspace the mounted cluster does not have, and a mount that is gone.
        Assert.Null(await main.Store.GetKeyspaceAsync("ext1:customer"));
        await main.Admin.MountUnregisterAsync("ext1");
        var gone = await Assert.ThrowsAsync<TopologyNotFoundException>(() => main.Store.GetTabletsAsync(keyspace: "ext1:commerce"));
        Assert.Contains("node doesn't exist: mount 'ext1' is not registered", gone.Message);
    }

    [Fact]
    public async Task An_unreachable_mounted_topology_gets_the_seeds_answer_and_fix()
    {
        await using var main = TestTopology.Create();
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there any more
        await main.Admin.MountRegisterAsync("ext1", "etcd2", $"127.0.0.1:{port}", "/vitess/global");
        var e = await Assert.ThrowsAsync<MountUnreachableException>(() => main.Store.GetShardsAsync("ext1:commerce"));
        Assert.StartsWith("node doesn't exist: cannot read the topology of mount 'ext1'", e.Message);
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.Contains("Ensure this host can reach the source topology server", e.Message);
        Assert.Contains("Mount register is correct", e.Message);
    }

    [Fact]
    public async Task An_unmanaged_server_is_a_one_shard_keyspace_with_one_primary()
    {
        await using var main = TestTopology.Create();
        var record = await main.Admin.RegisterUnmanagedSourceAsync("legacy", "shop", "127.0.0.1", 3307, "shop_db", "durable_filtered", "secret:LEGACY_PASSWORD");
        Assert.True(record.IsUnmanaged);
        Assert.Equal(["legacy"], await main.Admin.MountListAsync());
        Assert.Equal("127.0.0.1", (await main.Admin.MountShowAsync("legacy")).Host);

        Assert.False((await main.Store.GetKeyspaceAsync("legacy:shop"))!.Value.Sharded);
        Assert.Null(await main.Store.GetKeyspaceAsync("legacy:other"));
        var shard = Assert.Single(await main.Store.GetShardsAsync("legacy:shop"));
        Assert.Equal("0", shard.Value.Name);
        var tablet = Assert.Single(await main.Store.GetTabletsAsync(keyspace: "legacy:shop", shard: "0"));
        Assert.Equal((TabletType.Primary, "127.0.0.1", 3307, "shop_db", "durable_filtered", "secret:LEGACY_PASSWORD"),
            (tablet.TabletType, tablet.Host, tablet.Port, tablet.DbName, tablet.User, tablet.PasswordRef));
        Assert.Null(await main.Store.GetVSchemaJsonAsync("legacy:shop"));

        // Names are unique across mount types; bad input names the bad value; unregister works for either type.
        Assert.Contains("already registered", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.MountRegisterAsync("legacy", "etcd2", "127.0.0.1:1", "/x"))).Message);
        Assert.Contains("port 70000 is invalid", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedSourceAsync("l2", "shop", "127.0.0.1", 70000, "shop_db", "u", "secret:P"))).Message);
        var pasted = await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedSourceAsync("l2", "shop", "127.0.0.1", 3306, "shop_db", "u", "hunter2!"));
        Assert.DoesNotContain("hunter2", pasted.Message);
        Assert.Contains("secret:NAME or env:NAME", pasted.Message);
        Assert.Contains("--user and --credentials-ref", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.MountRegisterAsync("ext9", "etcd2", "127.0.0.1:1", "/x", "durable_filtered", null))).Message);
        await main.Admin.MountUnregisterAsync("legacy");
        Assert.Empty(await main.Admin.MountListAsync());
    }
}
