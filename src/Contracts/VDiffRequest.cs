using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Durable.Contracts;

/// <summary>
/// The body of <c>POST /api/vdiff/{keyspace}/{workflow}/create</c>, as <c>durablectl VDiff create</c> sends it: the
/// seeds' flags in snake_case, durations in Go syntax ("10m", "1h30m"), so the HTTP API and the CLI share one check.
/// </summary>
public sealed record VDiffCreateRequest
{
    [JsonPropertyName("uuid")] public string? Uuid { get; init; }
    [JsonPropertyName("tables")] public IReadOnlyList<string> Tables { get; init; } = [];
    [JsonPropertyName("tablet_types")] public string? TabletTypes { get; init; }
    [JsonPropertyName("source_time_zone")] public string? SourceTimeZone { get; init; }
    [JsonPropertyName("only_pks")] public bool OnlyPks { get; init; }
    [JsonPropertyName("max_extra_rows_to_compare")] public int? MaxExtraRowsToCompare { get; init; }
    [JsonPropertyName("max_report_sample_rows")] public int? MaxReportSampleRows { get; init; }
    [JsonPropertyName("update_table_stats")] public bool UpdateTableStats { get; init; }
    [JsonPropertyName("auto_retry")] public bool AutoRetry { get; init; } = true;
    [JsonPropertyName("max_diff_duration")] public string? MaxDiffDuration { get; init; }
    [JsonPropertyName("filtered_replication_wait_time")] public string? FilteredReplicationWaitTime { get; init; }
    [JsonPropertyName("row_level")] public bool RowLevel { get; init; }
    [JsonPropertyName("chunk_rows")] public int? ChunkRows { get; init; }
    [JsonPropertyName("repair")] public bool Repair { get; init; }
    [JsonPropertyName("requested_by")] public string? RequestedBy { get; init; }

    /// <summary>
    /// The request with the stream settings of the workflow it compares filled in where it gives none (source time
    /// zone, tablet types): a VDiff compares what the stream wrote, so it must read the source as the stream did (target
    /// DATETIMEs converted from the source's time zone, the same tablet types). Cells are not inherited: no tablet
    /// selection (streams' nor VDiff's) filters by cell yet.
    /// </summary>
    public VDiffCreateRequest InheritFrom(MoveTablesCreate spec) => this with
    {
        SourceTimeZone = string.IsNullOrWhiteSpace(SourceTimeZone) ? spec.SourceTimeZone : SourceTimeZone,
        TabletTypes = string.IsNullOrWhiteSpace(TabletTypes) ? spec.TabletTypes : TabletTypes,
    };

    /// <summary>The options this request asks for; throws <see cref="ArgumentException"/> naming the first bad value.</summary>
    public VDiffOptions ToOptions()
    {
        var defaults = new VDiffOptions();
        if (Uuid is not null && !Guid.TryParse(Uuid, out _))
        {
            throw new ArgumentException($"uuid '{Uuid}' is invalid: use a UUID like {Guid.Empty}, or leave it out.");
        }

        foreach (var t in Tables)
        {
            if (!Regex.IsMatch(t, "^[A-Za-z0-9_$]{1,64}$"))
            {
                throw new ArgumentException($"--tables entry '{t}' is invalid: a table name of letters, digits, '_' or '$' (at most 64).");
            }
        }

        var options = new VDiffOptions
        {
            Tables = Tables,
            TabletTypes = string.IsNullOrWhiteSpace(TabletTypes) ? defaults.TabletTypes : CheckTabletTypes(TabletTypes),
            SourceTimeZone = string.IsNullOrWhiteSpace(SourceTimeZone) ? null : SourceTimeZone,
            OnlyPks = OnlyPks,
            MaxExtraRowsToCompare = MaxExtraRowsToCompare ?? defaults.MaxExtraRowsToCompare,
            MaxSamples = MaxReportSampleRows ?? defaults.MaxSamples,
            UpdateTableStats = UpdateTableStats,
            AutoRetry = AutoRetry,
            MaxDiffDuration = MaxDiffDuration is null ? defaults.MaxDiffDuration : GoDuration.Parse("--max-diff-duration", MaxDiffDuration),
            WaitTimeout = FilteredReplicationWaitTime is null ? defaults.WaitTimeout : GoDuration.Parse("--filtered-replication-wait-time", FilteredReplicationWaitTime),
            RowLevel = RowLevel,
            ChunkRows = ChunkRows ?? defaults.ChunkRows,
            Repair = Repair,
        };
        options.Validate();
        return options;
    }

    private static readonly string[] KnownTypes = ["PRIMARY", "REPLICA", "RDONLY"];

    /// <summary>Vitess' tablet_types syntax: "RDONLY,REPLICA" or "in_order:RDONLY,REPLICA,PRIMARY".</summary>
    public static string CheckTabletTypes(string text)
    {
        var list = text.StartsWith("in_order:", StringComparison.OrdinalIgnoreCase) ? text["in_order:".Length..] : text;
        var types = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var bad = types.FirstOrDefault(t => !KnownTypes.Contains(t, StringComparer.OrdinalIgnoreCase));
        if (types.Length == 0 || bad is not null)
        {
            throw new ArgumentException($"--tablet-types '{text}' is invalid{(bad is null ? "" : $" ('{bad}')")}: a list of {string.Join(", ", KnownTypes)}, optionally prefixed with in_order:.");
        }

        return text.Trim();
    }
}

/// <summary>Go/Vitess duration syntax ("90s", "10m", "1h30m", "500ms"); a bare number means seconds.</summary>
public static partial class GoDuration
{
    [GeneratedRegex(@"^(?:(\d+(?:\.\d+)?)(h|ms|m|s))+$")]
    private static partial Regex Whole();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(h|ms|m|s)")]
    private static partial Regex Part();

    public static TimeSpan Parse(string flag, string text)
    {
        var t = text.Trim();
        if (double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
        {
            return Check(flag, text, TimeSpan.FromSeconds(seconds));
        }

        if (!Whole().IsMatch(t))
        {
            throw new ArgumentException($"{flag} '{text}' is invalid: a duration such as 90s, 10m, 1h30m (units h, m, s, ms).");
        }

        var total = TimeSpan.Zero;
        foreach (Match m in Part().Matches(t))
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(n),
                "m" => TimeSpan.FromMinutes(n),
                "s" => TimeSpan.FromSeconds(n),
                _ => TimeSpan.FromMilliseconds(n),
            };
        }

        return Check(flag, text, total);
    }

    private static TimeSpan Check(string flag, string text, TimeSpan value) =>
        value <= TimeSpan.Zero || value > TimeSpan.FromDays(30)
            ? throw new ArgumentException($"{flag} '{text}' is invalid: more than 0 and at most 30 days.")
            : value;

    public static string Format(TimeSpan value) =>
        value.TotalHours >= 1 && value.Minutes == 0 && value.Seconds == 0 ? $"{(long)value.TotalHours}h"
        : value.TotalMinutes >= 1 && value.Seconds == 0 && value.Milliseconds == 0 ? $"{(long)value.TotalMinutes}m"
        : value.Milliseconds == 0 ? $"{(long)value.TotalSeconds}s"
        : $"{(long)value.TotalMilliseconds}ms";
}
