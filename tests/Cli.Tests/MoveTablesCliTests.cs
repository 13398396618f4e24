using System.Text.Json;
using Durable.Cli.Infrastructure;
using Durable.Testing;

namespace Durable.Cli.Tests;

/// <summary>
/// The MoveTables commands the seed replay does not reach, end to end from durablectl against a real host: create with
/// approvers, stop and start, a switch with Go durations held for a signed approval, approve, reverse traffic and
/// cancel after the rollback (the seeds' "After a cutover rollback"), plus the host's metrics.
/// </summary>
[Collection(CliClusterCollection.Name)]
[Trait("Category", "Integration")]
public sealed class MoveTablesCliTests(CliClusterHost host) : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    private string Workflow => "mtcli_" + _suffix;

    private string[] Tables => [$"mtca_{_suffix}", $"mtcb_{_suffix}"];

    public async Task InitializeAsync()
    {
        foreach (var t in Tables)
        {
            await CliClusterHost.ExecAsync(100, "vt_commerce",
                $"CREATE TABLE `{t}` (id BIGINT NOT NULL, v VARCHAR(40) NOT NULL, PRIMARY KEY (id))",
                $"INSERT INTO `{t}` SELECT seq, CONCAT('v', seq) FROM seq_1_to_100");
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var t in Tables)
        {
            await CliClusterHost.ExecAsync(100, "vt_commerce", $"DROP TABLE IF EXISTS `{t}`");
            await CliClusterHost.ExecAsync(200, "vt_customer", $"DROP TABLE IF EXISTS `{t}`");
        }
    }

    private Task<(int Code, string Out, string Err)> MoveTables(params string[] args) =>
        host.RunWithAsync(new Dictionary<string, string?> { ["DURABLE_APPROVER_KEY"] = Convert.ToBase64String(CliClusterHost.AliceKey) },
            ["MoveTables", "--workflow", Workflow, "--target-keyspace", "customer", .. args]);

    [Fact]
    public async Task Create_stop_start_switch_with_approval_reverse_and_cancel_from_the_cli()
    {
        var (code, output, error) = await host.RunAsync("RegisterLocalCluster", "--cluster-file", LocalCluster.Current.Path);
        Assert.True(code == ExitCodes.Ok, output + error);

        (code, output, error) = await MoveTables("create", "--source-keyspace", "commerce", "--tables", string.Join(',', Tables), "--approvers", "alice");
        Assert.True(code == ExitCodes.Ok, output + error);
        (code, output, error) = await MoveTables("Stop");
        Assert.True(code == ExitCodes.Ok, output + error);
        (code, output, error) = await MoveTables("Start");
        Assert.True(code == ExitCodes.Ok, output + error);
        await WaitAsync(async () =>
        {
            var (c, o, _) = await MoveTables("status", "--format", "json");
            return c == ExitCodes.Ok && !JsonDocument.Parse(o).RootElement.GetProperty("table_copy_state").EnumerateObject().Any();
        }, "the copy");

        // The VDiff schedule from the CLI against the host: on (the gate's rule becomes "scheduled"), a bad interval
        // refused as usage, then off again (the switch below must not wait for a scheduled VDiff).
        var vdiff = new[] { "VDiff", "--target-keyspace", "customer", "--workflow", Workflow, "schedule", "--interval" };
        (code, output, error) = await host.RunAsync([.. vdiff, "1h"]);
        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Contains("\"rule\": \"scheduled\"", (await MoveTables("status", "--format", "json")).Out);
        (code, _, error) = await host.RunAsync([.. vdiff, "soon"]);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("soon", error);
        (code, output, error) = await host.RunAsync([.. vdiff, "off"]);
        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Contains("\"rule\": \"on differences\"", (await MoveTables("status", "--format", "json")).Out);

        // MirrorTraffic before the switch: a percent outside 0-100 is a usage error (nothing sent); 5 % of REPLICA reads
        // is answered by the workflow and listed by status.
        (code, _, error) = await MoveTables("mirrortraffic", "--percent", "150");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--percent 150 is invalid", error);
        (code, output, error) = await MoveTables("MirrorTraffic", "--percent", "5", "--tablet-types", "replica");
        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Contains($"MirrorTraffic was successful for workflow customer.{Workflow}", output);
        Assert.Contains($"commerce.{Tables[0]}@replica -> customer.{Tables[0]} 5%", (await MoveTables("status")).Out);

        // Held for alice's approval, then approved (the approval is signed with the key the host knows her by).
        (code, output, error) = await MoveTables("SwitchTraffic", "--timeout", "30s", "--max-replication-lag-allowed", "1m");
        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Contains("waiting for approval", output);
        (code, output, error) = await MoveTables("approve", "--action", "SwitchTraffic", "--approver", "alice");
        Assert.True(code == ExitCodes.Ok, output + error);
        await WaitAsync(async () => (await Status())?.Contains("Writes Switched", StringComparison.Ordinal) == true && (await Status())?.Contains("Not Switched", StringComparison.Ordinal) == false, "the switch");

        // The switch removed the mirror rules, and mirroring after it is refused.
        Assert.DoesNotContain(Tables[0], (await host.RunAsync("GetMirrorRules")).Out);
        (code, output, error) = await MoveTables("mirrortraffic", "--percent", "1");
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("Cannot mirror traffic", output + error);

        (code, output, error) = await MoveTables("ReverseTraffic", "--timeout", "30s");
        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Contains("Reads Not Switched. Writes Not Switched", await Status());

        (code, output, error) = await MoveTables("Cancel");
        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Equal("0", await CliClusterHost.ScalarAsync(LocalCluster.Current, 200, "mysql",
            $"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'vt_customer' AND table_name = '{Tables[0]}'"));
        Assert.Equal("100", await CliClusterHost.ScalarAsync(LocalCluster.Current, 100, "vt_commerce", $"SELECT COUNT(*) FROM `{Tables[0]}`"));

        // A workflow that never started, deleted with the Workflow command (as MoveTables cancel).
        (code, output, error) = await host.RunAsync("MoveTables", "--workflow", Workflow + "_2", "--target-keyspace", "customer", "create",
            "--source-keyspace", "commerce", "--tables", Tables[0], "--auto-start=false");
        Assert.True(code == ExitCodes.Ok, output + error);
        (code, output, error) = await host.RunAsync("Workflow", "--keyspace", "customer", "delete", "--workflow", Workflow + "_2");
        Assert.True(code == ExitCodes.Ok, output + error);
        (code, output, error) = await host.RunAsync("Workflow", "--keyspace", "customer", "show", "--workflow", Workflow + "_2");
        Assert.True(code != ExitCodes.Ok || !output.Contains("\"Running\"", StringComparison.Ordinal), output + error);

        (code, output, error) = await host.RunAsync("GetMetrics");
        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Contains("# TYPE", output);
    }

    private async Task<string?> Status()
    {
        var (code, output, _) = await MoveTables("status", "--format", "json");
        return code == ExitCodes.Ok ? JsonDocument.Parse(output).RootElement.GetProperty("traffic_state").GetString() : null;
    }

    private static async Task WaitAsync(Func<Task<bool>> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(250);
        }
    }
}
