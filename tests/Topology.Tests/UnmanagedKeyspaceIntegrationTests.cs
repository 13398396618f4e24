namespace Durable.Topology.Tests;

/// <summary>
/// An unmanaged server adopted as an ordinary keyspace of this topology (RegisterExternalSource --as-keyspace): one
/// unsharded keyspace, shard 0 with the server as its PRIMARY tablet and the server's own account; bad input and
/// conflicts write nothing.
/// </summary>
[Trait("Category", "Integration")]
public class UnmanagedKeyspaceIntegrationTests
{
    [Fact]
    public async Task An_adopted_server_is_a_keyspace_whose_one_tablet_is_primary_with_its_own_account()
    {
        await using var main = TestTopology.Create();
        await main.Admin.CreateKeyspaceAsync("commerce");
        await main.Admin.AddTabletAsync(new AddTabletRequest("zone1-100", "commerce", "0", "PRIMARY", "127.0.0.1", 17100, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD"));

        var tablet = await main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop", "10.0.0.5", 3306, "shop_db", "legacy_engine", "secret:LEGACY_PASSWORD"));
        // The only cell and the next free uid.
        Assert.Equal("zone1-0000000101", tablet.Alias);
        var keyspace = (await main.Store.GetKeyspaceAsync("shop"))!.Value;
        Assert.False(keyspace.Sharded);
        Assert.Equal("_vt", keyspace.SidecarDbName);
        var shard = Assert.Single(await main.Store.GetShardsAsync("shop")).Value;
        Assert.Equal(("0", "zone1-0000000101", true), (shard.Name, shard.PrimaryAlias, shard.IsPrimaryServing));
        var stored = Assert.Single(await main.Store.GetTabletsAsync(keyspace: "shop", shard: "0"));
        Assert.Equal((TabletType.Primary, "10.0.0.5", 3306, "shop_db", "legacy_engine", "secret:LEGACY_PASSWORD"),
            (stored.TabletType, stored.Host, stored.Port, stored.DbName, stored.User, stored.PasswordRef));
        // It is listed with this topology's primaries (the Streamer scans those for sidecars with streams).
        Assert.Contains(await main.Store.GetTabletsAsync(), t => t.Alias == "zone1-0000000101" && t.TabletType == TabletType.Primary);

        // Taken names and bad input: refused naming the value, nothing written.
        var before = await main.SnapshotAsync();
        Assert.Contains("Keyspace 'shop' already exists", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop", "10.0.0.6", 3306, "shop_db", "u", "secret:P")))).Message);
        Assert.Contains("port 0 is invalid", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop2", "10.0.0.6", 0, "shop_db", "u", "secret:P")))).Message);
        var pasted = await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop2", "10.0.0.6", 3306, "shop_db", "u", "hunter2!")));
        Assert.DoesNotContain("hunter2", pasted.Message);
        Assert.Contains("secret:NAME or env:NAME", pasted.Message);
        Assert.Contains("tablet alias zone2-7 is in cell 'zone2' but --cell is 'zone1'", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop2", "10.0.0.6", 3306, "shop_db", "u", "secret:P", "zone1", "zone2-7")))).Message);
        Assert.Contains("Invalid keyspace name 'shop-2'", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop-2", "10.0.0.6", 3306, "shop_db", "u", "secret:P")))).Message);
        Assert.Equal(before, await main.SnapshotAsync());

        // An explicit cell (created) and alias.
        var other = await main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop2", "10.0.0.6", 3306, "shop_db", "u", "env:P", "zone2", "zone2-7"));
        Assert.Equal("zone2-0000000007", other.Alias);
        Assert.Contains(await main.Store.GetCellsAsync(), c => c.Name == "zone2");
        // Two cells now: a registration without --cell must say which.
        Assert.Contains("give --cell; this topology has cells zone1, zone2", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest("shop3", "10.0.0.6", 3306, "shop_db", "u", "secret:P")))).Message);
    }

    [Fact]
    public async Task An_unmanaged_mount_becomes_a_keyspace_with_its_address_and_account_and_a_vitess_mount_cannot()
    {
        await using var main = TestTopology.Create();
        await main.Admin.CreateCellAsync("zone1");
        await main.Admin.RegisterUnmanagedSourceAsync("legacy", "shop", "10.0.0.5", 3307, "shop_db", "legacy_engine", "secret:LEGACY_PASSWORD");
        var tablet = await main.Admin.RegisterUnmanagedKeyspaceFromMountAsync("legacy");
        Assert.Equal(("shop", "0", "PRIMARY", "10.0.0.5", 3307, "shop_db", "legacy_engine", "secret:LEGACY_PASSWORD"),
            (tablet.Keyspace, tablet.Shard, tablet.Type, tablet.Host, tablet.Port, tablet.DbName, tablet.User, tablet.PasswordRef));
        Assert.Equal("zone1-0000000001", tablet.Alias);
        // The mount stays (workflows reading through it keep working) and still serves legacy:shop.
        Assert.Equal(["legacy"], await main.Admin.MountListAsync());
        Assert.NotNull(await main.Store.GetKeyspaceAsync("legacy:shop"));
        Assert.NotNull(await main.Store.GetKeyspaceAsync("shop"));

        var renamed = await main.Admin.RegisterUnmanagedKeyspaceFromMountAsync("legacy", keyspace: "shop_adopted");
        Assert.Equal("shop_adopted", renamed.Keyspace);

        await main.Admin.MountRegisterAsync("ext1", "etcd2", "127.0.0.1:1", "/vitess/global");
        Assert.Contains("Mount 'ext1' is a mounted vitess cluster", (await Assert.ThrowsAsync<TopologyValidationException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceFromMountAsync("ext1"))).Message);
        Assert.Contains("Mount 'nope' is not registered", (await Assert.ThrowsAsync<TopologyNotFoundException>(() =>
            main.Admin.RegisterUnmanagedKeyspaceFromMountAsync("nope"))).Message);
    }
}
