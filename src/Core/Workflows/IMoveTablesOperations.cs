using System.Text.Json.Serialization;

namespace Durable.Workflows;

public sealed record PreflightResult(
    [property: JsonPropertyName("problems")] IReadOnlyList<string> Problems,
    [property: JsonPropertyName("tables")] IReadOnlyList<string> Tables);

public sealed record CreateResult(
    [property: JsonPropertyName("streams")] IReadOnlyList<StreamRef> Streams,
    [property: JsonPropertyName("copy")] IReadOnlyList<TableProgress> Copy);

public sealed record CopyChunkResult(
    [property: JsonPropertyName("done")] bool Done,
    [property: JsonPropertyName("table")] string? Table,
    [property: JsonPropertyName("rows_copied")] long RowsCopied,
    [property: JsonPropertyName("waiting_for")] string? WaitingFor = null);

public sealed record ProgressResult(
    [property: JsonPropertyName("copy")] IReadOnlyList<TableProgress> Copy,
    [property: JsonPropertyName("lag_seconds")] long? LagSeconds,
    [property: JsonPropertyName("stream_error")] string? StreamError);

/// <summary>Input of the switch activities: the workflow as it stands and what to switch.</summary>
public sealed record SwitchRequest(
    [property: JsonPropertyName("state")] WorkflowState State,
    [property: JsonPropertyName("options")] SwitchOptions Options,
    [property: JsonPropertyName("reverse")] bool Reverse,
    [property: JsonPropertyName("intent_id")] string IntentId);

public sealed record SwitchResult(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("traffic")] TrafficState Traffic,
    [property: JsonPropertyName("streams")] IReadOnlyList<StreamRef> Streams,
    [property: JsonPropertyName("reverse_streams")] IReadOnlyList<StreamRef> ReverseStreams,
    [property: JsonPropertyName("steps")] string? Steps = null,
    [property: JsonPropertyName("repeated")] bool Repeated = false)
{
    /// <summary>The write-refused window in milliseconds (guards armed until writes open where they go), when writes were switched.</summary>
    [JsonPropertyName("window_ms")] public double? WindowMs { get; init; }

    /// <summary>The steps the command took (<see cref="SwitchPath"/>'s names), the same list its dry run walks; null for an answer recorded earlier.</summary>
    [JsonPropertyName("path")] public IReadOnlyList<string>? Path { get; init; }
}

public sealed record CleanupRequest(
    [property: JsonPropertyName("state")] WorkflowState State,
    [property: JsonPropertyName("options")] CleanupOptions Options);

/// <summary>
/// An approval and what it must match: the workflow's pending action (null: nothing is pending), the traffic generation
/// the workflow is in, and the pending command's identity (request id and arrival), which spends the nonce so a
/// redelivered check of the same approval for the same command is accepted again and any other use is a replay.
/// </summary>
public sealed record VerifyApprovalRequest(
    [property: JsonPropertyName("instance_id")] string InstanceId,
    [property: JsonPropertyName("approvers")] IReadOnlyList<string> Approvers,
    [property: JsonPropertyName("approval")] SignedApproval Approval,
    [property: JsonPropertyName("pending_action")] string? PendingAction = null,
    [property: JsonPropertyName("generation")] long Generation = 0,
    [property: JsonPropertyName("pending_id")] string? PendingId = null);

public sealed record StreamsRequest(
    [property: JsonPropertyName("state")] WorkflowState State,
    [property: JsonPropertyName("start")] bool Start);

/// <summary>
/// The side effects of a MoveTables, one activity each; every one is idempotent (activities are delivered at least
/// once). The orchestration only decides and records; these touch the cluster.
/// </summary>
public interface IMoveTablesOperations
{
    /// <summary>All checks before anything changes; the problems, each a full sentence, and the resolved table list.</summary>
    Task<PreflightResult> PreflightAsync(MoveTablesCreate spec, CancellationToken ct);

    /// <summary>Registers the workflow, creates the target tables, installs target guards, routing rules and streams.</summary>
    Task<CreateResult> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct);

    /// <summary>Copies one bounded chunk of one stream.</summary>
    Task<CopyChunkResult> CopyChunkAsync(MoveTablesCreate spec, StreamRef stream, CancellationToken ct);

    Task<ProgressResult> ProgressAsync(WorkflowState state, CancellationToken ct);

    /// <summary>Starts (hands to the Streamer) or stops the forward streams.</summary>
    Task SetStreamsAsync(StreamsRequest request, CancellationToken ct);

    /// <summary>Switches reads per tablet type and, for PRIMARY, writes (the cutover); on failure nothing is switched.</summary>
    Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct);

    Task CompleteAsync(CleanupRequest request, CancellationToken ct);

    Task CancelAsync(CleanupRequest request, CancellationToken ct);

    Task<ApprovalVerdict> VerifyApprovalAsync(VerifyApprovalRequest request, CancellationToken ct);
}
