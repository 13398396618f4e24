using System.Text.Json;
using Durable.Cli.Infrastructure;
using Durable.Functions.Runner;
using Durable.Functions.MoveTables;
using Durable.Functions.VDiff;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;
using Durable.Topology;
using Durable.Topology.Etcd;
using Durable.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Cli.Tests;

/// <summary>
/// The VDiff HTTP path end to end on the cluster: durablectl → a real Functions host (Kestrel, a private task hub on
/// Azurite, the VDiff orchestration registered as Program.cs registers it) → the real engine on a stream copied
/// commerce → customer, under a topology root and sidecar of this test's own.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VDiffClusterTests : IAsyncLifetime
{
    private const string Key = "cli-vdiff-key";
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private string Root => "/durable-test/vdcli_" + _suffix;
    private string Sidecar => "_vt_vdcli_" + _suffix;
    private string Table => "vdcli_" + _suffix;
    private string Workflow => "vdcli_" + _suffix;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "durablectl-vdiff-" + Guid.NewGuid().ToString("N"));
    private WebApplication _app = null!;
    private string _server = null!;

    private static MySqlConnectionOptions Dba(int uid, string? db)
    {
        var t = LocalCluster.Current.Tablet(uid);
        var (user, password) = LocalCluster.Current.Account("dba");
        return new MySqlConnectionOptions { Host = t.Host, Port = t.Port, User = user, Password = password, Database = db, SslMode = SslMode.Disabled };
    }

    private static async Task ExecAsync(int uid, string db, params string[] sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Dba(uid, db));
        foreach (var s in sql)
        {
            await c.ExecuteAsync(s);
        }
    }

    public async Task InitializeAsync()
    {
        var cluster = LocalCluster.Current;
        await TopologyAdmin.RegisterLocalClusterAsync(cluster.Path, cluster.EtcdEndpoints, Root);
        await ExecAsync(100, "vt_commerce",
            $"CREATE TABLE `{Table}` (id INT PRIMARY KEY, name VARCHAR(40), n BIGINT)",
            $"INSERT INTO `{Table}` SELECT seq, CONCAT('name', seq), seq * 7 FROM seq_1_to_3000");

        Directory.CreateDirectory(_dir);
        await File.WriteAllTextAsync(Path.Combine(_dir, "host.json"), TestHubHost.HostJson());
        var (user, password) = cluster.Account("filtered");
        var builder = LocalRunner.CreateBuilder([
            $"--AzureWebJobsScriptRoot={_dir}", "--urls=http://127.0.0.1:0", $"--DURABLE_HOST_KEY={Key}",
            TestHubHost.StorageArgument, "--Logging:LogLevel:Default=Warning",
            $"--{MoveTablesEnvironmentOptions.EtcdSetting}={cluster.EtcdEndpoints}", $"--{MoveTablesEnvironmentOptions.RootSetting}={Root}",
            $"--{MoveTablesEnvironmentOptions.EngineUserSetting}={user}", $"--{MoveTablesEnvironmentOptions.EnginePasswordSetting}={password}",
            $"--{MoveTablesEnvironmentOptions.SidecarSetting}={Sidecar}"]);
        builder.Services.AddMoveTables(builder.Configuration);
        builder.Services.AddVDiff(builder.Configuration);
        _app = LocalRunner.Build(builder);
        await _app.StartAsync();
        _server = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();

        // A copied stream of the workflow (no Streamer runs it: VDiff's alignment brings it to each snapshot's position).
        var engine = _app.Services.GetRequiredService<MoveTablesEnvironment>().Engine;
        var id = await engine.CreateStreamAsync(new StreamSpec
        {
            Workflow = Workflow, SourceKeyspace = "commerce", SourceShard = "0", TargetKeyspace = "customer", TargetShard = "0", TargetDb = "vt_customer",
            Filter = new StreamFilter([new TableRule(Table)]),
        });
        while (!(await engine.CopyChunkAsync("customer", "0", id, "vdiff-cli-test", new CopyBudget { MaxRows = 1000 })).Done)
        {
        }
    }

    public async Task DisposeAsync()
    {
        await TestHubHost.StopAndDeleteHubAsync(_app);
        await ExecAsync(100, "vt_commerce", $"DROP TABLE IF EXISTS `{Table}`");
        await ExecAsync(200, "vt_customer", $"DROP TABLE IF EXISTS `{Table}`");
        await ExecAsync(200, "mysql", $"DROP DATABASE IF EXISTS `{Sidecar}`");
        using var etcd = new EtcdConnection(LocalCluster.Current.EtcdEndpoints);
        await etcd.DeleteAsync(Root + "/", prefix: true);
        Directory.Delete(_dir, true);
    }

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new Dictionary<string, string?> { [DurableHostClient.KeyEnvironmentVariable] = Key, [DurableHostClient.ServerEnvironmentVariable] = _server };
        var code = await DurableCtl.RunAsync(["VDiff", "--workflow", Workflow, "--target-keyspace", "customer", .. args], output, error, n => env.GetValueOrDefault(n));
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Create_wait_show_corruption_repair_stop_resume_and_delete_through_the_host()
    {
        var (code, output, error) = await Run("create", "--wait", "--wait-update-interval", "1s", "--chunk-rows", "700");
        Assert.True(code == 0, output + error);
        Assert.Contains("State:        completed", output);
        Assert.Contains("RowsCompared: 3000", output);
        Assert.Contains("HasMismatch:  false", output);

        // One updated, one deleted and one extra row on the target: exactly those are reported.
        await ExecAsync(200, "vt_customer",
            $"UPDATE `{Table}` SET name = 'changed' WHERE id = 10",
            $"DELETE FROM `{Table}` WHERE id = 20",
            $"INSERT INTO `{Table}` VALUES (999999, 'extra', 1)");
        (code, output, error) = await Run("create", "--wait", "--format", "json");
        Assert.True(code == 0, output + error);
        var dirty = JsonDocument.Parse(output).RootElement;
        Assert.True(dirty.GetProperty("HasMismatch").GetBoolean());
        var table = dirty.GetProperty("TableSummary").GetProperty(Table);
        Assert.Equal(1, table.GetProperty("MismatchedRows").GetInt64());
        Assert.Equal(1, table.GetProperty("ExtraRowsSource").GetInt64());
        Assert.Equal(1, table.GetProperty("ExtraRowsTarget").GetInt64());
        var dirtyUuid = dirty.GetProperty("UUID").GetString()!;

        (code, output, _) = await Run("show", dirtyUuid, "--verbose", "--format", "json");
        Assert.Equal(0, code);
        var samples = JsonDocument.Parse(output).RootElement.GetProperty("Reports").GetProperty(Table).GetProperty("0");
        Assert.Equal("10", samples.GetProperty("MismatchedRowsSample")[0].GetProperty("Pk").GetProperty("id").GetString());
        Assert.Equal("20", samples.GetProperty("ExtraRowsSourceSample")[0].GetProperty("Pk").GetProperty("id").GetString());
        Assert.Equal("999999", samples.GetProperty("ExtraRowsTargetSample")[0].GetProperty("Pk").GetProperty("id").GetString());

        (code, output, error) = await Run("create", "--repair", "--wait");
        Assert.True(code == 0, output + error);
        var repairOutput = output;
        (code, output, error) = await Run("create", "--wait");
        Assert.True(code == 0, output + error);
        Assert.True(output.Contains("HasMismatch:  false", StringComparison.Ordinal), repairOutput + "\n----\n" + (await Run("show", "last", "--verbose", "--format", "json")).Out);

        (code, output, _) = await Run("show", "all");
        Assert.Equal(0, code);
        Assert.Equal(5, output.Trim().Split('\n').Length); // header + 4 VDiffs

        // A completed VDiff has nothing to stop, and cannot be resumed.
        (code, output, _) = await Run("stop", dirtyUuid);
        Assert.Equal(0, code);
        Assert.Contains("nothing to stop", output);
        (code, _, error) = await Run("resume", dirtyUuid);
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("only a stopped or failed VDiff can be resumed", error);

        // Bad input answered by the host: a workflow without streams, a table the workflow does not move.
        var output2 = new StringWriter();
        var error2 = new StringWriter();
        var env = new Dictionary<string, string?> { [DurableHostClient.KeyEnvironmentVariable] = Key, [DurableHostClient.ServerEnvironmentVariable] = _server };
        code = await DurableCtl.RunAsync(["VDiff", "--workflow", "no_such_wf", "--target-keyspace", "customer", "create"], output2, error2, n => env.GetValueOrDefault(n));
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Contains("Workflow 'no_such_wf' has no stream", error2.ToString());
        (code, _, error) = await Run("create", "--tables", "not_moved");
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("not_moved", error);

        (code, output, _) = await Run("delete", "all");
        Assert.Equal(0, code);
        Assert.Contains("deleted (4 shard result(s))", output);
        (code, _, error) = await Run("show", "last");
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Contains("No VDiff", error);
    }
}
