namespace Durable.VDiff;

/// <summary>The outcome of one VDiff run: what a workflow gate needs.</summary>
public sealed record VDiffOutcome(string Uuid, string State, bool HasMismatch, long RowsCompared, string? Errors)
{
    /// <summary>The workflow compared (a MoveTables gate checks it is the direction now carrying writes).</summary>
    public string Workflow { get; init; } = "";

    public long MismatchedRows { get; init; }

    public long ExtraRowsSource { get; init; }

    public long ExtraRowsTarget { get; init; }

    /// <summary>Counts per table, so a held command can name where the differences are.</summary>
    public IReadOnlyList<VDiffTableCounts> Tables { get; init; } = [];

    /// <summary>When the outcome was read (orchestration time of the parent is the authority; this is the activity's clock).</summary>
    public DateTime At { get; init; }

    /// <summary>Clean means: completed on every shard with no difference. Anything else holds SwitchTraffic/Complete.</summary>
    public bool IsClean => State == VDiffStates.Completed && !HasMismatch;
}
