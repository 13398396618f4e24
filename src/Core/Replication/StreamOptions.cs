using System.Text.Json;
using System.Text.Json.Serialization;

namespace Durable.Replication;

/// <summary>Per-stream options set at create time.</summary>
public sealed record StreamOptions
{
    /// <summary>Drop secondary indexes before the copy and re-add them (exactly as defined) when the table is copied.</summary>
    [JsonPropertyName("defer_secondary_keys")]
    public bool DeferSecondaryKeys { get; init; }

    /// <summary>Go to Stopped instead of Running when the copy is done.</summary>
    [JsonPropertyName("stop_after_copy")]
    public bool StopAfterCopy { get; init; }

    /// <summary>The time zone DATETIME values are written in at the source; they are converted to UTC on the way in.</summary>
    [JsonPropertyName("source_time_zone")]
    public string? SourceTimeZone { get; init; }

    /// <summary>An upper bound on applied rows per second (0 = none).</summary>
    [JsonPropertyName("max_rows_per_second")]
    public long MaxRowsPerSecond { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this);

    public static StreamOptions Parse(string? json) =>
        string.IsNullOrWhiteSpace(json) ? new StreamOptions() : JsonSerializer.Deserialize<StreamOptions>(json) ?? new StreamOptions();
}
