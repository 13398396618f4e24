using System.Net;
using System.Net.Sockets;
using Durable.MySql;
using Durable.Routing;
using Durable.Routing.Following;
using Durable.Testing;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.AspNetCore.Builder;

namespace Durable.Gateway.Tests;

/// <summary>
/// A gateway started in-process on free ports against the local cluster: its tablets registered under a private
/// topology root (so helpers test side by side), the real StatementRouter, GatewayTopology, BackendPicker and
/// TrafficHolds following it (or, for the tests of the session's side of a hold, holds the test drives by hand).
/// Clients log in as <see cref="User"/>.
/// </summary>
internal sealed class GatewayUnderTest : IAsyncDisposable
{
    public const string User = "gwtest";
    public const string Password = "gw-Secret-7";

    private readonly WebApplication _app;
    private readonly EtcdConnection _etcd;
    private readonly GatewayTopology _topology;
    private readonly BackendPicker _picker;
    private readonly TrafficHolds? _trafficHolds;

    private GatewayUnderTest(WebApplication app, EtcdConnection etcd, string root, GatewayTopology topology, BackendPicker picker, ManualHolds? holds, TrafficHolds? trafficHolds, GatewaySettings settings)
    {
        _app = app;
        _etcd = etcd;
        Root = root;
        _topology = topology;
        _picker = picker;
        ManualHolds = holds;
        _trafficHolds = trafficHolds;
        Settings = settings;
    }

    public string Root { get; }

    /// <summary>Set when the gateway was started with holds driven by hand.</summary>
    public ManualHolds? ManualHolds { get; }

    public GatewaySettings Settings { get; }

    public int Port => _app.Endpoints().MySqlPort;

    public int HttpPort => _app.Endpoints().HttpPort;

    public WebApplication App => _app;

    public static async Task<GatewayUnderTest> StartAsync(Action<GatewaySettings>? configure = null, string backendRole = "app", bool manualHolds = false, Func<TopologyAdmin, Task>? addToTopology = null)
    {
        var cluster = LocalCluster.Current;
        var root = $"/durable-test/gw-{Guid.NewGuid():N}";
        var etcd = new EtcdConnection(cluster.EtcdEndpoints);
        var store = new TopologyStore(etcd, new TopologyOptions { Root = root, LockTtl = TimeSpan.FromSeconds(10) });
        await TopologyAdmin.RegisterLocalClusterAsync(cluster.Path, root: root);
        if (addToTopology is not null)
        {
            await addToTopology(new TopologyAdmin(store));
        }
        var (backendUser, backendPassword) = cluster.Account(backendRole);
        var settings = new GatewaySettings
        {
            EtcdEndpoints = cluster.EtcdEndpoints,
            TopologyRoot = root,
            Cell = cluster.Cell,
            Name = "gateway-test",
            MySqlPort = 0,
            HttpPort = FreePort(),
            BackendUser = backendUser,
            BackendPassword = backendPassword,
            Accounts = [new GatewayAccount { User = User, Password = Password }],
            DefaultKeyspace = "commerce",
            DrainSeconds = 5,
            QueryLog = true,
        };
        configure?.Invoke(settings);
        settings.Validate();
        var topology = new GatewayTopology(store);
        var picker = new BackendPicker(topology, new MySqlReplicationProbe(LocalCluster.ReadSecrets(cluster.File.SecretsFile)),
            new BackendPickerOptions { Cell = cluster.Cell, ProbeInterval = TimeSpan.FromSeconds(1) });
        var manual = manualHolds ? new ManualHolds() : null;
        var traffic = manualHolds ? null : new TrafficHolds(new TrafficHoldStore(store), topology,
            new TrafficHoldsOptions { Name = settings.ResolvedName, Cell = settings.Cell, Limits = settings.HoldLimits });
        var routing = new GatewayRouting(new StatementRouter(), topology, picker, (ITrafficHolds?)manual ?? traffic!, async ct =>
        {
            topology.Start();
            await topology.Ready.WaitAsync(ct);
            await picker.StartAsync(ct);
            if (traffic is not null)
            {
                await traffic.StartAsync(ct);
            }
        });
        var app = GatewayApp.Build(settings, routing);
        await app.StartAsync();
        return new GatewayUnderTest(app, etcd, root, topology, picker, manual, traffic, settings);
    }

    public string ConnectionString(string? database = "commerce", string extra = "") =>
        $"Server=127.0.0.1;Port={Port};User ID={User};Password={Password};{(database is null ? string.Empty : $"Database={database};")}SslMode=None;Pooling=false;{extra}";

    public MySqlConnectionOptions ClientOptions(string? database = "commerce") => new()
    {
        Host = "127.0.0.1",
        Port = Port,
        User = User,
        Password = Password,
        Database = database,
        SslMode = SslMode.Disabled,
    };

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            if (_trafficHolds is not null)
            {
                await _trafficHolds.DisposeAsync();
            }

            await _picker.DisposeAsync();
            await _topology.DisposeAsync();
        }
        finally
        {
            await _etcd.DeleteAsync(Root + "/", prefix: true);
            _etcd.Dispose();
        }
    }
}
