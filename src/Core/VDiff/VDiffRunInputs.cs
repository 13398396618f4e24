namespace Durable.VDiff;

// Inputs of the VDiff orchestrations (a run, one shard of it, scheduled re-runs): what the durable layer passes, frozen for replay.
public sealed record VDiffRunInput(string Workflow, string Keyspace, VDiffOptions Options, string? Uuid = null)
{
    /// <summary>Longest single activity of a shard's diff, frozen in the input for replay; null: the orchestration's default.</summary>
    public double? ShardBudgetSeconds { get; init; }
}

public sealed record VDiffShardInput(string Uuid, string Workflow, string Keyspace, string Shard, double BudgetSeconds);

/// <summary>Input of the scheduled re-runs: every <see cref="IntervalSeconds"/>, until stopped (event "stop") or <see cref="MaxRuns"/>.</summary>
public sealed record VDiffScheduleInput(string Workflow, string Keyspace, VDiffOptions Options, double IntervalSeconds, int MaxRuns = 0, int RunsSoFar = 0, VDiffOutcome? Last = null);
