using Durable.Cli.Infrastructure;
using Durable.Composition;
using Durable.Functions.MoveTables;
using Durable.Functions.Runner;
using Durable.Functions.Topology;
using Durable.Functions.VDiff;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;
using Durable.Topology.Etcd;
using Durable.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Cli.Tests;

/// <summary>
/// One real host for the CLI's end-to-end tests (the seed replay, Migrate, the MoveTables lifecycle): a Functions host
/// on Kestrel with MoveTables, Migrate, VDiff and the topology API as the app registers them, on a topology root,
/// sidecar and task hub of its own, plus an in-process Streamer for its streams. The host gets the cluster's secrets
/// file (the mounted cluster's account) and no VDiff schedule (these tests do not test the VDiff gate). Shared by the
/// classes of <see cref="CliClusterCollection"/>: a host start and stop costs seconds on a real hub.
/// </summary>
public sealed class CliClusterHost : IAsyncLifetime
{
    public const string Key = "cli-e2e-key";

    /// <summary>Approver alice's key, configured on the host (DURABLE_APPROVER_KEYS) for the approve command's test.</summary>
    public static readonly byte[] AliceKey = Enumerable.Range(40, 32).Select(i => (byte)i).ToArray();
    private readonly CancellationTokenSource _streamerStop = new();
    private Task? _streamer;
    private WebApplication _app = null!;
    private ServiceProvider _engine = null!;

    public string Suffix { get; } = Guid.NewGuid().ToString("N")[..8];

    public string Root => "/durable-test/clie2e_" + Suffix;

    public string Sidecar => "_vt_clie2e_" + Suffix;

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "durablectl-e2e-" + Guid.NewGuid().ToString("N"));

    /// <summary>The host's URL, e.g. http://127.0.0.1:41234.</summary>
    public string Server { get; private set; } = null!;

    /// <summary>The host as vtctldclient's --server spells it: HOST:PORT.</summary>
    public string HostPort => new Uri(Server).Authority;

    public async Task InitializeAsync()
    {
        var cluster = LocalCluster.Current;
        Directory.CreateDirectory(Dir);
        await File.WriteAllTextAsync(Path.Combine(Dir, "host.json"), TestHubHost.HostJson());
        var (user, password) = cluster.Account("filtered");
        var builder = LocalRunner.CreateBuilder([
            $"--AzureWebJobsScriptRoot={Dir}", "--urls=http://127.0.0.1:0", $"--DURABLE_HOST_KEY={Key}",
            TestHubHost.StorageArgument, "--Logging:LogLevel:Default=Warning",
            $"--{MoveTablesEnvironmentOptions.EtcdSetting}={cluster.EtcdEndpoints}", $"--{MoveTablesEnvironmentOptions.RootSetting}={Root}",
            $"--{MoveTablesEnvironmentOptions.EngineUserSetting}={user}", $"--{MoveTablesEnvironmentOptions.EnginePasswordSetting}={password}",
            $"--{MoveTablesEnvironmentOptions.SidecarSetting}={Sidecar}", $"--{MoveTablesEnvironmentOptions.SecretsFileSetting}={cluster.File.SecretsFile}",
            $"--{EngineOptions.VDiffIntervalSetting}=off", $"--{ConfiguredApproverKeys.Setting}=alice={Convert.ToBase64String(AliceKey)}"]);
        builder.Services.AddMoveTables(builder.Configuration);
        builder.Services.AddVDiff(builder.Configuration);
        builder.Services.AddTopologyAdmin();
        _app = LocalRunner.Build(builder);
        await _app.StartAsync();
        Server = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();

        // The streams run in this process, as the Streamer service runs them next to a deployed host.
        _engine = DurableEngineServices.BuildEngine(new MoveTablesEnvironmentOptions
        {
            EtcdEndpoints = cluster.EtcdEndpoints, TopologyRoot = Root, EngineUser = user, EnginePassword = password, SidecarName = Sidecar,
            SecretsFile = cluster.File.SecretsFile,
        });
        var env = _engine.GetRequiredService<MoveTablesEnvironment>();
        var supervisor = new StreamerSupervisor(env.Engine, env.Etcd, new StreamerOptions { OwnershipRoot = Root + "/global", PollInterval = TimeSpan.FromMilliseconds(100) }, NullLogger.Instance);
        _streamer = Task.Run(() => supervisor.RunAsync(_streamerStop.Token));
    }

    public async Task DisposeAsync()
    {
        await _streamerStop.CancelAsync();
        if (_streamer is not null)
        {
            try
            {
                await _streamer;
            }
            catch (OperationCanceledException)
            {
                // stopped as asked
            }
        }

        await TestHubHost.StopAndDeleteHubAsync(_app);
        await _engine.DisposeAsync();
        await ExecAsync(200, "mysql", $"DROP DATABASE IF EXISTS `{Sidecar}`");
        await ExecAsync(100, "mysql", $"DROP DATABASE IF EXISTS `{Sidecar}`");
        using var etcd = new EtcdConnection(LocalCluster.Current.EtcdEndpoints);
        await etcd.DeleteAsync(Root + "/", prefix: true);
        Directory.Delete(Dir, true);
    }

    /// <summary>durablectl with this host's key, and the host as DURABLE_SERVER unless the arguments name a --server.</summary>
    public Task<(int Code, string Out, string Err)> RunAsync(params string[] args) => RunWithAsync(new Dictionary<string, string?>(), args);

    /// <summary>As <see cref="RunAsync"/>, with more environment variables (e.g. an approver's key).</summary>
    public async Task<(int Code, string Out, string Err)> RunWithAsync(Dictionary<string, string?> environment, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new Dictionary<string, string?>(environment) { [DurableHostClient.KeyEnvironmentVariable] = Key, [DurableHostClient.ServerEnvironmentVariable] = Server };
        var code = await DurableCtl.RunAsync(args, output, error, n => env.GetValueOrDefault(n));
        return (code, output.ToString(), error.ToString());
    }

    public static MySqlConnectionOptions Dba(LocalCluster cluster, int uid, string? db)
    {
        var t = cluster.Tablet(uid);
        var (user, password) = cluster.Account("dba");
        return new MySqlConnectionOptions { Host = t.Host, Port = t.Port, User = user, Password = password, Database = db, SslMode = SslMode.Disabled };
    }

    public static async Task ExecAsync(int uid, string db, params string[] sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Dba(LocalCluster.Current, uid, db));
        foreach (var s in sql)
        {
            await c.ExecuteAsync(s);
        }
    }

    public static async Task<string?> ScalarAsync(LocalCluster cluster, int uid, string db, string sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Dba(cluster, uid, db));
        return await c.QueryScalarAsync(sql);
    }
}

/// <summary>The CLI end-to-end classes share one <see cref="CliClusterHost"/> and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class CliClusterCollection : ICollectionFixture<CliClusterHost>
{
    public const string Name = "cli-cluster";
}
