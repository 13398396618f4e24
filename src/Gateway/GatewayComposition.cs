using Durable.Routing;
using Durable.Routing.Following;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Configuration;

namespace Durable.Gateway;

/// <summary>
/// The gateway's composition root for the routing side: one etcd connection, the topology store under
/// Gateway:TopologyRoot, the followed topology, the backend picker (probing tablets with their own accounts, whose
/// passwords come from the secrets file), the cutover holds and the statement router.
/// </summary>
internal sealed class GatewayComposition : IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly GatewayTopology _topology;
    private readonly BackendPicker _picker;

    private GatewayComposition(EtcdConnection etcd, GatewayTopology topology, BackendPicker picker, GatewayRouting routing)
    {
        _etcd = etcd;
        _topology = topology;
        _picker = picker;
        Routing = routing;
    }

    public GatewayRouting Routing { get; }

    public static GatewayComposition Create(GatewaySettings settings, IConfiguration configuration)
    {
        var etcd = new EtcdConnection(settings.EtcdEndpoints);
        var store = new TopologyStore(etcd, new TopologyOptions { Root = settings.TopologyRoot });
        var topology = new GatewayTopology(store);
        var secrets = CredentialReference.LoadSecretsFile(settings.SecretsFile ?? configuration["DURABLE_SECRETS_FILE"]);
        var picker = new BackendPicker(topology, new MySqlReplicationProbe(secrets), new BackendPickerOptions
        {
            Cell = settings.Cell,
            MaxReplicationLag = TimeSpan.FromSeconds(settings.MaxReplicationLagSeconds),
        });
        var holds = CreateHolds(settings, etcd, store, topology);
        var router = CreateRouter();
        var routing = new GatewayRouting(router, topology, picker, holds, async ct =>
        {
            topology.Start();
            await topology.Ready.WaitAsync(ct).ConfigureAwait(false);
            await picker.StartAsync(ct).ConfigureAwait(false);
        });
        return new GatewayComposition(etcd, topology, picker, routing);
    }

    private static ITrafficHolds CreateHolds(GatewaySettings settings, EtcdConnection etcd, TopologyStore store, GatewayTopology topology) =>
        throw new NotSupportedException("merge i20-topo's TrafficHolds");

    private static IStatementRouter CreateRouter() => throw new NotSupportedException("merge i20-sql's StatementRouter");

    public async ValueTask DisposeAsync()
    {
        await _picker.DisposeAsync().ConfigureAwait(false);
        await _topology.DisposeAsync().ConfigureAwait(false);
        _etcd.Dispose();
    }
}
