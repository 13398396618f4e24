using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Durable.VDiff;

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

    /// <summary>Folds the shards' rows of one VDiff into the report; <paramref name="verbose"/> adds per-shard reports with samples.</summary>
    public static VDiffReport Build(string workflow, string keyspace, string uuid, IReadOnlyList<(VDiffShardRecord Shard, IReadOnlyList<VDiffTableRecord> Tables)> shards, bool verbose, DateTime now)
    {
        var states = shards.Select(s => s.Shard.State).ToList();
        var state = states.Count == 0 ? VDiffStates.Pending
            : states.Contains(VDiffStates.Error) ? VDiffStates.Error
            : states.All(s => s == VDiffStates.Completed) ? VDiffStates.Completed
            : states.Contains(VDiffStates.Started) ? VDiffStates.Started
            : states.Contains(VDiffStates.Stopped) ? VDiffStates.Stopped
            : VDiffStates.Pending;
        var summary = new SortedDictionary<string, TableSummary>(StringComparer.Ordinal);
        var reports = new SortedDictionary<string, IReadOnlyDictionary<string, ShardTableReport>>(StringComparer.Ordinal);
        foreach (var group in shards.SelectMany(s => s.Tables.Select(t => (s.Shard, Table: t))).GroupBy(x => x.Table.Table))
        {
            var rows = group.ToList();
            var tableState = rows.All(r => r.Table.State == VDiffStates.Completed) ? VDiffStates.Completed
                : rows.Any(r => r.Table.State == VDiffStates.Started || r.Table.State == VDiffStates.Completed) ? VDiffStates.Started
                : VDiffStates.Pending;
            summary[group.Key] = new TableSummary
            {
                TableName = group.Key,
                State = tableState,
                RowsCompared = rows.Sum(r => r.Table.Counts.ProcessedRows),
                MatchingRows = rows.Sum(r => r.Table.Counts.MatchingRows),
                MismatchedRows = rows.Sum(r => r.Table.Counts.MismatchedRows),
                ExtraRowsSource = rows.Sum(r => r.Table.Counts.ExtraRowsSource),
                ExtraRowsTarget = rows.Sum(r => r.Table.Counts.ExtraRowsTarget),
                LastPK = verbose && tableState != VDiffStates.Completed ? rows.Select(r => r.Table.LastPk).LastOrDefault(p => p is not null) : null,
            };
            var perShard = new SortedDictionary<string, ShardTableReport>(StringComparer.Ordinal);
            foreach (var (shard, table) in rows)
            {
                perShard[shard.Shard] = new ShardTableReport
                {
                    TableName = table.Table,
                    ProcessedRows = table.Counts.ProcessedRows,
                    MatchingRows = table.Counts.MatchingRows,
                    MismatchedRows = table.Counts.MismatchedRows,
                    ExtraRowsSource = table.Counts.ExtraRowsSource,
                    ExtraRowsTarget = table.Counts.ExtraRowsTarget,
                    MismatchedRowsSample = verbose ? Samples(table, DiffKind.Mismatched) : null,
                    ExtraRowsSourceSample = verbose ? Samples(table, DiffKind.ExtraSource) : null,
                    ExtraRowsTargetSample = verbose ? Samples(table, DiffKind.ExtraTarget) : null,
                };
            }

            reports[group.Key] = perShard;
        }

        var started = shards.Select(s => s.Shard.StartedAt).Where(t => t is not null).Min();
        var completed = state == VDiffStates.Completed ? shards.Select(s => s.Shard.CompletedAt).Max() : null;
        var compared = summary.Values.Sum(t => t.RowsCompared);
        VDiffProgress? progress = null;
        if (state == VDiffStates.Started && started is not null)
        {
            // Progress against the target's row estimates; the ETA extrapolates the rate so far.
            var total = shards.SelectMany(s => s.Tables).Sum(t => Math.Max(t.TableRows, t.Counts.ProcessedRows));
            var fraction = total == 0 ? 0 : Math.Min(1.0, (double)compared / total);
            var elapsed = now - started.Value;
            string? eta = fraction > 0 ? (now + elapsed * ((1 - fraction) / fraction)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : null;
            progress = new VDiffProgress(Math.Round(fraction * 100, 2), eta);
        }

        var errors = string.Join("; ", shards.Where(s => s.Shard.LastError.Length > 0).Select(s => $"{s.Shard.Shard}: {s.Shard.LastError}"));
        return new VDiffReport
        {
            Workflow = workflow,
            Keyspace = keyspace,
            State = state,
            UUID = uuid,
            RowsCompared = compared,
            HasMismatch = summary.Values.Any(t => t.MismatchedRows > 0 || t.ExtraRowsSource > 0 || t.ExtraRowsTarget > 0),
            Shards = string.Join(",", shards.Select(s => s.Shard.Shard).Distinct().Order(StringComparer.Ordinal)),
            StartedAt = started?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            CompletedAt = completed?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            Progress = progress,
            Errors = errors.Length == 0 ? null : errors,
            TableSummary = summary,
            Reports = verbose ? reports : null,
        };
    }

    private static IReadOnlyList<DiffSample>? Samples(VDiffTableRecord table, DiffKind kind)
    {
        var list = table.Samples.Where(s => s.Kind == kind).ToList();
        return list.Count == 0 ? null : list;
    }
}
