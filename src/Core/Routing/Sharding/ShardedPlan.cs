namespace Durable.Routing.Sharding;

/// <summary>
/// How one statement on a sharded keyspace runs: the text for each shard it touches (one text per shard; an INSERT's
/// rows split by their keyspace ids), how the answers combine (<see cref="Merge"/> for a SELECT over several shards,
/// affected rows summed for DML), and the first auto-increment value the gateway filled (the insert id it answers).
/// </summary>
public sealed record ShardedPlan
{
    public required RoutedKeyspace Keyspace { get; init; }

    public required IReadOnlyList<ShardQuery> Queries { get; init; }

    /// <summary>True when the statement could not be narrowed by its primary vindex and runs on every shard.</summary>
    public bool Scatter { get; init; }

    /// <summary>For a SELECT on more than one shard: how the shards' rows are merged. Null otherwise.</summary>
    public ScatterMerge? Merge { get; init; }

    /// <summary>The first value the gateway filled from the table's sequence (the OK packet's insert id); null when none.</summary>
    public long? FirstInsertId { get; init; }

    /// <summary>True for a statement that only reads (SELECT without FOR UPDATE, SHOW, DESCRIBE).</summary>
    public bool ReadOnly { get; init; }
}
