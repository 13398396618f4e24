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
    private readonly TrafficHolds _holds;

    private GatewayComposition(EtcdConnection etcd, GatewayTopology topology, BackendPicker picker, TrafficHolds holds, GatewayRouting routing)
    {
        _etcd = etcd;
        _topology = topology;
        _picker = picker;
        _holds = holds;
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
        var holds = new TrafficHolds(new TrafficHoldStore(store), topology, new TrafficHoldsOptions
        {
            Name = settings.ResolvedName,
            Cell = settings.Cell,
            Limits = settings.HoldLimits,
        });
        var routing = new GatewayRouting(new StatementRouter(), topology, picker, holds, async ct =>
        {
            // Rules, keyspaces and tablets, then the tablets' health, then the holds active now (registered and acked)
            // before the first connection is accepted.
            topology.Start();
            await topology.Ready.WaitAsync(ct).ConfigureAwait(false);
            await picker.StartAsync(ct).ConfigureAwait(false);
            await holds.StartAsync(ct).ConfigureAwait(false);
        });
        return new GatewayComposition(etcd, topology, picker, holds, routing);
    }

    public async ValueTask DisposeAsync()
    {
        await _holds.DisposeAsync().ConfigureAwait(false);
        await _picker.DisposeAsync().ConfigureAwait(false);
        await _topology.DisposeAsync().ConfigureAwait(false);
        _etcd.Dispose();
    }
}
