using System.Text.Json.Serialization;

namespace Durable.Contracts;

/// <summary>The life of a VDiff on one shard (and of each of its tables).</summary>
public static class VDiffStates
{
    public const string Pending = "pending";
    public const string Started = "started";
    public const string Stopped = "stopped";
    public const string Completed = "completed";
    public const string Error = "error";
}

/// <summary>Options of one VDiff, as given to <c>VDiff create</c>; stored with the VDiff so resume and re-runs use the same.</summary>
public sealed record VDiffOptions
{
    /// <summary>Rows per checksum chunk. Bigger chunks mean fewer round trips; smaller ones mean less re-reading when a chunk differs.</summary>
    public int ChunkRows { get; init; } = 10_000;

    /// <summary>Compare every chunk row by row instead of checksum-first (the checksum is still computed).</summary>
    public bool RowLevel { get; init; }

    /// <summary>Samples keep only the primary key of differing rows, not their column values.</summary>
    public bool OnlyPks { get; init; }

    /// <summary>At most this many differing rows per table and category keep a sample (key and values).</summary>
    public int MaxSamples { get; init; } = 10;

    /// <summary>
    /// At most this many extra rows (source or target) per table are looked at with their full values; further extra rows
    /// are still counted. Vitess' --max-extra-rows-to-compare bounds the same work.
    /// </summary>
    public int MaxExtraRowsToCompare { get; init; } = 1000;

    /// <summary>Longest life of one pair of snapshots; the table goes on in a new segment (new alignment) after it.</summary>
    public TimeSpan MaxDiffDuration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Source tablet types, in the order preferred (Vitess tablet_types syntax).</summary>
    public string TabletTypes { get; init; } = "in_order:RDONLY,REPLICA,PRIMARY";

    /// <summary>The workflow's --source-time-zone: target DATETIMEs were converted to UTC, so they are converted back to compare.</summary>
    public string? SourceTimeZone { get; init; }

    /// <summary>Run ANALYZE TABLE on both sides first so row estimates (progress/ETA) are fresh.</summary>
    public bool UpdateTableStats { get; init; }

    /// <summary>Retry a shard's diff after transient errors (lost connection, lock wait timeout, deadlock).</summary>
    public bool AutoRetry { get; init; } = true;

    /// <summary>How long to wait for a stream or a source tablet to reach a position during alignment.</summary>
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Re-copy the ranges found different from the aligned source, then verify them again.</summary>
    public bool Repair { get; init; }

    /// <summary>Tables to compare; empty means every table of the workflow.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    public void Validate()
    {
        if (ChunkRows is < 1 or > 10_000_000)
        {
            throw new ArgumentException($"--chunk-rows {ChunkRows} is invalid: use 1 to 10000000.");
        }

        if (MaxSamples is < 0 or > 10_000)
        {
            throw new ArgumentException($"--max-samples {MaxSamples} is invalid: use 0 to 10000.");
        }

        if (MaxExtraRowsToCompare < 0)
        {
            throw new ArgumentException($"--max-extra-rows-to-compare {MaxExtraRowsToCompare} is invalid: use 0 or more.");
        }

        if (MaxDiffDuration < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"--max-diff-duration {MaxDiffDuration} is invalid: use at least 1s.");
        }

        if (WaitTimeout < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"--wait-timeout {WaitTimeout} is invalid: use at least 1s.");
        }

        if (SourceTimeZone is { } tz && (tz.Length is 0 or > 64 || !tz.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or ':' or '/' or '_')))
        {
            throw new ArgumentException($"--source-time-zone '{tz}' is invalid: use an offset like '+02:00' or a zone name like 'Europe/Berlin'.");
        }
    }
}

/// <summary>The row-compare category of one differing row.</summary>
public enum DiffKind
{
    Mismatched,
    ExtraSource,
    ExtraTarget,
}

/// <summary>One differing row kept as a sample: its key, and (unless --only-pks) the values on each side.</summary>
public sealed record DiffSample(
    [property: JsonPropertyName("Kind")] DiffKind Kind,
    [property: JsonPropertyName("Pk")] IReadOnlyDictionary<string, string?> Pk,
    [property: JsonPropertyName("Source")] IReadOnlyDictionary<string, string?>? Source = null,
    [property: JsonPropertyName("Target")] IReadOnlyDictionary<string, string?>? Target = null);
