using Durable.MySql;
using Durable.Replication;

namespace Durable.VDiff;

/// <summary>A primary-key range (lower exclusive, upper inclusive; null means unbounded) found different.</summary>
public sealed record PkRange(string? LowerExclusive, string? UpperInclusive)
{
    public IReadOnlyList<MySqlValue>? Lower => LowerExclusive is null ? null : StreamStore.DecodePk(LowerExclusive);

    public IReadOnlyList<MySqlValue>? Upper => UpperInclusive is null ? null : StreamStore.DecodePk(UpperInclusive);
}

/// <summary>Counters of one table on one shard; chunks add into it, so a resumed diff continues the same totals.</summary>
public sealed class TableCounts
{
    public long ProcessedRows { get; set; }

    public long MatchingRows { get; set; }

    public long MismatchedRows { get; set; }

    public long ExtraRowsSource { get; set; }

    public long ExtraRowsTarget { get; set; }

    public long ChunksCompared { get; set; }

    public long ChunksDiffering { get; set; }

    public bool HasMismatch => MismatchedRows > 0 || ExtraRowsSource > 0 || ExtraRowsTarget > 0;

    public void Add(TableCounts other)
    {
        ProcessedRows += other.ProcessedRows;
        MatchingRows += other.MatchingRows;
        MismatchedRows += other.MismatchedRows;
        ExtraRowsSource += other.ExtraRowsSource;
        ExtraRowsTarget += other.ExtraRowsTarget;
        ChunksCompared += other.ChunksCompared;
        ChunksDiffering += other.ChunksDiffering;
    }
}

/// <summary>The outcome of one chunk, handed to the checkpoint callback before the next chunk starts.</summary>
public sealed record ChunkOutcome(
    string Table,
    PkRange Range,
    TableCounts Counts,
    bool Differed,
    IReadOnlyList<DiffSample> Samples,
    bool LastChunk);

public class VDiffException(string message, Exception? inner = null) : Exception(message, inner);
