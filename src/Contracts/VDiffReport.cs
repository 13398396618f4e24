using System.Text.Json;
using System.Text.Json.Serialization;

namespace Durable.Contracts;

/// <summary>Per-table summary over all shards (the seeds' TableSummary entry).</summary>
public sealed record TableSummary
{
    public required string TableName { get; init; }
    public required string State { get; init; }
    public long RowsCompared { get; init; }
    public long MatchingRows { get; init; }
    public long MismatchedRows { get; init; }
    public long ExtraRowsSource { get; init; }
    public long ExtraRowsTarget { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LastPK { get; init; }

    /// <summary>A --repair run only: rows the repair inserted on the target (they were missing there).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? RowsInserted { get; init; }

    /// <summary>A --repair run only: rows the repair updated on the target (they differed).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? RowsUpdated { get; init; }

    /// <summary>A --repair run only: rows the repair deleted on the target (they were extra there).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? RowsDeleted { get; init; }
}

/// <summary>One table on one shard (the seeds' Reports[table][shard] entry); samples only with --verbose.</summary>
public sealed record ShardTableReport
{
    public required string TableName { get; init; }
    public long ProcessedRows { get; init; }
    public long MatchingRows { get; init; }
    public long MismatchedRows { get; init; }
    public long ExtraRowsSource { get; init; }
    public long ExtraRowsTarget { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<DiffSample>? MismatchedRowsSample { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<DiffSample>? ExtraRowsSourceSample { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<DiffSample>? ExtraRowsTargetSample { get; init; }
}

public sealed record VDiffProgress(double Percentage, string? ETA);

/// <summary>The result of <c>VDiff show</c>, in the JSON shape of the seeds (Vitess' vtctldclient VDiff show --format=json).</summary>
public sealed record VDiffReport
{
    public required string Workflow { get; init; }
    public required string Keyspace { get; init; }
    public required string State { get; init; }
    public required string UUID { get; init; }
    public long RowsCompared { get; init; }
    public bool HasMismatch { get; init; }

    /// <summary>
    /// A --repair run only: true once it completed (every differing range re-copied and verified; TableSummary's
    /// RowsInserted/RowsUpdated/RowsDeleted say what changed), false while it runs or when it failed. The counts of
    /// differences stay as found: a clean VDiff after the repair is what proves the tables equal.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Repaired { get; init; }
    public required string Shards { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StartedAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CompletedAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public VDiffProgress? Progress { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Errors { get; init; }
    public required IReadOnlyDictionary<string, TableSummary> TableSummary { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, ShardTableReport>>? Reports { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}
