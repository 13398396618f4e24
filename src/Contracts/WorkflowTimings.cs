using System.Text.Json.Serialization;

namespace Durable.Contracts;

/// <summary>
/// How often a workflow's orchestration wakes up on its own. Fixed when the workflow is created and carried in its
/// state (through ContinueAsNew), never read from a process-wide setting: a replay must see the values the first run
/// saw, whatever the host running it now is configured with. A state without them (created before they existed) gets
/// <see cref="Default"/>.
/// </summary>
public sealed record WorkflowTimings
{
    public static readonly WorkflowTimings Default = new();

    /// <summary>How often a waiting workflow refreshes its lag and progress.</summary>
    [JsonPropertyName("refresh_seconds")] public double RefreshSeconds { get; init; } = 10;

    /// <summary>How long a copy that found no source tablet waits before it tries again.</summary>
    [JsonPropertyName("tablet_wait_seconds")] public double TabletWaitSeconds { get; init; } = 10;

    /// <summary>After a VDiff that failed (not one that found differences), the next try comes at most this soon.</summary>
    [JsonPropertyName("vdiff_retry_after_error_seconds")] public double VDiffRetryAfterErrorSeconds { get; init; } = 300;

    /// <summary>Longest single activity of a VDiff shard; the shard orchestration calls the next one after it.</summary>
    [JsonPropertyName("vdiff_shard_budget_seconds")] public double VDiffShardBudgetSeconds { get; init; } = 300;

    [JsonIgnore] public TimeSpan RefreshInterval => TimeSpan.FromSeconds(RefreshSeconds);

    [JsonIgnore] public TimeSpan TabletWaitInterval => TimeSpan.FromSeconds(TabletWaitSeconds);

    [JsonIgnore] public TimeSpan VDiffRetryAfterError => TimeSpan.FromSeconds(VDiffRetryAfterErrorSeconds);
}
