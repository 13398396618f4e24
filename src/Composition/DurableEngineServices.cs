using System.Text.Json;
using Durable.MySql;
using Durable.Replication;
using Durable.Topology;
using Durable.Topology.Etcd;
using Durable.VDiff;
using Durable.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Durable.Composition;

/// <summary>
/// The composition root of the engines: every process (the Functions host, the Streamer, test beds) gets its topology,
/// replication engine and workflow services from here, with one etcd client per process. Services are singletons
/// created on first use, so a host without a topology still starts and a request that needs one gets an error naming
/// the missing setting.
/// </summary>
public static class DurableEngineServices
{
    /// <summary>
    /// The Functions host: settings bound from the flat app settings (<see cref="EngineOptions"/>) of
    /// <paramref name="configuration"/>, or of the host's own configuration when none is given.
    /// </summary>
    public static IServiceCollection AddDurableEngine(this IServiceCollection services, IConfiguration? configuration = null)
    {
        var options = services.AddOptions<EngineOptions>();
        if (configuration is null)
        {
            options.Configure<IConfiguration>((o, c) => c.Bind(o));
        }
        else
        {
            options.Bind(configuration);
        }

        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<EngineOptions>>().Value.Resolve()
            ?? throw new InvalidOperationException(
                $"MoveTables is not configured: set {MoveTablesEnvironmentOptions.EtcdSetting} and {MoveTablesEnvironmentOptions.EnginePasswordSetting}."));
        return services.AddEngineServices();
    }

    /// <summary>A process that has its settings resolved already (the Streamer from its own section, test beds).</summary>
    public static IServiceCollection AddDurableEngine(this IServiceCollection services, MoveTablesEnvironmentOptions options)
    {
        services.AddOptions<EngineOptions>().Configure(o =>
        {
            o.EtcdEndpoints = options.EtcdEndpoints;
            o.TopologyRoot = options.TopologyRoot;
        });
        services.TryAddSingleton(options);
        return services.AddEngineServices();
    }

    /// <summary>
    /// A provider of its own with the engine on <paramref name="options"/> (test beds, tools); <paramref name="configure"/>
    /// may register replacements first (e.g. a fixed <see cref="ITabletResolver"/>). Disposing it closes the etcd client.
    /// </summary>
    public static ServiceProvider BuildEngine(MoveTablesEnvironmentOptions options, Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        configure?.Invoke(services);
        return services.AddDurableEngine(options).BuildServiceProvider();
    }

    /// <summary>
    /// The engine for tools run beside the Streamer (the copy benchmark, the crash tests' child process), configured as
    /// the Streamer is: the <c>Streamer__*</c> environment variables (EtcdEndpoints, TopologyRoot, Sidecar, User,
    /// Password) and the fixed tablet list of <c>Streamer__TabletsFile</c>.
    /// </summary>
    public static ServiceProvider BuildToolEngine(MoveTablesSettings settings)
    {
        static string Setting(string name) => Environment.GetEnvironmentVariable("Streamer__" + name) is { Length: > 0 } value
            ? value : throw new InvalidOperationException($"Environment variable Streamer__{name} is not set.");

        var tablets = JsonSerializer.Deserialize<List<TabletEndpoint>>(File.ReadAllText(Setting("TabletsFile")), new JsonSerializerOptions(JsonSerializerDefaults.Web))
            ?? throw new InvalidOperationException($"Streamer__TabletsFile '{Setting("TabletsFile")}' holds no tablet list.");
        return BuildEngine(new MoveTablesEnvironmentOptions
        {
            EtcdEndpoints = Setting("EtcdEndpoints"),
            TopologyRoot = Setting("TopologyRoot"),
            EngineUser = Setting("User"),
            EnginePassword = Setting("Password"),
            SidecarName = Setting("Sidecar"),
            Settings = settings,
        }, services => services.AddSingleton<ITabletResolver>(new StaticTabletResolver(tablets)));
    }

    /// <summary>
    /// The sweep that ends traffic commands whose host died (<see cref="InterruptedCommandRecoveryService"/>): every
    /// Functions host and every Streamer runs it.
    /// </summary>
    public static IServiceCollection AddInterruptedCommandRecovery(this IServiceCollection services)
    {
        services.AddHostedService<InterruptedCommandRecoveryService>();
        return services;
    }

    private static IServiceCollection AddEngineServices(this IServiceCollection services)
    {
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => CreateEtcd(sp.GetRequiredService<IOptions<EngineOptions>>().Value, sp.GetRequiredService<ILogger<EtcdConnection>>()));
        services.TryAddSingleton(sp => new TopologyStore(sp.GetRequiredService<EtcdConnection>(),
            new TopologyOptions { Root = TopologyRoot(sp.GetRequiredService<IOptions<EngineOptions>>().Value) }));
        services.TryAddSingleton(sp => new TopologyAdmin(sp.GetRequiredService<TopologyStore>()));
        services.TryAddSingleton<ITabletResolver>(sp =>
        {
            var store = sp.GetRequiredService<TopologyStore>();
            return new TopologyTabletResolver(store, new TabletPicker(store, new MySqlHandshakeProbe()));
        });
        services.TryAddSingleton(sp => new ReplicationEngineOptions { SidecarName = sp.GetRequiredService<MoveTablesEnvironmentOptions>().SidecarName });
        services.TryAddSingleton(CreateReplicationEngine);
        services.TryAddSingleton(sp => new WorkflowRegistry(sp.GetRequiredService<TopologyStore>()));
        services.TryAddSingleton(sp => new ApprovalVerifier(
            ConfiguredApproverKeys.Parse(sp.GetRequiredService<MoveTablesEnvironmentOptions>().ApproverKeys),
            new EtcdNonceStore(sp.GetRequiredService<WorkflowRegistry>())));
        // Cutover hooks call webhooks; one client for the process (sockets are pooled, not opened per call).
        services.TryAddSingleton<HttpClient>();
        services.TryAddSingleton(CreateMoveTablesOperations);
        services.TryAddSingleton<IMoveTablesOperations>(sp => sp.GetRequiredService<ClusterMoveTablesOperations>());
        services.TryAddSingleton(sp => new VDiffService(sp.GetRequiredService<ReplicationEngine>(), sp.GetRequiredService<ILogger<VDiffService>>()));
        services.TryAddSingleton<IVDiffOperations>(sp => sp.GetRequiredService<VDiffService>());
        services.TryAddSingleton<MoveTablesEnvironment>();
        return services;
    }

    /// <summary>
    /// The etcd connection of this process, from DURABLE_ETCD_ENDPOINTS; the errors name the setting and a valid example.
    /// Its reconnects and failovers are logged through <paramref name="logger"/> (never a password).
    /// </summary>
    private static EtcdConnection CreateEtcd(EngineOptions options, ILogger logger)
    {
        if (!options.IsConfigured)
        {
            throw new TopologyNotConfiguredException(
                $"The topology is not configured on this host: set {MoveTablesEnvironmentOptions.EtcdSetting} to etcd's client URLs (comma-separated, e.g. http://127.0.0.1:2379); " +
                "`./infra/local/cluster.sh env` exports it for the local cluster.");
        }

        var root = TopologyRoot(options);
        if (!root.StartsWith('/'))
        {
            throw new TopologyNotConfiguredException($"{MoveTablesEnvironmentOptions.RootSetting} is '{root}'; it must be an absolute etcd key prefix such as /durable.");
        }

        try
        {
            return new EtcdConnection(options.EtcdEndpoints!.Trim(), logger);
        }
        catch (ArgumentException e)
        {
            throw new TopologyNotConfiguredException($"{MoveTablesEnvironmentOptions.EtcdSetting} is not valid: {e.Message}");
        }
    }

    /// <summary>DURABLE_TOPO_ROOT, else the library's default (<c>/durable</c>).</summary>
    public static string TopologyRoot(EngineOptions options) =>
        options.TopologyRoot?.Trim() is { Length: > 0 } root ? root : new TopologyOptions().Root;

    private static ReplicationEngine CreateReplicationEngine(IServiceProvider sp)
    {
        var options = sp.GetRequiredService<MoveTablesEnvironmentOptions>();
        // Each tablet is logged in to with its record's own account when it has one (an adopted server's), else the engine's.
        var engineAccount = new ReplicationCredentials(options.EngineUser, options.EnginePassword);
        var connector = new TabletConnector(sp.GetRequiredService<ITabletResolver>(), engineAccount)
        {
            Accounts = new TabletAccounts(engineAccount, options.Settings.Secrets, options.SecretsFile),
        };
        return new ReplicationEngine(connector, new EtcdServerIdSource(sp.GetRequiredService<TopologyStore>()), sp.GetRequiredService<ReplicationEngineOptions>());
    }

    private static ClusterMoveTablesOperations CreateMoveTablesOperations(IServiceProvider sp)
    {
        var options = sp.GetRequiredService<MoveTablesEnvironmentOptions>();
        return new ClusterMoveTablesOperations(sp.GetRequiredService<TopologyStore>(), sp.GetRequiredService<ReplicationEngine>(), sp.GetRequiredService<ApprovalVerifier>(),
            options.Settings with
            {
                // The guards let the engine's own account through unless the settings name the exempt accounts.
                ExemptUsers = options.Settings.ExemptUsers.Count > 0 ? options.Settings.ExemptUsers : [options.EngineUser],
            },
            sp.GetRequiredService<HttpClient>(), sp.GetRequiredService<ILogger<ClusterMoveTablesOperations>>());
    }
}
