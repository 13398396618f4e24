using Durable.Testing;

namespace Durable.Topology.Tests;

[Trait("Category", "Integration")]
public class TopologyAdminIntegrationTests
{
    private const string ShardedVSchema = """
        {"sharded":true,"vindexes":{"hash":{"type":"hash"}},
         "tables":{"customer":{"column_vindexes":[{"column":"customer_id","name":"hash"}]}}}
        """;

    private static async Task<TestTopology> WithKeyspacesAsync()
    {
        var t = TestTopology.Create();
        await t.Admin.CreateKeyspaceAsync("commerce");
        await t.Admin.CreateKeyspaceAsync("customer", sharded: true, shards: ["-80", "80-"]);
        return t;
    }

    [Fact]
    public async Task Keyspaces_shards_and_tablets_round_trip()
    {
        await using var t = await WithKeyspacesAsync();
        Assert.Equal(["commerce", "customer"], (await t.Admin.GetKeyspacesAsync()).Select(k => k.Name).ToArray());
        Assert.Empty(await t.Admin.CheckShardCoverageAsync("customer"));

        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-100", "commerce", "0", "PRIMARY", "127.0.0.1", 17100, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD"));
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-101", "commerce", "0", "replica", "127.0.0.1", 17101, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD"));
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone2-300", "customer", "-80", "PRIMARY", "127.0.0.1", 17300, "durable_filtered", "env:PW"));

        var tablets = await t.Admin.GetTabletsAsync();
        Assert.Equal(["zone1-0000000100", "zone1-0000000101", "zone2-0000000300"], tablets.Select(x => x.Alias).ToArray());
        Assert.Equal("vt_commerce", tablets[0].DbName);
        Assert.Equal("zone1-0000000100", (await t.Store.GetShardAsync("commerce", "0"))!.Value.PrimaryAlias);
        Assert.Equal(["zone1", "zone2"], (await t.Admin.GetCellsAsync()).Select(c => c.Name).Order().ToArray());
        Assert.Single(await t.Admin.GetTabletsAsync(keyspace: "customer"));
        Assert.Equal(2, (await t.Admin.GetTabletsAsync(cells: ["zone1"])).Count);

        var second = await Assert.ThrowsAsync<TopologyValidationException>(() => t.Admin.AddTabletAsync(
            new AddTabletRequest("zone1-102", "commerce", "0", "PRIMARY", "127.0.0.1", 17102, "u", "secret:P")));
        Assert.Contains("already has primary zone1-0000000100", second.Message);

        await Assert.ThrowsAsync<TopologyValidationException>(() => t.Admin.DeleteTabletsAsync(["zone1-100"]));
        await t.Admin.DeleteTabletsAsync(["zone1-100", "zone1-101"], allowPrimary: true);
        Assert.Null((await t.Store.GetShardAsync("commerce", "0"))!.Value.PrimaryAlias);
        Assert.Single(await t.Admin.GetTabletsAsync());

        var notEmpty = await Assert.ThrowsAsync<TopologyValidationException>(() => t.Admin.DeleteKeyspaceAsync("customer"));
        Assert.Contains("still has shards", notEmpty.Message);
        await t.Admin.DeleteKeyspaceAsync("customer", recursive: true);
        Assert.Equal(["commerce"], (await t.Admin.GetKeyspacesAsync()).Select(k => k.Name).ToArray());
        Assert.Empty(await t.Admin.GetTabletsAsync());
    }

    [Fact]
    public async Task Tablets_added_concurrently_to_one_shard_all_land()
    {
        await using var t = await WithKeyspacesAsync();
        await Task.WhenAll(Enumerable.Range(1, 4).Select(i => t.Admin.AddTabletAsync(
            new AddTabletRequest($"zone1-{600 + i}", "commerce", "0", "REPLICA", "127.0.0.1", 3306, "u", "secret:P"))));
        Assert.Equal(4, (await t.Admin.GetTabletsAsync(keyspace: "commerce")).Count);
    }

    [Fact]
    public async Task Invalid_requests_name_the_problem_and_write_nothing()
    {
        await using var t = await WithKeyspacesAsync();
        var before = await t.SnapshotAsync();

        async Task Refused(Func<Task> command, string expected)
        {
            var error = await Assert.ThrowsAnyAsync<TopologyException>(command);
            Assert.Contains(expected, error.Message);
            Assert.Equal(before, await t.SnapshotAsync());
        }

        await Refused(() => t.Admin.ApplyVSchemaAsync("customer", "{\"sharded\": true, \"vindexes\": {"), "not valid JSON");
        await Refused(() => t.Admin.ApplyVSchemaAsync("customer", """{"sharded":true,"vindexes":{"v":{"type":"hashish"}}}"""), "unknown type 'hashish'");
        await Refused(() => t.Admin.ApplyVSchemaAsync("customer", """{"sharded":true,"vindexes":{},"tables":{"t":{"column_vindexes":[{"column":"id","name":"missing"}]}}}"""), "vindex 'missing', which is not defined");
        await Refused(() => t.Admin.ApplyVSchemaAsync("commerce", ShardedVSchema), "keyspace 'commerce' is unsharded");
        await Refused(() => t.Admin.ApplyVSchemaAsync("nosuch", ShardedVSchema), "Keyspace 'nosuch' does not exist");
        await Refused(() => t.Admin.CreateKeyspaceAsync("overlap", sharded: true, shards: ["-80", "40-"]), "Overlap: shards '-80' and '40-'");
        await Refused(() => t.Admin.CreateKeyspaceAsync("gap", sharded: true, shards: ["-40", "80-"]), "Gap: keyspace ids from 0x40 to 0x80");
        await Refused(() => t.Admin.CreateShardAsync("customer", "40-c0"), "Overlap");
        await Refused(() => t.Admin.CreateShardAsync("commerce", "-80"), "unsharded");
        await Refused(() => t.Admin.CreateKeyspaceAsync("commerce"), "already exists");
        await Refused(() => t.Admin.AddTabletAsync(new AddTabletRequest("zone1-500", "ghost", "0", "REPLICA", "h", 3306, "u", "secret:P")),
            "unknown keyspace 'ghost'; known keyspaces: commerce, customer");
        await Refused(() => t.Admin.AddTabletAsync(new AddTabletRequest("zone1-500", "customer", "0", "REPLICA", "h", 3306, "u", "secret:P")),
            "unknown shard '0' of keyspace 'customer'; its shards: -80, 80-");
        await Refused(() => t.Admin.AddTabletAsync(new AddTabletRequest("zone1-500", "commerce", "0", "LEADER", "h", 3306, "u", "secret:P")),
            "Unknown tablet type 'LEADER'");
        await Refused(() => t.Admin.AddTabletAsync(new AddTabletRequest("zone1-500", "commerce", "0", "REPLICA", "h", 3306, "u", "plaintext")),
            "secret:NAME or env:NAME");
        await Refused(() => t.Admin.ApplyRoutingRulesAsync("""{"rules":[{"from_table":"t","to_tables":["ghost.t"]}]}"""), "keyspace 'ghost', which does not exist");
        await Refused(() => t.Admin.ApplyRoutingRulesAsync("{\"rules\": [}"), "not valid JSON");
        await Refused(() => t.Admin.ApplyRoutingRulesAsync(rulesJson: "{}", rulesFile: "/tmp/x"), "exactly one of --rules");
        await Refused(() => t.Admin.MountRegisterAsync("ext", "etcd2", "", "/vitess/global"), "needs --topo-type, --topo-server and --topo-root");
    }

    [Fact]
    public async Task VSchema_apply_dry_run_and_get()
    {
        await using var t = await WithKeyspacesAsync();
        Assert.Equal("{}", await t.Admin.GetVSchemaAsync("customer"));
        var dry = await t.Admin.ApplyVSchemaAsync("customer", ShardedVSchema, dryRun: true);
        Assert.False(dry.Written);
        Assert.Equal("{}", await t.Admin.GetVSchemaAsync("customer"));

        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, ShardedVSchema);
            var applied = await t.Admin.ApplyVSchemaAsync("customer", vschemaFile: file);
            Assert.True(applied.Written);
        }
        finally
        {
            File.Delete(file);
        }

        var stored = VSchemaDocument.Parse(await t.Admin.GetVSchemaAsync("customer"));
        Assert.Equal("hash", stored.Vindexes["hash"].Type);
        Assert.Equal("hash", stored.PrimaryVindex("customer").Vindex.Type);
    }

    [Fact]
    public async Task GetRoutingRules_after_ApplyRoutingRules_from_a_file_prints_the_rules_of_the_file()
    {
        await using var t = await WithKeyspacesAsync();
        const string rules = """
            {"rules":[
              {"from_table":"customer","to_tables":["commerce.customer"]},
              {"from_table":"customer.customer@replica","to_tables":["commerce.customer"]}]}
            """;
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, rules);
            var dry = await t.Admin.ApplyRoutingRulesAsync(rulesFile: file, dryRun: true);
            Assert.False(dry.Written);
            Assert.Empty(RoutingRules.Parse(await t.Admin.GetRoutingRulesAsync()).Rules);

            await t.Admin.ApplyRoutingRulesAsync(rulesFile: file);
        }
        finally
        {
            File.Delete(file);
        }

        var printed = await t.Admin.GetRoutingRulesAsync();
        Assert.Equal(RoutingRules.Parse(rules).ToJson(), RoutingRules.Parse(printed).ToJson());
        Assert.Contains("\"from_table\": \"customer.customer@replica\"", printed);
    }

    [Fact]
    public async Task Mounts_register_list_show_unregister()
    {
        await using var t = TestTopology.Create();
        await t.Admin.MountRegisterAsync("ext1", "etcd2", "http://10.0.0.1:2379", "/vitess/global");
        await t.Admin.MountRegisterAsync("ext2", "etcd2", "http://10.0.0.2:2379", "/vitess/global");
        Assert.Equal(["ext1", "ext2"], await t.Admin.MountListAsync());
        Assert.Equal("http://10.0.0.1:2379", (await t.Admin.MountShowAsync("ext1")).TopoServer);
        await Assert.ThrowsAsync<TopologyValidationException>(() => t.Admin.MountRegisterAsync("ext1", "etcd2", "x", "/y"));
        await t.Admin.MountUnregisterAsync("ext1");
        Assert.Equal(["ext2"], await t.Admin.MountListAsync());
        Assert.Contains("ext1", (await Assert.ThrowsAsync<TopologyNotFoundException>(() => t.Admin.MountShowAsync("ext1"))).Message);
    }

    [Fact]
    public async Task Denied_tables_per_tablet_type_are_added_and_removed()
    {
        await using var t = await WithKeyspacesAsync();
        await t.Admin.UpdateDeniedTablesAsync("commerce", "0", TabletType.Primary, ["customer", "corder"], remove: false);
        var shard = await t.Admin.UpdateDeniedTablesAsync("commerce", "0", TabletType.Replica, ["customer"], remove: false);
        Assert.Equal(["customer", "corder"], shard.TabletControls.Single(c => c.TabletType == "PRIMARY").DeniedTables);
        shard = await t.Admin.UpdateDeniedTablesAsync("commerce", "0", TabletType.Primary, ["customer", "corder"], remove: true);
        Assert.Equal(["REPLICA"], shard.TabletControls.Select(c => c.TabletType).ToArray());
    }

    [Fact]
    public async Task RegisterLocalCluster_registers_every_tablet_of_cluster_json_and_can_run_twice()
    {
        var cluster = LocalCluster.Current;
        await using var t = TestTopology.Create();
        var done = await TopologyAdmin.RegisterLocalClusterAsync(cluster.Path, root: t.Root);
        Assert.Contains(done, line => line.StartsWith("created keyspace customer_sharded (sharded)", StringComparison.Ordinal));
        await TopologyAdmin.RegisterLocalClusterAsync(cluster.Path, root: t.Root);

        var tablets = await t.Admin.GetTabletsAsync();
        Assert.Equal(cluster.Tablets.Count, tablets.Count);
        var replica = tablets.Single(x => x.Uid == 101);
        Assert.Equal(("commerce", "0", "REPLICA", cluster.Tablet(101).Port), (replica.Keyspace, replica.Shard, replica.Type, replica.Port));
        Assert.Equal("secret:DURABLE_FILTERED_PASSWORD", replica.PasswordRef);
        Assert.Equal(cluster.Account("filtered").User, replica.User);
        Assert.Equal(["-80", "80-"], (await t.Store.GetShardsAsync("customer_sharded")).Select(s => s.Value.Name).Order().ToArray());
        Assert.Equal(TabletRecord.MakeAlias(cluster.Cell, 300), (await t.Store.GetShardAsync("customer_sharded", "-80"))!.Value.PrimaryAlias);
        Assert.Empty(await t.Admin.CheckShardCoverageAsync("customer_sharded"));
    }

    [Fact]
    public async Task Picker_with_the_handshake_probe_picks_a_live_replica_and_reports_a_dead_one()
    {
        var cluster = LocalCluster.Current;
        await using var t = TestTopology.Create();
        await TopologyAdmin.RegisterLocalClusterAsync(cluster.Path, root: t.Root);
        var picker = new TabletPicker(t.Store, new MySqlHandshakeProbe());
        var picked = await picker.PickAsync("commerce", "0", TabletTypeSpec.Parse("in_order:REPLICA,PRIMARY"), [cluster.Cell]);
        Assert.Equal(101, picked.Uid);

        // A replica registered on a port nobody listens on is passed over, and the primary is used instead.
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone9-999", "customer", "0", "REPLICA", "127.0.0.1", 1, "u", "secret:P"));
        var error = await Assert.ThrowsAsync<NoHealthyTabletException>(() =>
            picker.PickAsync("customer", "0", TabletTypeSpec.Parse("REPLICA"), ["zone9"]));
        Assert.Contains("zone9-0000000999 REPLICA: unreachable", error.Message);
    }

    [Fact]
    public async Task No_tablet_found_lists_every_tablet_of_the_shard_with_type_cell_and_state()
    {
        // A workflow streaming from cells that hold no tablet of the type (here --cells zone9): the reference keeps only
        // the shard's primary visible, yet the operator needs to see the replica and the rdonly that exist elsewhere.
        var cluster = LocalCluster.Current;
        await using var t = TestTopology.Create();
        await TopologyAdmin.RegisterLocalClusterAsync(cluster.Path, root: t.Root);
        var picker = new TabletPicker(t.Store, new MySqlHandshakeProbe());
        var error = await Assert.ThrowsAsync<NoHealthyTabletException>(() =>
            picker.PickAsync("commerce;cells=zone9", "0", TabletTypeSpec.Parse("REPLICA"), null));
        foreach (var (uid, type) in new[] { (100, "PRIMARY"), (101, "REPLICA"), (102, "RDONLY") })
        {
            Assert.Contains($"{cluster.Cell}-{uid:D10} {type} (cell {cluster.Cell}", error.Message);
        }

        Assert.Contains("not in cells zone9", error.Message);
    }

    [Fact]
    public async Task Replication_probe_logs_in_and_reads_replica_state_on_the_real_cluster()
    {
        var cluster = LocalCluster.Current;
        var secrets = LocalCluster.ReadSecrets(cluster.File.SecretsFile);
        await using var t = TestTopology.Create();
        await TopologyAdmin.RegisterLocalClusterAsync(cluster.Path, root: t.Root);
        var probe = new MySqlReplicationProbe(secrets);
        var tablets = await t.Admin.GetTabletsAsync(keyspace: "commerce");

        var replica = await probe.ProbeAsync(tablets.Single(x => x.Uid == 101), default);
        Assert.True(replica.Reachable, replica.Problem);
        Assert.True(replica.ReplicationRunning, replica.Problem);
        Assert.NotNull(replica.LagSeconds);

        // The primary replicates from nothing: probed as if it were a replica, it must not pass.
        var primary = tablets.Single(x => x.Uid == 100);
        Assert.True((await probe.ProbeAsync(primary, default)).Reachable);
        var notReplica = await probe.ProbeAsync(primary with { Type = "REPLICA" }, default);
        Assert.False(notReplica.ReplicationRunning);
        Assert.Contains("not configured as a replica", notReplica.Problem);

        var picker = new TabletPicker(t.Store, probe);
        Assert.Equal(102, (await picker.PickAsync("commerce", "0", TabletTypeSpec.Parse("RDONLY"))).Uid);

        var denied = await probe.ProbeAsync(primary with { User = "durable_no_such_user" }, default);
        Assert.False(denied.Reachable);
        Assert.DoesNotContain(secrets["DURABLE_FILTERED_PASSWORD"], denied.Problem);

        await t.Admin.AddTabletAsync(new AddTabletRequest("zone7-700", "commerce", "0", "REPLICA", "127.0.0.1", cluster.Tablet(101).Port, "durable_filtered", "env:DURABLE_TEST_UNSET_PASSWORD"));
        var error = await Assert.ThrowsAsync<NoHealthyTabletException>(() => picker.PickAsync("commerce", "0", TabletTypeSpec.Parse("REPLICA"), ["zone7"]));
        Assert.Contains("probe failed", error.Message);
        Assert.Contains("DURABLE_TEST_UNSET_PASSWORD", error.Message);
    }
}
