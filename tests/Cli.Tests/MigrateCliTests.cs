using System.Text.Json;
using Durable.Cli.Infrastructure;
using Durable.Testing;

namespace Durable.Cli.Tests;

/// <summary>
/// Migrate end to end from durablectl, as seed 003's lifecycle: the external cluster registered with its account,
/// a target keyspace and tablet added, Migrate create with the flags the seeds use, show, status, stop, start, a
/// repeated create, complete; and a second workflow cancelled. The Migrate bug of issue 19 lived because no test did this.
/// </summary>
[Collection(CliClusterCollection.Name)]
[Trait("Category", "Integration")]
public sealed class MigrateCliTests(CliClusterHost host)
{
    [Fact]
    public async Task Migrate_create_show_status_stop_start_complete_and_cancel_from_the_cli()
    {
        var ext = ExternalCluster.Current;
        var target = "migcli_" + host.Suffix;
        var mount = "extcli_" + host.Suffix;
        var t200 = LocalCluster.Current.Tablet(200);
        await CliClusterHost.ExecAsync(200, "mysql", $"CREATE DATABASE `vt_{target}`");
        try
        {
            var (code, output, error) = await host.RunAsync("CreateKeyspace", target);
            Assert.True(code == ExitCodes.Ok, output + error);
            (code, output, error) = await host.RunAsync("AddTablet", "--alias", $"zone1-{Random.Shared.Next(20_000, 90_000)}", "--keyspace", target, "--shard", "0",
                "--type", "PRIMARY", "--host", t200.Host, "--port", t200.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--user", "durable_filtered", "--credentials", "secret:DURABLE_FILTERED_PASSWORD", "--db-name", $"vt_{target}");
            Assert.True(code == ExitCodes.Ok, output + error);

            // The seeds' Mount register, with the account the target reads the source tablets with.
            (code, output, error) = await host.RunAsync("RegisterExternalSource", "--name", mount, "--type", "vitess",
                "--topo-server", new Uri(ext.EtcdEndpoints.Split(',')[0]).Authority, "--topo-root", ext.TopologyRoot + "/global",
                "--user", "durable_filtered", "--credentials-ref", "secret:DURABLE_EXT1_FILTERED_PASSWORD");
            Assert.True(code == ExitCodes.Ok, output + error);
            Assert.Contains($"Successfully registered external source {mount}", output);

            // seed 003: Migrate --workflow import --target-keyspace customer create --source-keyspace commerce --mount-name ext1 --tablet-types replica
            string[] create = ["Migrate", "--workflow", "import", "--target-keyspace", target, "create", "--source-keyspace", "commerce", "--mount-name", mount,
                "--tablet-types", "replica", "--tables", "product", "--on-ddl", "STOP", "--defer-secondary-keys", "--cells", LocalCluster.Current.Cell, "--approvers", "alice"];
            (code, output, error) = await host.RunAsync(create);
            Assert.True(code == ExitCodes.Ok, output + error);
            Assert.Contains($"{target}.import", output);
            Assert.Contains("was created", output);

            (code, output, error) = await host.RunAsync(create);
            Assert.True(code == ExitCodes.Ok, output + error);
            Assert.Contains("already exists", output);

            (code, output, error) = await host.RunAsync("Migrate", "--workflow", "import", "--target-keyspace", target, "show");
            Assert.True(code == ExitCodes.Ok, output + error);
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(output).RootElement.ValueKind);
            (code, output, error) = await host.RunAsync("Migrate", "--workflow", "import", "--target-keyspace", target, "status", "--format", "json");
            Assert.True(code == ExitCodes.Ok, output + error);
            Assert.True(JsonDocument.Parse(output).RootElement.TryGetProperty("shard_streams", out _), output);

            (code, output, error) = await host.RunAsync("Migrate", "--workflow", "import", "--target-keyspace", target, "stop");
            Assert.True(code == ExitCodes.Ok, output + error);
            (code, output, error) = await host.RunAsync("Migrate", "--workflow", "import", "--target-keyspace", target, "start");
            Assert.True(code == ExitCodes.Ok, output + error);

            // complete once the copy is done: the target has the source's rows, the source keeps them.
            var expected = await CliClusterHost.ScalarAsync(ext, ext.Primary("commerce").Uid, "vt_commerce", "SELECT COUNT(*) FROM product");
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (await CountAsync(target) != expected && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }

            Assert.Equal(expected, await CountAsync(target));
            // Complete waits for alice's signed approval (create --approvers alice), then runs.
            (code, output, error) = await host.RunAsync("Migrate", "--workflow", "import", "--target-keyspace", target, "Complete");
            Assert.True(code == ExitCodes.Ok, output + error);
            Assert.Contains("waiting for approval", output);
            (code, output, error) = await host.RunWithAsync(new Dictionary<string, string?> { ["DURABLE_APPROVER_KEY"] = Convert.ToBase64String(CliClusterHost.AliceKey) },
                "Migrate", "--workflow", "import", "--target-keyspace", target, "approve", "--action", "Complete", "--approver", "alice");
            Assert.True(code == ExitCodes.Ok, output + error);
            var completeDeadline = DateTime.UtcNow.AddSeconds(60);
            string phase;
            do
            {
                await Task.Delay(250);
                (code, output, _) = await host.RunAsync("Migrate", "--workflow", "import", "--target-keyspace", target, "status", "--format", "json");
                phase = code == ExitCodes.Ok && JsonDocument.Parse(output).RootElement.TryGetProperty("phase", out var ph) ? ph.GetString() ?? "" : "";
            }
            while (phase != "Completed" && DateTime.UtcNow < completeDeadline);
            Assert.True(phase == "Completed", output);
            Assert.Equal(expected, await CliClusterHost.ScalarAsync(ext, ext.Primary("commerce").Uid, "vt_commerce", "SELECT COUNT(*) FROM product"));

            // A second workflow, cancelled before it completes: its target table is dropped.
            (code, output, error) = await host.RunAsync("Migrate", "--workflow", "import2", "--target-keyspace", target, "create", "--source-keyspace", "commerce",
                "--mount-name", mount, "--tables", "corder", "--tablet-types", "REPLICA", "--auto-start=false");
            Assert.True(code == ExitCodes.Ok, output + error);
            (code, output, error) = await host.RunAsync("Migrate", "--workflow", "import2", "--target-keyspace", target, "cancel");
            Assert.True(code == ExitCodes.Ok, output + error);
            Assert.Equal("0", await CliClusterHost.ScalarAsync(LocalCluster.Current, 200, "mysql",
                $"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'vt_{target}' AND table_name = 'corder'"));

            (code, output, error) = await host.RunAsync("Mount", "unregister", "--name", mount);
            Assert.True(code == ExitCodes.Ok, output + error);
        }
        finally
        {
            await CliClusterHost.ExecAsync(200, "mysql", $"DROP DATABASE IF EXISTS `vt_{target}`");
        }
    }

    private static Task<string?> CountAsync(string target) =>
        CliClusterHost.ScalarAsync(LocalCluster.Current, 200, $"vt_{target}", "SELECT COUNT(*) FROM product");
}
