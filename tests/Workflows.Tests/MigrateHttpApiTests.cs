using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Durable.Testing;
using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// The Migrate HTTP API on a private Functions host process (its own task hub, port and function key; the test's
/// topology root): idempotent create, refused options, show/status, switch refused with the seeds' reason, complete.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MigrateHttpApiTests
{
    [Fact]
    public async Task Migrate_over_http_create_is_idempotent_switch_is_refused_and_complete_keeps_the_source()
    {
        await using var bed = new ClusterBed("mighttp");
        await bed.InitAsync();
        bed.StartStreamer(); // the host runs no Streamer; the test's in-process one runs the workflow's streams
        var admin = new TopologyAdmin(bed.Env.Store);
        var ext = ExternalCluster.Current;
        var target = "migh_" + bed.Suffix;
        var t200 = LocalCluster.Current.Tablet(200);
        await admin.CreateKeyspaceAsync(target);
        await admin.AddTabletAsync(new AddTabletRequest($"zone1-{Random.Shared.Next(20_000, 90_000)}", target, "0", "PRIMARY", t200.Host, t200.Port,
            "durable_filtered", "secret:DURABLE_FILTERED_PASSWORD", $"vt_{target}"));
        await ClusterBed.ExecAsync("dba", 200, "mysql", $"CREATE DATABASE `vt_{target}`");

        var suffix = bed.Suffix.Replace("_", "", StringComparison.Ordinal);
        var hub = "Mig" + suffix;
        var root = Path.Combine(Path.GetTempPath(), "durable-mig-host-" + suffix);
        Directory.CreateDirectory(root);
        SwitchTrafficCrashHost? host = null;
        try
        {
            // The host built in this test run's configuration (CI builds Release only; a hard-coded Debug path found no host).
            host = await SwitchTrafficCrashHost.StartAsync(
                SwitchTrafficCrashHost.PrepareBinaries(Path.Combine(root, "bin")), root, hub, bed, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), faultPoints: null,
                new Dictionary<string, string> { ["DURABLE_SECRETS_FILE"] = LocalCluster.Current.File.SecretsFile });
            var http = host.Http;

            // The external cluster, mounted with its account, through the API.
            var mount = await http.PostAsJsonAsync("/api/externalsources", new
            {
                name = "ext1", type = "vitess", topo_server = ext.EtcdEndpoints.Split(',')[0], topo_root = "/durable/global",
                user = "durable_filtered", credentials_ref = "secret:DURABLE_EXT1_FILTERED_PASSWORD",
            });
            Assert.True(mount.StatusCode == HttpStatusCode.Created, await mount.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsJsonAsync("/api/externalsources", new { name = "ext1", type = "unmanaged", keyspace = "k", host = "h", port = 1, db_name = "d", user = "u", credentials_ref = "secret:X" })).StatusCode);

            var basePath = $"/api/migrate/{target}/import";
            var refusedFlag = await http.PostAsJsonAsync(basePath + "/create", new { source_keyspace = "commerce", mount_name = "ext1", all_tables = true, enable_reverse_replication = true });
            Assert.Equal(HttpStatusCode.BadRequest, refusedFlag.StatusCode);
            Assert.Contains("does not take enable_reverse_replication", await refusedFlag.Content.ReadAsStringAsync());
            var noMount = await http.PostAsJsonAsync(basePath + "/create", new { source_keyspace = "commerce", all_tables = true });
            Assert.Equal(HttpStatusCode.BadRequest, noMount.StatusCode);
            Assert.Contains("Migrate needs --mount-name", await noMount.Content.ReadAsStringAsync());

            var body = new { source_keyspace = "commerce", mount_name = "ext1", tables = new[] { "product" }, tablet_types = "REPLICA" };
            var created = await http.PostAsJsonAsync(basePath + "/create", body);
            var createdText = await created.Content.ReadAsStringAsync();
            Assert.True(created.StatusCode == HttpStatusCode.Accepted, createdText);
            var createdJson = JsonNode.Parse(createdText)!;
            Assert.Equal($"migrate:{target}.import", createdJson["id"]!.GetValue<string>());
            Assert.Contains($"/api/migrate/{target}/import/instance", createdJson["statusQueryGetUri"]!.GetValue<string>());
            var again = JsonNode.Parse(await (await http.PostAsJsonAsync(basePath + "/create", body)).Content.ReadAsStringAsync())!;
            Assert.True(again["existing"]!.GetValue<bool>());
            Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsJsonAsync(basePath + "/create", body with { tablet_types = "PRIMARY" })).StatusCode);

            var state = await host.WaitForPhaseAsync(basePath + "/state", TimeSpan.FromSeconds(120), "Running", "Failed");

            Assert.True(state?["phase"]?.GetValue<string>() == "Running", state?.ToJsonString());
            // show as vtctldclient prints a Migrate: the mounted cluster in external_cluster, not inside the keyspace.
            var show = await http.GetAsync(basePath + "/show");
            Assert.Equal(HttpStatusCode.OK, show.StatusCode);
            var shown = JsonNode.Parse(await show.Content.ReadAsStringAsync())!["workflows"]![0]!;
            Assert.Equal("Migrate", shown["workflow_type"]!.GetValue<string>());
            Assert.Equal("commerce", shown["source"]!["keyspace"]!.GetValue<string>());
            Assert.Equal("ext1", shown["source"]!["external_cluster"]!.GetValue<string>());
            var stream = shown["shard_streams"]!.AsObject().First().Value!["streams"]![0]!;
            Assert.Equal("ext1", stream["binlog_source"]!["external_cluster"]!.GetValue<string>());
            Assert.NotEmpty(stream["logs"]!.AsArray());
            var quiet = JsonNode.Parse(await (await http.GetAsync(basePath + "/show?include_logs=false")).Content.ReadAsStringAsync())!;
            Assert.Null(quiet["workflows"]![0]!["shard_streams"]!.AsObject().First().Value!["streams"]![0]!["logs"]);
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync(basePath + "/show?include_logs=maybe")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(basePath + "/status")).StatusCode);

            var swap = await http.PostAsJsonAsync(basePath + "/switchtraffic", new { });
            Assert.Equal(HttpStatusCode.Conflict, swap.StatusCode);
            Assert.Contains("not available for Migrate", await swap.Content.ReadAsStringAsync());

            var complete = await http.PostAsJsonAsync(basePath + "/complete", new { });
            Assert.Equal(HttpStatusCode.Accepted, complete.StatusCode);
            state = await host.WaitForPhaseAsync(basePath + "/state", TimeSpan.FromSeconds(60), "Completed");

            Assert.Equal("Completed", state?["phase"]?.GetValue<string>());
            Assert.Equal(
                await ClusterBed.ScalarAsync("dba", 200, $"vt_{target}", "SELECT GROUP_CONCAT(sku ORDER BY sku) FROM product"),
                await ExternalScalarAsync("SELECT GROUP_CONCAT(sku ORDER BY sku) FROM product"));
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

    private static async Task<string?> ExternalScalarAsync(string sql)
    {
        var ext = ExternalCluster.Current;
        var t = ext.Primary("commerce");
        var (user, password) = ext.Account("dba");
        await using var c = await Durable.MySql.MySqlConnection.OpenAsync(new Durable.MySql.MySqlConnectionOptions
        {
            Host = t.Host, Port = t.Port, User = user, Password = password, Database = "vt_commerce", SslMode = Durable.MySql.SslMode.Disabled,
        });
        return await c.QueryScalarAsync(sql);
    }
}
