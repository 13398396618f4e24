using Durable.Topology;

namespace Durable.Routing;

/// <summary>
/// The topology a gateway follows through etcd watches: the routing snapshot statements are routed against, and the
/// tablets (for SHOW VITESS_TABLETS and backend picking). Loaded before the gateway accepts a connection.
/// </summary>
public interface IGatewayTopology
{
    /// <summary>The current snapshot; replaced (never mutated) when the rules or keyspaces change.</summary>
    RoutingSnapshot Current { get; }

    /// <summary>Every tablet of every keyspace, as registered in the topology.</summary>
    IReadOnlyList<TabletRecord> Tablets { get; }

    /// <summary>Completes when the snapshot's rules revision is at least <paramref name="revision"/>.</summary>
    Task WaitForRevisionAsync(long revision, CancellationToken ct);
}

/// <summary>A backend MySQL server a statement can run on: one tablet, with its database.</summary>
public sealed record BackendEndpoint(string Alias, string Keyspace, string Shard, TabletType Type, string Host, int Port, string DbName);

/// <summary>
/// Picks the tablet for a keyspace target: the primary for PRIMARY; for REPLICA/RDONLY a healthy tablet of that type,
/// preferring the gateway's cell, within the replication-lag limit.
/// </summary>
public interface IBackendPicker
{
    /// <exception cref="GatewaySqlException">No tablet of that type is serving (the message names the keyspace, type and why).</exception>
    ValueTask<BackendEndpoint> PickAsync(KeyspaceTarget target, CancellationToken ct);

    /// <summary>The tablet of one shard of a sharded keyspace for the target's tablet type (its primary, or a serving replica).</summary>
    /// <exception cref="GatewaySqlException">No tablet of that type of the shard is serving (the message names keyspace, shard, type and why).</exception>
    ValueTask<BackendEndpoint> PickShardAsync(KeyspaceTarget target, string shard, CancellationToken ct);
}
