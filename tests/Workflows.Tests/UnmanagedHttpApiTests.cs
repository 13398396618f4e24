using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;
using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// The unmanaged-source API on a private Functions host process (own hub, port, key, secrets file; the test's topology
/// root): a private MariaDB whose own account's password is only in the host's secrets file is registered as an
/// unmanaged source; MoveTables from it copies (the host logs in with that account); SwitchTraffic is refused with the
/// adoption command; <c>POST /api/externalsources</c> with <c>as_keyspace</c> adopts it (from the source, and from an
/// address), refusing taken names, a vitess type and an unknown source.
/// </summary>
[Trait("Category", "Integration")]
public sealed class UnmanagedHttpApiTests
{
    private const string LegacyUser = "legacy_engine";

    /// <summary>The "message" of an error body (read from the JSON: the serializer escapes quotes).</summary>
    private static async Task<string> MessageAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())?["message"]?.GetValue<string>() ?? "";

    [Fact]
    public async Task A_switch_of_a_MoveTables_from_an_unmanaged_source_names_the_adoption_and_as_keyspace_adopts_it()
    {
        var legacyPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        await using var legacy = await PrivateMariaDbServer.StartAsync(
            [(LegacyUser, legacyPassword, "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, TRIGGER, LOCK TABLES, PROCESS, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SLAVE MONITOR ON *.*")],
            serverId: Random.Shared.Next(7300, 7999));
        await using (var c = await MySqlConnection.OpenAsync(new MySqlConnectionOptions
                     {
                         Host = legacy.Host, Port = legacy.Port, User = PrivateMariaDbServer.AdminUser, Password = legacy.AdminPassword, SslMode = SslMode.Disabled,
                     }))
        {
            await c.ExecuteAsync("CREATE DATABASE shop");
            await c.ExecuteAsync("CREATE TABLE shop.customer (customer_id BIGINT NOT NULL AUTO_INCREMENT, email VARBINARY(128), PRIMARY KEY (customer_id))");
            await c.ExecuteAsync("INSERT INTO shop.customer (customer_id, email) VALUES (1, 'alice@domain.com'), (2, 'bob@domain.com')");
        }

        await using var bed = new ClusterBed("unmhttp");
        await bed.InitAsync();
        var admin = new TopologyAdmin(bed.Env.Store);
        var target = "unmh_" + bed.Suffix;
        var t200 = LocalCluster.Current.Tablet(200);
        await admin.CreateKeyspaceAsync(target);
        await admin.AddTabletAsync(new AddTabletRequest($"zone1-{Random.Shared.Next(20_000, 90_000)}", target, "0", "PRIMARY", t200.Host, t200.Port,
            "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", $"vt_{target}"));
        await ClusterBed.ExecAsync("dba", 200, "mysql", $"CREATE DATABASE `vt_{target}`");

        var suffix = bed.Suffix.Replace("_", "", StringComparison.Ordinal);
        var hub = "Unm" + suffix;
        var root = Path.Combine(Path.GetTempPath(), "durable-unm-host-" + suffix);
        Directory.CreateDirectory(root);
        // The host's secrets file: the local cluster's plus the private server's own password (nowhere else).
        var secretsFile = Path.Combine(root, "secrets.env");
        await File.WriteAllLinesAsync(secretsFile, [.. await File.ReadAllLinesAsync(LocalCluster.Current.File.SecretsFile), "LEGACY_ENGINE_PASSWORD=" + legacyPassword]);
        SwitchTrafficCrashHost? host = null;
        try
        {
            host = await SwitchTrafficCrashHost.StartAsync(
                SwitchTrafficCrashHost.PrepareBinaries(Path.Combine(root, "bin")), root, hub, bed, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), faultPoints: null,
                new Dictionary<string, string> { ["DURABLE_SECRETS_FILE"] = secretsFile });
            var http = host.Http;

            var source = await http.PostAsJsonAsync("/api/externalsources", new
            {
                name = "legacy", type = "unmanaged", keyspace = "shop", host = legacy.Host, port = legacy.Port, db_name = "shop",
                user = LegacyUser, credentials_ref = "secret:LEGACY_ENGINE_PASSWORD",
            });
            Assert.True(source.StatusCode == HttpStatusCode.Created, await source.Content.ReadAsStringAsync());

            // MoveTables from the unmanaged source: the host copies with the source's own account.
            var basePath = $"/api/movetables/{target}/adopt";
            var created = await http.PostAsJsonAsync(basePath + "/create", new { source_keyspace = "shop", mount_name = "legacy", tables = new[] { "customer" } });
            Assert.True(created.StatusCode == HttpStatusCode.Accepted, await created.Content.ReadAsStringAsync());
            var state = await host.WaitForPhaseAsync(basePath + "/state", TimeSpan.FromSeconds(120), "Running", "Failed");

            Assert.True(state?["phase"]?.GetValue<string>() == "Running", state?.ToJsonString());
            Assert.Equal("2", await ClusterBed.ScalarAsync("dba", 200, $"vt_{target}", "SELECT COUNT(*) FROM customer"));

            var refused = await http.PostAsJsonAsync(basePath + "/switchtraffic", new { });
            var refusedText = await MessageAsync(refused);
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("durablectl RegisterExternalSource --name legacy --as-keyspace", refusedText);
            Assert.Contains("create it again with --source-keyspace shop and no --mount-name", refusedText);

            // The fix: adopt the registered source as a keyspace (its address and account), under a name of the test's.
            var adopted = "shop_" + suffix;
            var adopt = await http.PostAsJsonAsync("/api/externalsources", new { name = "legacy", as_keyspace = true, keyspace = adopted });
            var adoptText = await adopt.Content.ReadAsStringAsync();
            Assert.True(adopt.StatusCode == HttpStatusCode.Created, adoptText);
            var tablet = JsonNode.Parse(adoptText)!["tablet"]!;
            Assert.Equal((adopted, "PRIMARY", LegacyUser, "secret:LEGACY_ENGINE_PASSWORD", legacy.Port),
                (tablet["keyspace"]!.GetValue<string>(), tablet["type"]!.GetValue<string>(), tablet["user"]!.GetValue<string>(), tablet["password_ref"]!.GetValue<string>(), tablet["port"]!.GetValue<int>()));
            var stored = Assert.Single(await bed.Env.Store.GetTabletsAsync(keyspace: adopted, shard: "0"));
            Assert.Equal((legacy.Host, legacy.Port, "shop"), (stored.Host, stored.Port, stored.DbName));
            // The adopted keyspace is logged in to with the server's own account: this test process does not have its
            // secret (only the host's secrets file does), so it is told which tablet, user and reference, never a password.
            var primary = await bed.Env.Engine.Connector.Resolver.PrimaryAsync(adopted, "0", default);
            var noSecret = Assert.Throws<ReplicationException>(() => bed.Env.Engine.Connector.CredentialsFor(primary));
            Assert.Contains($"names the account {LegacyUser} with password reference secret:LEGACY_ENGINE_PASSWORD, which this host cannot resolve", noSecret.Message);
            Assert.DoesNotContain(legacyPassword, noSecret.Message);

            var again = await http.PostAsJsonAsync("/api/externalsources", new { name = "legacy", as_keyspace = true, keyspace = adopted });
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            Assert.Contains($"Keyspace '{adopted}' already exists", await MessageAsync(again));
            var vitess = await http.PostAsJsonAsync("/api/externalsources", new { name = "legacy", as_keyspace = true, type = "vitess" });
            Assert.Equal(HttpStatusCode.BadRequest, vitess.StatusCode);
            Assert.Contains("type 'vitess' is not possible", await MessageAsync(vitess));
            var unknown = await http.PostAsJsonAsync("/api/externalsources", new { name = "nope", as_keyspace = true });
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Contains("Mount 'nope' is not registered", await MessageAsync(unknown));

            // From an address (no source registered first): keyspace --name.
            var direct = "shopd_" + suffix;
            var byAddress = await http.PostAsJsonAsync("/api/externalsources", new
            {
                name = direct, as_keyspace = true, host = legacy.Host, port = legacy.Port, db_name = "shop", user = LegacyUser, credentials_ref = "secret:LEGACY_ENGINE_PASSWORD",
            });
            Assert.True(byAddress.StatusCode == HttpStatusCode.Created, await byAddress.Content.ReadAsStringAsync());
            Assert.NotNull(await bed.Env.Store.GetKeyspaceAsync(direct));
            var pasted = await http.PostAsJsonAsync("/api/externalsources", new
            {
                name = "shopx_" + suffix, as_keyspace = true, host = legacy.Host, port = legacy.Port, db_name = "shop", user = LegacyUser, credentials_ref = legacyPassword,
            });
            Assert.Equal(HttpStatusCode.BadRequest, pasted.StatusCode);
            Assert.DoesNotContain(legacyPassword, await pasted.Content.ReadAsStringAsync());
            Assert.Contains("secret:NAME or env:NAME", await MessageAsync(pasted));

            var cancel = await http.PostAsJsonAsync(basePath + "/cancel", new { });
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
            state = await host.WaitForPhaseAsync(basePath + "/state", TimeSpan.FromSeconds(60), "Cancelled");

            Assert.Equal("Cancelled", state?["phase"]?.GetValue<string>());
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }

            await SwitchTrafficCrashHost.DeleteHubAsync(hub);

            await ClusterBed.ExecAsync("dba", 200, "mysql", $"DROP DATABASE IF EXISTS `vt_{target}`");
            Directory.Delete(root, true);
        }
    }
}
