using System.Globalization;
using System.Security.Cryptography;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Testing;
using Durable.Topology;
using Durable.VDiff;

namespace Durable.Workflows.Tests;

/// <summary>
/// Adopting a plain MariaDB the Vitess way: a private server (known to no topology) with an account of its OWN — a user
/// and password the engine does not have — registered as a one-shard keyspace of the test's topology
/// (<see cref="TopologyAdmin.RegisterUnmanagedKeyspaceAsync"/>), then an ordinary MoveTables from it through the whole
/// lifecycle: create under writes, copy, VDiff clean, SwitchTraffic (the old source refuses writes; the reverse stream
/// lives in the private server's sidecar and the in-process Streamer runs it with the server's account), ReverseTraffic,
/// SwitchTraffic again, Complete.
/// </summary>
[Trait("Category", "Integration")]
public sealed class UnmanagedIntegrationTests
{
    private const string Workflow = "adopt";
    private static readonly string[] Tables = ["corder", "customer"];

    /// <summary>The filtered role's grants (infra/local/cluster.sh), given to the server's own account.</summary>
    private const string FilteredGrants = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, TRIGGER, LOCK TABLES, CREATE VIEW, SHOW VIEW, " +
                                          "PROCESS, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.*";

    private const string LegacyUser = "legacy_engine";
    private const string LegacySecret = "LEGACY_ENGINE_PASSWORD";

