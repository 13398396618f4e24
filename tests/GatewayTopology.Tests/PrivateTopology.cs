using Durable.Testing;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.GatewayTopology.Tests;

/// <summary>A topology under its own unique root in the cluster's etcd (so helpers test side by side), removed at the end.</summary>
public sealed class PrivateTopology : IAsyncDisposable
{
    private PrivateTopology(string root)
    {
        Root = root;
        Etcd = new EtcdConnection(LocalCluster.Current.EtcdEndpoints);
        Store = new TopologyStore(Etcd, new TopologyOptions { Root = root, LockTtl = TimeSpan.FromSeconds(10) });
        Admin = new TopologyAdmin(Store);
    }

    public string Root { get; }

    public EtcdConnection Etcd { get; }

    public TopologyStore Store { get; }

    public TopologyAdmin Admin { get; }

    public static PrivateTopology Create() => new($"/durable-test/{Guid.NewGuid():N}");

    /// <summary>The local cluster's cell, keyspaces and tablets, registered under this root as cluster.sh registers them.</summary>
    public async Task RegisterLocalClusterAsync() =>
        await TopologyAdmin.RegisterLocalClusterAsync(LocalCluster.Current.Path, root: Root);

    /// <summary>The local cluster's secrets (tablet password references resolve through them).</summary>
    public static IReadOnlyDictionary<string, string> Secrets() => LocalCluster.ReadSecrets(LocalCluster.Current.File.SecretsFile);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Etcd.DeleteAsync(Root + "/", prefix: true);
        }
        finally
        {
            Etcd.Dispose();
        }
    }
}
