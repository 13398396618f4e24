namespace Durable.Routing.Sharding;

/// <summary>What an aggregate select item becomes when the shards' partial results are combined.</summary>
public enum AggregateKind
{
    /// <summary>COUNT: the shards' counts are summed.</summary>
    Count,
    Sum,
    Min,
    Max,
}

/// <summary>
/// One ORDER BY (or GROUP BY) key of a scatter SELECT: the result column holding its value and the hidden
/// <c>WEIGHT_STRING(...)</c> column holding its collation weight (null when none was added). Text columns compare by
/// weight (collation order, not bytes), numbers as numbers, binary strings and temporals by their bytes. A column index
/// is a visible column's position when &gt;= 0, and <c>~h</c> for the h-th hidden column (hidden columns follow the
/// visible ones, whose number a <c>*</c> leaves unknown until the rows arrive).
/// </summary>
public sealed record MergeKey(int Column, int? WeightColumn, bool Descending = false);

/// <summary>An aggregate select item: its result column, how partials combine, and for MIN/MAX the weight column.</summary>
public sealed record MergeAggregate(int Column, AggregateKind Kind, int? WeightColumn);

/// <summary>
/// How the rows of a SELECT run on several shards become one result: the hidden key columns after the client's
/// (stripped), the sort keys, the groups and aggregates (a grouped query is aggregated across shards
/// before it is sorted), and the LIMIT/OFFSET applied after the merge (each shard was asked for LIMIT+OFFSET rows).
/// </summary>
public sealed record ScatterMerge
{
    /// <summary>How many columns the gateway added after the client's (stripped before the client sees the result).</summary>
    public required int HiddenColumns { get; init; }

    public IReadOnlyList<MergeKey> Order { get; init; } = [];

    /// <summary>True when the rows are aggregated (GROUP BY, or aggregates without GROUP BY: one row in all).</summary>
    public bool Grouped { get; init; }

    public IReadOnlyList<MergeKey> GroupKeys { get; init; } = [];

    public IReadOnlyList<MergeAggregate> Aggregates { get; init; } = [];

    public long? Limit { get; init; }

    public long Offset { get; init; }
}