    [Fact]
    public async Task MoveTables_from_an_adopted_MariaDB_with_its_own_account_switches_reverses_switches_again_and_completes()
    {
        var legacyPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var (engineUser, _) = LocalCluster.Current.Account("filtered");
        Assert.NotEqual(LegacyUser, engineUser);
        await using var legacy = await PrivateMariaDbServer.StartAsync([(LegacyUser, legacyPassword, FilteredGrants)], serverId: Random.Shared.Next(7300, 7999));
        var shop = new MySqlConnectionOptions
        {
            Host = legacy.Host, Port = legacy.Port, User = PrivateMariaDbServer.AdminUser, Password = legacy.AdminPassword, Database = "shop", SslMode = SslMode.Disabled,
        };
        await SeedAsync(shop with { Database = null });

        // The host's secrets: the local cluster's, plus the adopted server's own password under its own name.
        var secrets = new Dictionary<string, string>(CredentialReference.LoadSecretsFile(LocalCluster.Current.File.SecretsFile)) { [LegacySecret] = legacyPassword };
        await using var bed = new ClusterBed("adopt", new MoveTablesSettings { Secrets = secrets });
        await bed.InitAsync();
        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var admin = new TopologyAdmin(bed.Env.Store);

        var source = "shop_" + bed.Suffix;
        var tablet = await admin.RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest(source, legacy.Host, legacy.Port, "shop", LegacyUser, "secret:" + LegacySecret));
        Assert.Equal(("0", "PRIMARY", LegacyUser), (tablet.Shard, tablet.Type, tablet.User));
        Assert.Equal(tablet.Alias, (await bed.Env.Store.GetShardAsync(source, "0"))!.Value.PrimaryAlias);
        var primary = await bed.Env.Engine.Connector.Resolver.PrimaryAsync(source, "0", default);
        Assert.Equal(LegacyUser, bed.Env.Engine.Connector.CredentialsFor(primary).User);
        // The engine's own account does not exist on that server: everything below ran with the server's account.
        await Assert.ThrowsAnyAsync<Exception>(async () => await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 100, null) with { Host = legacy.Host, Port = legacy.Port }));

        var target = await TargetKeyspaceAsync(bed, admin, "adoptt");
        try
        {
            await LifecycleAsync(bed, admin, shop, source, target);
        }
        finally
        {
            await ClusterBed.ExecAsync("dba", 200, "mysql", $"DROP DATABASE IF EXISTS `vt_{target}`");
        }
    }

    private static async Task LifecycleAsync(ClusterBed bed, TopologyAdmin admin, MySqlConnectionOptions shop, string source, string target)
    {
        using var stop = new CancellationTokenSource();
        var writer = WriteAsync(shop, stop.Token);
        string id;
        try
        {
            var spec = new MoveTablesCreate { Workflow = Workflow, TargetKeyspace = target, SourceKeyspace = source, Tables = [.. Tables], RequestedBy = "test" };
            id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));
            var running = await WaitAsync(bed, id, s => s.Phase == Phases.Running || s.IsFinished, "copied and replicating");
            Assert.True(running.Phase == Phases.Running, running.LastError);
            Assert.Equal(source, Assert.Single(await bed.Env.Engine.ListStreamsAsync(target, "0", Workflow)).SourceKeyspace);
            await Task.Delay(1000);
            var underWrites = await VDiffAsync(bed, Workflow, target);
            Assert.False(underWrites.HasMismatch, "VDiff under writes: " + System.Text.Json.JsonSerializer.Serialize(underWrites.TableSummary));
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }

        await WaitEqualAsync(shop, Target(target), "the target caught up with the adopted server");
        Assert.False((await VDiffAsync(bed, Workflow, target)).HasMismatch);

        // SwitchTraffic: writes now go to the target; the adopted server refuses them (guard), the reverse stream runs there.
        await SwitchedAsync(bed, id, "SwitchTraffic", primarySwitched: true);
        var rules = await admin.GetRoutingRulesAsync();
        Assert.Contains($"\"{source}.customer\"", rules);
        await AssertGuardedAsync(shop, $"workflow {target}.{Workflow}; write to {target}");
        var reverse = Assert.Single(await bed.Env.Engine.ListStreamsAsync(source, "0", Workflow + "_reverse"));
        Assert.Equal(target, reverse.SourceKeyspace);
        await ClusterBed.ExecAsync("app", 200, $"vt_{target}", "INSERT INTO customer (customer_id, email) VALUES (9001, 'after-switch@example.com')");
        await WaitRowAsync(shop, 9001, "after-switch@example.com", "the reverse stream on the adopted server carried a target write back");
        var reverseDiff = await VDiffAsync(bed, Workflow + "_reverse", source);
        Assert.False(reverseDiff.HasMismatch, "VDiff of the reverse workflow: " + System.Text.Json.JsonSerializer.Serialize(reverseDiff.TableSummary));

        // ReverseTraffic: the adopted server takes writes again and the forward stream carries them to the target.
        await SwitchedAsync(bed, id, "ReverseTraffic", primarySwitched: false);
        await using (var c = await MySqlConnection.OpenAsync(shop))
        {
            await c.ExecuteAsync("INSERT INTO customer (customer_id, email) VALUES (9002, 'after-reverse@example.com')");
        }

        await WaitRowAsync(Target(target), 9002, "after-reverse@example.com", "the forward stream resumed after ReverseTraffic");
        await AssertGuardedAsync(Target(target), $"workflow {target}.{Workflow}; write to {source}", app: true);

        // SwitchTraffic again, then Complete (renaming the source tables on the adopted server).
        await SwitchedAsync(bed, id, "SwitchTraffic", primarySwitched: true);
        await AssertGuardedAsync(shop, $"workflow {target}.{Workflow}; write to {target}");
        var expected = await SnapshotAsync(Target(target));
        var completed = await CommandAsync(bed, id, "Complete", new CleanupOptions { RenameTables = true });
        Assert.True(completed.Phase == Phases.Completed, completed.Commands[^1].Message);
        Assert.Equal(expected, await SnapshotAsync(Target(target)));
        await using (var c = await MySqlConnection.OpenAsync(shop))
        {
            Assert.Equal("_corder_old,_customer_old,product",
                await c.QueryScalarAsync("SELECT GROUP_CONCAT(TABLE_NAME ORDER BY BINARY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'"));
            Assert.Equal("0", await c.QueryScalarAsync("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'"));
        }

        Assert.Empty(await bed.Env.Engine.ListStreamsAsync(source, "0", Workflow + "_reverse"));
        await ClusterBed.ExecAsync("app", 200, $"vt_{target}", "INSERT INTO customer (customer_id, email) VALUES (9003, 'after-complete@example.com')");
    }

    // ---------------- helpers ----------------

    private static async Task SeedAsync(MySqlConnectionOptions admin)
    {
        await using var c = await MySqlConnection.OpenAsync(admin);
        foreach (var sql in new[]
                 {
                     "CREATE DATABASE shop",
                     "CREATE TABLE shop.product (sku VARBINARY(128) NOT NULL, description VARBINARY(128), price BIGINT, PRIMARY KEY (sku))",
                     "CREATE TABLE shop.customer (customer_id BIGINT NOT NULL AUTO_INCREMENT, email VARBINARY(128), PRIMARY KEY (customer_id))",
                     "CREATE TABLE shop.corder (order_id BIGINT NOT NULL AUTO_INCREMENT, customer_id BIGINT, sku VARBINARY(128), price BIGINT, PRIMARY KEY (order_id))",
                     "INSERT INTO shop.product (sku, description, price) VALUES ('SKU-1001', 'Monitor', 100), ('SKU-1002', 'Keyboard', 30)",
                     "INSERT INTO shop.customer (customer_id, email) SELECT seq, CONCAT('customer', seq, '@domain.com') FROM shop.seq_1_to_300",
                     "INSERT INTO shop.corder (order_id, customer_id, sku, price) SELECT seq, seq, 'SKU-1002', seq FROM shop.seq_1_to_300",
                 })
        {
            await c.ExecuteAsync(sql);
        }
    }

    /// <summary>The application writing to the adopted server (as its own admin account, which the guards do not exempt).</summary>
    private static Task WriteAsync(MySqlConnectionOptions shop, CancellationToken stop) => Task.Run(async () =>
    {
        await using var c = await MySqlConnection.OpenAsync(shop);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var n = i.ToString(CultureInfo.InvariantCulture);
            await c.ExecuteAsync($"INSERT INTO customer (email) VALUES ('w{n}@example.com')");
            await c.ExecuteAsync($"INSERT INTO corder (customer_id, sku, price) VALUES (LAST_INSERT_ID(), 'SKU-1001', {n})");
            if (i % 4 == 3)
            {
                await c.ExecuteAsync($"UPDATE customer SET email = CONCAT('u', email) WHERE customer_id = {(i % 300) + 1}");
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

    private static async Task<string> TargetKeyspaceAsync(ClusterBed bed, TopologyAdmin admin, string prefix)
    {
        var keyspace = $"{prefix}_{bed.Suffix}";
        await admin.CreateKeyspaceAsync(keyspace);
        var t = LocalCluster.Current.Tablet(200);
        await admin.AddTabletAsync(new AddTabletRequest($"zone1-{Random.Shared.Next(20_000, 90_000)}", keyspace, "0", "PRIMARY", t.Host, t.Port,
            "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", $"vt_{keyspace}"));
        await ClusterBed.ExecAsync("dba", 200, "mysql", $"CREATE DATABASE `vt_{keyspace}`");
        return keyspace;
    }

    private static MySqlConnectionOptions Target(string keyspace) => ClusterBed.Account("dba", 200, $"vt_{keyspace}");

    private static async Task<WorkflowState> WaitAsync(ClusterBed bed, string id, Func<WorkflowState, bool> until, string what, int seconds = 180)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var m = await bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true);
            last = m?.SerializedCustomStatus is null ? m?.ReadOutputAs<WorkflowState>() : m.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"Workflow {id} never reached: {what}. Last phase {last?.Phase}, error {last?.LastError}, " +
                                   $"audit {string.Join(" | ", last?.Audit.TakeLast(8).Select(a => $"{a.Action}:{a.Outcome}:{a.Detail}") ?? [])}");
    }

    private static async Task<WorkflowState> CommandAsync(ClusterBed bed, string id, string action, CleanupOptions? cleanup = null)
    {
        var requestId = Guid.NewGuid().ToString("N");
        await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = action, RequestId = requestId, RequestedBy = "test", Cleanup = cleanup });
        return await WaitAsync(bed, id, s => s.Commands.Any(c => c.RequestId == requestId), action + " answered");
    }

    private static async Task SwitchedAsync(ClusterBed bed, string id, string action, bool primarySwitched)
    {
        var state = await CommandAsync(bed, id, action);
        var result = state.Commands[^1];
        Assert.True(result.State == "done", $"{action}: {result.State}: {result.Message}");
        Assert.Equal(primarySwitched, state.Traffic.Primary);
    }

    private static async Task<VDiffReport> VDiffAsync(ClusterBed bed, string workflow, string keyspace)
    {
        var service = new VDiffService(bed.Env.Engine);
        var (uuid, shards) = await service.CreateAsync(workflow, keyspace, new VDiffOptions { TabletTypes = "PRIMARY", ChunkRows = 1000 });
        foreach (var shard in shards)
        {
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (await service.RunShardAsync(uuid, workflow, keyspace, shard, TimeSpan.FromSeconds(20), default) != VDiffStates.Completed)
            {
                Assert.True(DateTime.UtcNow < deadline, $"VDiff {uuid} on {keyspace}/{shard} did not complete");
            }
        }

        var report = (await service.ShowAsync(workflow, keyspace, uuid, verbose: true))!;
        Assert.True(report.TableSummary.Count > 0, "the VDiff compared no table");
        return report;
    }

    /// <summary>A write by the application's account is refused by the guard naming the workflow and where writes go (long names get the compact text).</summary>
    private static async Task AssertGuardedAsync(MySqlConnectionOptions where, string message, bool app = false)
    {
        await using var c = await MySqlConnection.OpenAsync(app ? ClusterBed.Account("app", 200, where.Database) : where);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => c.ExecuteAsync("INSERT INTO customer (email) VALUES ('refused@example.com')"));
        Assert.Contains(message, e.Message);
    }

    private static async Task WaitRowAsync(MySqlConnectionOptions where, long customerId, string email, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        await using var c = await MySqlConnection.OpenAsync(where);
        while (await c.QueryScalarAsync($"SELECT email FROM customer WHERE customer_id = {customerId}") != email)
        {
            Assert.True(DateTime.UtcNow < deadline, "never: " + what);
            await Task.Delay(200);
        }
    }

    private static async Task<Dictionary<string, List<string>>> SnapshotAsync(MySqlConnectionOptions where)
    {
        var result = new Dictionary<string, List<string>>();
        await using var c = await MySqlConnection.OpenAsync(where);
        foreach (var (table, sql) in new[]
                 {
                     ("corder", "SELECT CONCAT_WS('|', order_id, customer_id, HEX(sku), price) FROM corder ORDER BY order_id"),
                     ("customer", "SELECT CONCAT_WS('|', customer_id, HEX(email)) FROM customer ORDER BY customer_id"),
                 })
        {
            var rows = new List<string>();
            await using var r = await c.QueryAsync(sql);
            while (await r.ReadAsync())
            {
                rows.Add(r.GetString(0) ?? "NULL");
            }

            result[table] = rows;
        }

        return result;
    }

    private static async Task WaitEqualAsync(MySqlConnectionOptions source, MySqlConnectionOptions target, string what)
    {
        var expected = await SnapshotAsync(source);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var actual = await SnapshotAsync(target);
            if (expected.All(kv => kv.Value.SequenceEqual(actual[kv.Key])))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "never: " + what);
            await Task.Delay(250);
        }
    }
}
