using Durable.Core.Vindexes;

namespace Durable.Routing.Sharding;

/// <summary>
/// A statement on a sharded keyspace, analysed (<see cref="ShardPlanner.Analyze"/>) and waiting for its sequence
/// values, if any: <see cref="SequenceKeyspace"/>/<see cref="SequenceTable"/>/<see cref="ValuesNeeded"/> say what to
/// reserve from <see cref="ISequenceSource"/> (one call for all its rows), and <see cref="Plan"/> then gives the
/// per-shard texts.
/// </summary>
public sealed class ShardedStatement
{
    private readonly Func<long?, ShardedPlan> _plan;

    internal ShardedStatement(Func<long?, ShardedPlan> plan, string? sequenceKeyspace = null, string? sequenceTable = null, int valuesNeeded = 0)
    {
        _plan = plan;
        SequenceKeyspace = sequenceKeyspace;
        SequenceTable = sequenceTable;
        ValuesNeeded = valuesNeeded;
    }

    public string? SequenceKeyspace { get; }

    public string? SequenceTable { get; }

    /// <summary>How many sequence values the statement needs (0: none).</summary>
    public int ValuesNeeded { get; }

    /// <param name="firstValue">The first of <see cref="ValuesNeeded"/> values reserved from the sequence (null when none are needed).</param>
    public ShardedPlan Plan(long? firstValue = null)
    {
        if (ValuesNeeded > 0 && firstValue is null)
        {
            throw new ArgumentException($"The statement needs {ValuesNeeded} values from sequence {SequenceKeyspace}.{SequenceTable}; reserve them first.", nameof(firstValue));
        }

        return _plan(firstValue);
    }

    internal static IReadOnlyList<VindexValue>? NoParameters => null;
}
