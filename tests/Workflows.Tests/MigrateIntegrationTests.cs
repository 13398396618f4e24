using System.Globalization;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Testing;
using Durable.Topology;
using Durable.VDiff;

namespace Durable.Workflows.Tests;

/// <summary>
/// Migrate on the real clusters: the external cluster (cluster.sh up --with-external: its own etcd and tablets
/// 1100/1101 with the seeds' commerce rows) mounted into a test topology root of the main cluster, copied into target
/// keyspaces of the test's own (own databases on the customer / customer_sharded primaries), with the real engine and
/// an in-process Streamer. The external rows the tests write are their own (marked) and removed afterwards.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MigrateIntegrationTests
{
    private const string Workflow = "import";
    private static readonly string[] SeedTables = ["corder", "customer", "product"];

    // ---------------- the test's corner of the two clusters ----------------

    private sealed class MigrateBed : IAsyncDisposable
    {
        private readonly List<(int Uid, string Db)> _databases = [];
        private readonly Random _uids = new();

        private MigrateBed(ClusterBed bed)
        {
            Bed = bed;
            Admin = new TopologyAdmin(bed.Env.Store);
        }

        public ClusterBed Bed { get; }

        public TopologyAdmin Admin { get; }

        public string Marker => "mig_" + Bed.Suffix;

        public static async Task<MigrateBed> StartAsync(string name)
        {
            // The mount's credentials reference resolves through the main cluster's secrets file, as on the host.
            var bed = new ClusterBed(name, new MoveTablesSettings { Secrets = CredentialReference.LoadSecretsFile(LocalCluster.Current.File.SecretsFile) });
            await bed.InitAsync();
            bed.StartStreamer();
            await bed.StartWorkerAsync();
            return new MigrateBed(bed);
        }

        public async Task MountExternalAsync(string name = "ext1")
        {
            var ext = ExternalCluster.Current;
            await Admin.MountRegisterAsync(name, "etcd2", ext.EtcdEndpoints.Split(',')[0], ext.TopologyRoot + "/global", "durable_filtered", "secret:DURABLE_EXT1_FILTERED_PASSWORD");
        }

        /// <summary>A target keyspace of the test's own: its own database on the given primaries (one per shard).</summary>
        public async Task<string> TargetKeyspaceAsync(string prefix, params (string Shard, int PrimaryUid)[] shards)
        {
            var keyspace = $"{prefix}_{Bed.Suffix}";
            var sharded = shards.Length > 1;
            await Admin.CreateKeyspaceAsync(keyspace, sharded, sharded ? [.. shards.Select(s => s.Shard)] : null);
            foreach (var (shard, uid) in shards)
            {
                var t = LocalCluster.Current.Tablet(uid);
                await Admin.AddTabletAsync(new AddTabletRequest($"zone1-{_uids.Next(20_000, 90_000)}", keyspace, shard, "PRIMARY", t.Host, t.Port,
                    "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", $"vt_{keyspace}"));
                await ClusterBed.ExecAsync("dba", uid, "mysql", $"CREATE DATABASE `vt_{keyspace}`");
                _databases.Add((uid, $"vt_{keyspace}"));
            }

            return keyspace;
        }

        /// <summary>The wake-up intervals of workflows this bed creates (null: the defaults).</summary>
        public WorkflowTimings? Timings { get; set; }

        public async Task<string> CreateAsync(MoveTablesCreate spec)
        {
            spec.Validate();
            return await Bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec, Timings = Timings }, new StartOrchestrationOptions(spec.InstanceId));
        }

        public async Task<WorkflowState> WaitAsync(string id, Func<WorkflowState, bool> until, string what, int seconds = 120)
        {
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            WorkflowState? last = null;
            while (DateTime.UtcNow < deadline)
            {
                var m = await Bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true);
                last = m?.SerializedCustomStatus is null ? m?.ReadOutputAs<WorkflowState>() : m.ReadCustomStatusAs<WorkflowState>();
                if (last is not null && until(last))
                {
                    return last;
                }

                await Task.Delay(200);
            }

            throw new TimeoutException($"Workflow {id} never reached: {what}. Last phase {last?.Phase}, error {last?.LastError}, " +
                                       $"audit {string.Join(" | ", last?.Audit.Select(a => $"{a.Action}:{a.Outcome}:{a.Detail}") ?? [])}");
        }

        public async Task<WorkflowState> CommandAsync(string id, string action, CleanupOptions? cleanup = null)
        {
            var requestId = Guid.NewGuid().ToString("N");
            await Bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = action, RequestId = requestId, RequestedBy = "test", Cleanup = cleanup });
            return await WaitAsync(id, s => s.Commands.Any(c => c.RequestId == requestId), action + " answered");
        }

        /// <summary>VDiff of the workflow through the VDiff service (source side: the requested tablet types); the report.</summary>
        public async Task<VDiffReport> VDiffAsync(string keyspace, string tabletTypes)
        {
            var service = new VDiffService(Bed.Env.Engine);
            var (uuid, shards) = await service.CreateAsync(Workflow, keyspace, new VDiffOptions { TabletTypes = tabletTypes, ChunkRows = 1000 });
            foreach (var shard in shards)
            {
                var deadline = DateTime.UtcNow.AddMinutes(3);
                while (await service.RunShardAsync(uuid, Workflow, keyspace, shard, TimeSpan.FromSeconds(20), default) != VDiffStates.Completed)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"VDiff {uuid} on {keyspace}/{shard} did not complete");
                }
            }

            return (await service.ShowAsync(Workflow, keyspace, uuid, verbose: true))!;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await ExternalExecAsync($"DELETE FROM corder WHERE sku LIKE '{Marker}%'", $"DELETE FROM customer WHERE email LIKE '{Marker}%'");
            }
            finally
            {
                foreach (var (uid, db) in _databases)
                {
                    await ClusterBed.ExecAsync("dba", uid, "mysql", $"DROP DATABASE IF EXISTS `{db}`");
                }

                await Bed.DisposeAsync();
            }
        }
    }

    private static MySqlConnectionOptions External(string? db = "vt_commerce")
    {
        var ext = ExternalCluster.Current;
        var t = ext.Primary("commerce");
        var (user, password) = ext.Account("dba");
        return new MySqlConnectionOptions { Host = t.Host, Port = t.Port, User = user, Password = password, Database = db, SslMode = SslMode.Disabled };
    }

    private static async Task ExternalExecAsync(params string[] sql)
    {
        await using var c = await MySqlConnection.OpenAsync(External());
        foreach (var s in sql)
        {
            await c.ExecuteAsync(s);
        }
    }

    /// <summary>Every row of a table, one string per row in primary-key order (to compare source and target exactly).</summary>
    private static async Task<List<string>> RowsAsync(MySqlConnectionOptions where, string table, string? db = null)
    {
        var (pk, columns) = table switch
        {
            "customer" => ("customer_id", "customer_id, HEX(email)"),
            "corder" => ("order_id", "order_id, customer_id, HEX(sku), price"),
            _ => ("sku", "HEX(sku), HEX(description), price"),
        };
        await using var c = await MySqlConnection.OpenAsync(db is null ? where : where with { Database = db });
        var rows = new List<string>();
        await using var r = await c.QueryAsync($"SELECT CONCAT_WS('|', {columns}) FROM `{table}` ORDER BY {pk}");
        while (await r.ReadAsync())
        {
            rows.Add(r.GetString(0) ?? "NULL");
        }

        return rows;
    }

    private static async Task<Dictionary<string, List<string>>> SnapshotAsync(MySqlConnectionOptions where, IEnumerable<string> tables, string? db = null)
    {
        var result = new Dictionary<string, List<string>>();
        foreach (var t in tables)
        {
            result[t] = await RowsAsync(where, t, db);
        }

        return result;
    }

    private static MySqlConnectionOptions Target(int uid, string keyspace) => ClusterBed.Account("dba", uid, $"vt_{keyspace}");

    /// <summary>An application writing to the source all the time: its own customers and orders, inserted, updated and deleted.</summary>
    private static Task WriteAsync(string marker, CancellationToken stop) => Task.Run(async () =>
    {
        await using var c = await MySqlConnection.OpenAsync(External());
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var n = i.ToString(CultureInfo.InvariantCulture);
            await c.ExecuteAsync($"INSERT INTO customer (email) VALUES ('{marker}_{n}@example.com')");
            await c.ExecuteAsync($"INSERT INTO corder (customer_id, sku, price) VALUES (LAST_INSERT_ID(), '{marker}_SKU_{n}', {i})");
            if (i % 3 == 0)
            {
                await c.ExecuteAsync($"UPDATE corder SET price = price + 100 WHERE sku LIKE '{marker}%' ORDER BY order_id DESC LIMIT 2");
            }

            if (i % 5 == 4)
            {
                await c.ExecuteAsync($"DELETE FROM customer WHERE email LIKE '{marker}%' ORDER BY customer_id LIMIT 1");
            }

            try
            {
                await Task.Delay(20, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    });

    // ---------------- acceptance: the seeds' Migrate lifecycle ----------------

    [Fact]
    public async Task Migrate_from_the_mounted_external_cluster_under_writes_vdiff_clean_complete_keeps_the_source()
    {
        await using var m = await MigrateBed.StartAsync("mig");
        await m.MountExternalAsync();
        var target = await m.TargetKeyspaceAsync("mig", ("0", 200));
        // The seeds: apply the source VSchema to the target keyspace (the external commerce keyspace is unsharded).
        var sourceVSchema = await m.Bed.Env.Store.GetVSchemaJsonAsync("ext1:commerce");
        await m.Admin.ApplyVSchemaAsync(target, sourceVSchema?.Value ?? """{"sharded":false,"tables":{"corder":{},"customer":{},"product":{}}}""");

        using var stop = new CancellationTokenSource();
        var writer = WriteAsync(m.Marker, stop.Token);
        try
        {
            var spec = new MoveTablesCreate
            {
                Kind = WorkflowKinds.Migrate, MountName = "ext1", Workflow = Workflow, TargetKeyspace = target, SourceKeyspace = "commerce",
                AllTables = true, TabletTypes = "replica", RequestedBy = "test",
            };
            var id = await m.CreateAsync(spec);
            Assert.Equal($"migrate:{target}.{Workflow}", id);
            var running = await m.WaitAsync(id, s => s.Phase == Phases.Running || s.IsFinished, "copied and replicating");
            Assert.Equal(Phases.Running, running.Phase);
            Assert.Equal(SeedTables, running.Tables.Order().ToArray());
            Assert.Equal("ext1:commerce", Assert.Single(await m.Bed.Env.Engine.ListStreamsAsync(target, "0", Workflow)).SourceKeyspace);

            // No routing rules for Migrate; the target is guarded until complete, the message names the workflow.
            Assert.DoesNotContain((await m.Bed.Env.Store.GetRoutingRulesAsync()).Value.Rules, r => r.ToTables.Any(t => t.StartsWith(target + ".", StringComparison.Ordinal)));
            var early = await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync("dba", 200, $"vt_{target}", "INSERT INTO customer (email) VALUES ('too-early')"));
            Assert.Contains("Durable write guard", early.Message);
            Assert.Contains($"workflow {target}.{Workflow}", early.Message);

            // VDiff while the source takes writes (source side: replicas, as the seeds suggest).
            await Task.Delay(1500);
            var first = await m.VDiffAsync(target, "REPLICA");
            Assert.False(first.HasMismatch, "VDiff under writes: " + System.Text.Json.JsonSerializer.Serialize(first.TableSummary));
            Assert.True(first.RowsCompared > 0);

            // Stop the writes; VDiff again.
            await stop.CancelAsync();
            await writer;
            var second = await m.VDiffAsync(target, "REPLICA");
            Assert.False(second.HasMismatch, "VDiff after writes stopped: " + System.Text.Json.JsonSerializer.Serialize(second.TableSummary));

            // SwitchTraffic is refused with the seeds' reason.
            var refused = await m.CommandAsync(id, "SwitchTraffic");
            Assert.Contains("not available for Migrate", refused.Commands[^1].Message);

            // Wait until the target has every source row, then complete.
            var source = await SnapshotAsync(External(), SeedTables);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!(await SnapshotAsync(Target(200, target), SeedTables)).All(kv => source[kv.Key].SequenceEqual(kv.Value)))
            {
                Assert.True(DateTime.UtcNow < deadline, "the target never caught up with the source");
                await Task.Delay(250);
            }

            var completed = await m.CommandAsync(id, "Complete");
            Assert.Equal(Phases.Completed, completed.Phase);
            Assert.Contains($"Successfully completed the {Workflow} workflow in the {target} keyspace", completed.Commands[^1].Message);

            // The source is untouched: same tables, same rows. The target holds the same rows, no streams, no guards.
            Assert.Equal(source, await SnapshotAsync(External(), SeedTables));
            Assert.Equal(source, await SnapshotAsync(Target(200, target), SeedTables));
            Assert.Empty(await m.Bed.Env.Engine.ListStreamsAsync(target, "0", Workflow));
            Assert.Null(await m.Bed.Env.Registry.GetAsync(target, Workflow));
            await ClusterBed.ExecAsync("app", 200, $"vt_{target}", "INSERT INTO product (sku, description, price) VALUES ('after-complete', 'ok', 1)");
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }

        await m.Admin.MountUnregisterAsync("ext1");
        Assert.Empty(await m.Admin.MountListAsync());
    }

    // ---------------- the seeds' troubleshooting answers ----------------

    [Fact]
    public async Task A_target_vschema_that_does_not_match_the_source_is_refused_with_the_seeds_message_and_fix_then_shards_map_automatically()
    {
        await using var m = await MigrateBed.StartAsync("migvs");
        await m.MountExternalAsync();
        var target = await m.TargetKeyspaceAsync("migsh", ("-80", 300), ("80-", 400));
        await m.Admin.ApplyVSchemaAsync(target, """
            {"sharded":true,"vindexes":{"hash":{"type":"hash"}},
             "tables":{"customer":{"column_vindexes":[{"column":"customer_id","name":"hash"}]}}}
            """);
        var spec = new MoveTablesCreate
        {
            Kind = WorkflowKinds.Migrate, MountName = "ext1", Workflow = Workflow, TargetKeyspace = target, SourceKeyspace = "commerce",
            Tables = ["customer", "corder"], TabletTypes = "REPLICA", RequestedBy = "test",
        };
        var failed = await m.WaitAsync(await m.CreateAsync(spec), s => s.IsFinished, "refused");
        Assert.Equal(Phases.Failed, failed.Phase);
        Assert.Contains($"table corder not found in vschema for keyspace {target}", failed.LastError);
        Assert.Contains($"Apply the source VSchema to the target (durablectl ApplyVSchema --vschema-file source_vschema.json {target})", failed.LastError);
        Assert.Contains("nothing was changed", failed.LastError);

        // The fix: the VSchema that matches; then 1 source shard -> 2 target shards, rows split by the hash vindex.
        await m.Admin.ApplyVSchemaAsync(target, """
            {"sharded":true,"vindexes":{"hash":{"type":"hash"}},
             "tables":{"customer":{"column_vindexes":[{"column":"customer_id","name":"hash"}]},
                       "corder":{"column_vindexes":[{"column":"customer_id","name":"hash"}]}}}
            """);
        await m.Bed.Client.PurgeInstanceAsync(spec.InstanceId);
        var id = await m.CreateAsync(spec);
        var running = await m.WaitAsync(id, s => s.Phase == Phases.Running || s.IsFinished, "copied into two shards");
        Assert.Equal(Phases.Running, running.Phase);
        Assert.Equal(2, running.Streams.Count);
        Assert.All(running.Streams, s => Assert.Equal("0", s.SourceShard));

        await ExternalExecAsync($"INSERT INTO customer (email) VALUES ('{m.Marker}_a@example.com'), ('{m.Marker}_b@example.com'), ('{m.Marker}_c@example.com')");
        var source = await SnapshotAsync(External(), ["customer", "corder"]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var low = await SnapshotAsync(Target(300, target), ["customer", "corder"]);
            var high = await SnapshotAsync(Target(400, target), ["customer", "corder"]);
            var merged = new[] { "customer", "corder" }.All(t =>
                low[t].Concat(high[t]).OrderBy(r => long.Parse(r.Split('|')[0], CultureInfo.InvariantCulture)).SequenceEqual(source[t]));
            if (merged)
            {
                Assert.NotEmpty(low["customer"]);
                Assert.NotEmpty(high["customer"]);
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the two target shards never held exactly the source rows");
            await Task.Delay(250);
        }

        var report = await m.VDiffAsync(target, "REPLICA");
        Assert.False(report.HasMismatch, System.Text.Json.JsonSerializer.Serialize(report.TableSummary));
        Assert.Equal(Phases.Completed, (await m.CommandAsync(id, "Complete")).Phase);
        Assert.Equal(source, await SnapshotAsync(External(), ["customer", "corder"]));
    }

    [Fact]
    public async Task An_unreachable_source_topology_is_refused_with_node_doesnt_exist_and_the_fix()
    {
        await using var m = await MigrateBed.StartAsync("migtopo");
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await m.Admin.MountRegisterAsync("ext1", "etcd2", $"127.0.0.1:{port}", "/vitess/global");
        var target = await m.TargetKeyspaceAsync("migt", ("0", 200));
        var spec = new MoveTablesCreate
        {
            Kind = WorkflowKinds.Migrate, MountName = "ext1", Workflow = Workflow, TargetKeyspace = target, SourceKeyspace = "commerce", AllTables = true, RequestedBy = "test",
        };
        var failed = await m.WaitAsync(await m.CreateAsync(spec), s => s.IsFinished, "refused");
        Assert.Equal(Phases.Failed, failed.Phase);
        Assert.Contains("node doesn't exist", failed.LastError);
        Assert.Contains("Ensure this host can reach the source topology server", failed.LastError);
        Assert.Contains("topology information given to Mount register is correct", failed.LastError);

        // A reachable topology that lacks the keyspace (wrong root) gets the same answer.
        await m.Admin.MountUnregisterAsync("ext1");
        await m.Admin.MountRegisterAsync("ext1", "etcd2", ExternalCluster.Current.EtcdEndpoints.Split(',')[0], "/not-the-root/global");
        await m.Bed.Client.PurgeInstanceAsync(spec.InstanceId);
        var wrongRoot = await m.WaitAsync(await m.CreateAsync(spec), s => s.IsFinished, "refused");
        Assert.Contains("node doesn't exist: keyspace 'commerce' (--source-keyspace) is not in mount 'ext1'", wrongRoot.LastError);
        Assert.Empty(await m.Bed.Env.Engine.ListStreamsAsync(target, "0"));
    }

    [Fact]
    public async Task With_no_reachable_source_tablet_of_the_requested_types_the_status_says_it_is_waiting_and_why()
    {
        await using var m = await MigrateBed.StartAsync("migwait");
        m.Timings = new WorkflowTimings { TabletWaitSeconds = 1 };
        await m.MountExternalAsync();
        var target = await m.TargetKeyspaceAsync("migw", ("0", 200));
        // The external cluster has no RDONLY tablet: the seeds' "stuck at 0%" case.
        var spec = new MoveTablesCreate
        {
            Kind = WorkflowKinds.Migrate, MountName = "ext1", Workflow = Workflow, TargetKeyspace = target, SourceKeyspace = "commerce",
            Tables = ["product"], TabletTypes = "RDONLY", RequestedBy = "test",
        };
        var products = await RowsAsync(External(), "product");
        var id = await m.CreateAsync(spec);
        var waiting = await m.WaitAsync(id, s => s.LastError?.Contains("Waiting for a source tablet", StringComparison.Ordinal) == true || s.IsFinished, "waiting for a tablet");
        Assert.Equal(Phases.Copying, waiting.Phase);
        Assert.Contains("No tablet found for streaming", waiting.LastError);
        Assert.Contains("No RDONLY tablet of ext1:commerce/0", waiting.LastError);
        Assert.Contains("zone1-0000001100 PRIMARY", waiting.LastError); // what the shard does have
        Assert.Equal(0, waiting.Copy.Single().RowsCopied);

        var cancelled = await m.CommandAsync(id, "Cancel");
        Assert.Equal(Phases.Cancelled, cancelled.Phase);
        Assert.Null(await ClusterBed.ScalarAsync("dba", 200, "mysql", $"SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_{target}' AND TABLE_NAME = 'product'"));
        Assert.Equal(products, await RowsAsync(External(), "product")); // the source is not touched
    }

    // ---------------- an unmanaged source: a plain MariaDB no topology knows ----------------

    private const string EngineGrants = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, TRIGGER, LOCK TABLES, CREATE VIEW, SHOW VIEW, " +
                                        "PROCESS, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.*";

    /// <summary>An application's own database server: the seeds' commerce tables and rows in database shop, the engine account.</summary>
    private static async Task<(PrivateMariaDbServer Server, MySqlConnectionOptions Admin)> LegacyServerAsync()
    {
        var (engineUser, enginePassword) = LocalCluster.Current.Account("filtered");
        var server = await PrivateMariaDbServer.StartAsync([(engineUser, enginePassword, EngineGrants)], serverId: Random.Shared.Next(7300, 7999));
        var admin = new MySqlConnectionOptions
        {
            Host = server.Host, Port = server.Port, User = PrivateMariaDbServer.AdminUser, Password = server.AdminPassword, SslMode = SslMode.Disabled,
        };
        await using var c = await MySqlConnection.OpenAsync(admin);
        foreach (var sql in new[]
                 {
                     "CREATE DATABASE shop",
                     "CREATE TABLE shop.product (sku VARBINARY(128) NOT NULL, description VARBINARY(128), price BIGINT, PRIMARY KEY (sku))",
                     "CREATE TABLE shop.customer (customer_id BIGINT NOT NULL AUTO_INCREMENT, email VARBINARY(128), PRIMARY KEY (customer_id))",
                     "CREATE TABLE shop.corder (order_id BIGINT NOT NULL AUTO_INCREMENT, customer_id BIGINT, sku VARBINARY(128), price BIGINT, PRIMARY KEY (order_id))",
                     "INSERT INTO shop.product (sku, description, price) VALUES ('SKU-1001', 'Monitor', 100), ('SKU-1002', 'Keyboard', 30)",
                     "INSERT INTO shop.customer (customer_id, email) VALUES (1,'alice@domain.com'),(2,'bob@domain.com'),(3,'charlie@domain.com'),(4,'dan@domain.com'),(5,'eve@domain.com')",
                     "INSERT INTO shop.corder (order_id, customer_id, sku, price) VALUES (1,1,'SKU-1001',100),(2,2,'SKU-1002',30),(3,3,'SKU-1002',30),(4,4,'SKU-1002',30),(5,5,'SKU-1002',30)",
                 })
        {
            await c.ExecuteAsync(sql);
        }

        return (server, admin with { Database = "shop" });
    }

    private static Task WriteLegacyAsync(MySqlConnectionOptions shop, CancellationToken stop) => Task.Run(async () =>
    {
        await using var c = await MySqlConnection.OpenAsync(shop);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            await c.ExecuteAsync($"INSERT INTO customer (email) VALUES ('legacy_{i}@example.com')");
            await c.ExecuteAsync($"INSERT INTO corder (customer_id, sku, price) VALUES (LAST_INSERT_ID(), 'SKU-1001', {i})");
            if (i % 4 == 3)
            {
                await c.ExecuteAsync("UPDATE product SET price = price + 1 WHERE sku = 'SKU-1002'");
                await c.ExecuteAsync("DELETE FROM corder ORDER BY order_id LIMIT 1");
            }

            try
            {
                await Task.Delay(20, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    });

    [Fact]
    public async Task Migrate_from_an_unmanaged_MariaDB_under_writes_vdiff_clean_complete_keeps_the_source()
    {
        var (legacy, shop) = await LegacyServerAsync();
        await using var _ = legacy;
        await using var m = await MigrateBed.StartAsync("migun");
        var (engineUser, _) = LocalCluster.Current.Account("filtered");
        await m.Admin.RegisterUnmanagedSourceAsync("legacy", "shop", legacy.Host, legacy.Port, "shop", engineUser, "secret:DURABLE_FILTERED_PASSWORD");
        var target = await m.TargetKeyspaceAsync("migu", ("0", 200));

        using var stop = new CancellationTokenSource();
        var writer = WriteLegacyAsync(shop, stop.Token);
        try
        {
            var spec = new MoveTablesCreate
            {
                Kind = WorkflowKinds.Migrate, MountName = "legacy", Workflow = Workflow, TargetKeyspace = target, SourceKeyspace = "shop", AllTables = true, RequestedBy = "test",
            };
            var id = await m.CreateAsync(spec);
            var running = await m.WaitAsync(id, s => s.Phase == Phases.Running || s.IsFinished, "copied and replicating");
            Assert.Equal(Phases.Running, running.Phase);
            Assert.Equal(SeedTables, running.Tables.Order().ToArray());
            Assert.Equal("legacy:shop", Assert.Single(await m.Bed.Env.Engine.ListStreamsAsync(target, "0", Workflow)).SourceKeyspace);

            await Task.Delay(1000);
            var first = await m.VDiffAsync(target, "PRIMARY");
            Assert.False(first.HasMismatch, "VDiff under writes: " + System.Text.Json.JsonSerializer.Serialize(first.TableSummary));
            await stop.CancelAsync();
            await writer;
            var second = await m.VDiffAsync(target, "PRIMARY");
            Assert.False(second.HasMismatch, "VDiff after writes stopped: " + System.Text.Json.JsonSerializer.Serialize(second.TableSummary));

            var source = await SnapshotAsync(shop, SeedTables);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!(await SnapshotAsync(Target(200, target), SeedTables)).All(kv => source[kv.Key].SequenceEqual(kv.Value)))
            {
                Assert.True(DateTime.UtcNow < deadline, "the target never caught up with the unmanaged source");
                await Task.Delay(250);
            }

            Assert.Equal(Phases.Completed, (await m.CommandAsync(id, "Complete")).Phase);
            Assert.Equal(source, await SnapshotAsync(shop, SeedTables));
            Assert.Equal(source, await SnapshotAsync(Target(200, target), SeedTables));
            // Nothing of the workflow was left on the source server: no sidecar, no triggers.
            await using var c = await MySqlConnection.OpenAsync(shop);
            Assert.Equal("0", await c.QueryScalarAsync("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'"));
            Assert.Null(await c.QueryScalarAsync($"SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{m.Bed.Env.Options.SidecarName}'"));
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }

        await m.Admin.MountUnregisterAsync("legacy");
    }

    [Fact]
    public async Task MoveTables_from_an_unmanaged_MariaDB_copies_and_replicates_and_says_why_it_cannot_switch()
    {
        var (legacy, shop) = await LegacyServerAsync();
        await using var _ = legacy;
        await using var m = await MigrateBed.StartAsync("mtun");
        var (engineUser, _) = LocalCluster.Current.Account("filtered");
        await m.Admin.RegisterUnmanagedSourceAsync("legacy", "shop", legacy.Host, legacy.Port, "shop", engineUser, "secret:DURABLE_FILTERED_PASSWORD");
        var target = await m.TargetKeyspaceAsync("mtu", ("0", 200));
        var spec = new MoveTablesCreate
        {
            MountName = "legacy", Workflow = Workflow, TargetKeyspace = target, SourceKeyspace = "shop", Tables = ["customer", "corder"], RequestedBy = "test",
        };
        var id = await m.CreateAsync(spec);
        Assert.Equal($"movetables:{target}.{Workflow}", id);
        var running = await m.WaitAsync(id, s => s.Phase == Phases.Running || s.IsFinished, "copied and replicating");
        Assert.Equal(Phases.Running, running.Phase);
        Assert.Equal(5, running.Copy.Single(t => t.Table == "customer").RowsCopied);

        await using (var c = await MySqlConnection.OpenAsync(shop))
        {
            await c.ExecuteAsync("INSERT INTO customer (customer_id, email) VALUES (6, 'frank@domain.com')");
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ClusterBed.ScalarAsync("dba", 200, $"vt_{target}", "SELECT email FROM customer WHERE customer_id = 6") != "frank@domain.com")
        {
            Assert.True(DateTime.UtcNow < deadline, "the insert on the unmanaged source never reached the target");
            await Task.Delay(200);
        }

        var report = await m.VDiffAsync(target, "PRIMARY");
        Assert.False(report.HasMismatch, System.Text.Json.JsonSerializer.Serialize(report.TableSummary));
        var refused = await m.CommandAsync(id, "SwitchTraffic");
        Assert.Contains("is outside this cluster's topology (mount legacy)", refused.Commands[^1].Message);
        Assert.Equal("Reads Not Switched. Writes Not Switched", refused.TrafficStateText);

        // Cancel keeping the copy: streams and guards go, the rows stay, the source is not touched.
        var cancelled = await m.CommandAsync(id, "Cancel", new CleanupOptions { KeepData = true });
        Assert.Equal(Phases.Cancelled, cancelled.Phase);
        Assert.Equal(await SnapshotAsync(shop, ["customer", "corder"]), await SnapshotAsync(Target(200, target), ["customer", "corder"]));
        await ClusterBed.ExecAsync("app", 200, $"vt_{target}", "INSERT INTO customer (email) VALUES ('after-cancel')");
    }

    // ---------------- --cells ----------------

    [Fact]
    public async Task Cells_restrict_the_source_tablets_a_workflow_may_pick()
    {
        await using var m = await MigrateBed.StartAsync("cells");
        // In this test's topology commerce's replica is registered in cell zone2 only (the local servers are all in zone1).
        var replica = LocalCluster.Current.Tablet(101);
        await m.Admin.DeleteTabletsAsync(["zone1-101", "zone1-102"]);
        await m.Admin.AddTabletAsync(new AddTabletRequest("zone2-101", "commerce", "0", "REPLICA", replica.Host, replica.Port, "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", "vt_commerce"));
        var table = "cells_" + m.Bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{table}` (id BIGINT NOT NULL, v VARCHAR(20), PRIMARY KEY (id))",
            $"INSERT INTO `{table}` VALUES (1,'a'),(2,'b'),(3,'c')");
        m.Bed.DropLater(100, "vt_commerce", table);
        m.Bed.DropLater(200, "vt_customer", table);
        // Wait until the replica has the table (the copy reads it there).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ClusterBed.ScalarAsync("dba", 101, "vt_commerce", $"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='vt_commerce' AND TABLE_NAME='{table}'") != "1")
        {
            Assert.True(DateTime.UtcNow < deadline, "the replica never got the table");
            await Task.Delay(200);
        }

        m.Timings = new WorkflowTimings { TabletWaitSeconds = 1 };
        var zone1 = new MoveTablesCreate
        {
            Workflow = "c1_" + m.Bed.Suffix, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [table], TabletTypes = "REPLICA", Cells = ["zone1"], RequestedBy = "test",
        };
        var id1 = await m.CreateAsync(zone1);
        var waiting = await m.WaitAsync(id1, s => s.LastError?.Contains("Waiting for a source tablet", StringComparison.Ordinal) == true || s.IsFinished, "no replica in zone1");
        Assert.Contains("No REPLICA tablet of commerce;cells=zone1/0", waiting.LastError);
        Assert.Equal(Phases.Cancelled, (await m.CommandAsync(id1, "Cancel")).Phase);

        var zone2 = zone1 with { Workflow = "c2_" + m.Bed.Suffix, Cells = ["zone2"] };
        var id2 = await m.CreateAsync(zone2);
        var running = await m.WaitAsync(id2, s => s.Phase == Phases.Running || s.IsFinished, "copied from the zone2 replica");
        Assert.True(running.Phase == Phases.Running, running.LastError);
        Assert.Equal(3, running.Copy.Single().RowsCopied);
        Assert.Equal("commerce;cells=zone2", Assert.Single(await m.Bed.Env.Engine.ListStreamsAsync("customer", "0", zone2.Workflow)).SourceKeyspace);
        Assert.Equal(Phases.Cancelled, (await m.CommandAsync(id2, "Cancel")).Phase);
    }
}
