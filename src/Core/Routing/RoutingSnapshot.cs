using Durable.Topology;

namespace Durable.Routing;

/// <summary>
/// A keyspace as the gateway routes to it: its tablets' database name (vt_&lt;keyspace&gt;), whether it is sharded, and
/// the tables its VSchema lists (what vtgate's global routing finds an unqualified table by when no keyspace is selected).
/// </summary>
public sealed record RoutedKeyspace(string Name, string DbName, bool Sharded, IReadOnlySet<string> VSchemaTables)
{
    /// <summary>The keyspace's VSchema (vindexes, tables' column vindexes, auto-increment sequences); null when it has none.</summary>
    public VSchemaDocument? VSchema { get; init; }

    /// <summary>The keyspace's shard names (e.g. <c>-80</c>, <c>80-</c>; <c>0</c> or <c>-</c> unsharded), in key-range order.</summary>
    public IReadOnlyList<string> Shards { get; init; } = [];
}

/// <summary>
/// The topology one statement is routed against: the routing rules at an etcd revision and the keyspaces that exist.
/// Immutable: the gateway swaps in a new snapshot when a watch reports a change, and a statement keeps the one it
/// started with.
/// </summary>
public sealed record RoutingSnapshot(RoutingRules Rules, long RulesRevision, IReadOnlyDictionary<string, RoutedKeyspace> Keyspaces)
{
    /// <summary>The mirror rules (MirrorTraffic): which share of read-only statements on a table is also sent to another keyspace.</summary>
    public MirrorRules Mirror { get; init; } = MirrorRules.Empty;
}
