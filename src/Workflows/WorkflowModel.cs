using System.Text.Json.Serialization;

namespace Durable.Workflows;

/// <summary>The commands a workflow takes after create (sent to its orchestration as the "Command" event).</summary>
public static class WorkflowActions
{
    public const string SwitchTraffic = "SwitchTraffic";
    public const string ReverseTraffic = "ReverseTraffic";
    public const string Complete = "Complete";
    public const string Cancel = "Cancel";
    public const string Start = "Start";
    public const string Stop = "Stop";
    public const string Approve = "Approve";

    public static readonly string[] All = [SwitchTraffic, ReverseTraffic, Complete, Cancel, Start, Stop, Approve];

    public static string Normalize(string action) =>
        All.FirstOrDefault(a => string.Equals(a, action?.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new WorkflowValidationException($"Action '{action}' is invalid: {string.Join(", ", All)}.");
}

/// <summary>SwitchTraffic/ReverseTraffic flags.</summary>
public sealed record SwitchOptions
{
    /// <summary>Tablet types to switch (REPLICA/RDONLY: reads, PRIMARY: writes); empty = all.</summary>
    [JsonPropertyName("tablet_types")] public IReadOnlyList<string> TabletTypes { get; init; } = [];
    [JsonPropertyName("max_replication_lag_allowed_seconds")] public double MaxReplicationLagAllowedSeconds { get; init; } = 30;
    [JsonPropertyName("timeout_seconds")] public double TimeoutSeconds { get; init; } = 30;
    [JsonPropertyName("enable_reverse_replication")] public bool EnableReverseReplication { get; init; } = true;

    /// <summary>How long the drain (LOCK TABLES ... READ) and guard creation may wait for in-flight writes.</summary>
    [JsonPropertyName("lock_wait_seconds")] public double LockWaitSeconds { get; init; } = 3;

    public IReadOnlyList<string> Types() => TrafficState.ParseSwitchTypes(string.Join(",", TabletTypes));

    public void Validate()
    {
        _ = Types();
        if (MaxReplicationLagAllowedSeconds is <= 0 or > 86400 || double.IsNaN(MaxReplicationLagAllowedSeconds))
        {
            throw new WorkflowValidationException($"--max-replication-lag-allowed {MaxReplicationLagAllowedSeconds}s is invalid: more than 0, at most 24h.");
        }

        if (TimeoutSeconds is <= 0 or > 3600 || double.IsNaN(TimeoutSeconds))
        {
            throw new WorkflowValidationException($"--timeout {TimeoutSeconds}s is invalid: more than 0, at most 1h.");
        }

        if (LockWaitSeconds is < 1 or > 60 || double.IsNaN(LockWaitSeconds))
        {
            throw new WorkflowValidationException($"lock wait {LockWaitSeconds}s is invalid: 1 to 60 seconds.");
        }
    }
}

/// <summary>Complete/Cancel flags.</summary>
public sealed record CleanupOptions
{
    [JsonPropertyName("keep_data")] public bool KeepData { get; init; }
    [JsonPropertyName("rename_tables")] public bool RenameTables { get; init; }
    [JsonPropertyName("keep_routing_rules")] public bool KeepRoutingRules { get; init; }
}

/// <summary>One command as the HTTP API (or the approvals queue) delivers it to the orchestration.</summary>
public sealed record WorkflowCommand
{
    [JsonPropertyName("action")] public string Action { get; init; } = "";
    [JsonPropertyName("request_id")] public string RequestId { get; init; } = "";
    [JsonPropertyName("requested_by")] public string RequestedBy { get; init; } = "unknown";
    [JsonPropertyName("switch")] public SwitchOptions? Switch { get; init; }
    [JsonPropertyName("cleanup")] public CleanupOptions? Cleanup { get; init; }
    [JsonPropertyName("approval")] public SignedApproval? Approval { get; init; }
}

/// <summary>An entry of the audit trail: who did what, when, and how it ended.</summary>
public sealed record AuditEntry(
    [property: JsonPropertyName("at")] DateTime At,
    [property: JsonPropertyName("who")] string Who,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("detail")] string Detail);

/// <summary>The result of a command, so the caller can follow it by request id.</summary>
public sealed record CommandResult(
    [property: JsonPropertyName("request_id")] string RequestId,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("message")] string Message);

/// <summary>One stream of the workflow: from a source shard into a target shard.</summary>
public sealed record StreamRef(
    [property: JsonPropertyName("keyspace")] string Keyspace,
    [property: JsonPropertyName("shard")] string Shard,
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("source_shard")] string SourceShard);

/// <summary>Copy progress of one table: exact rows copied over the estimated total.</summary>
public sealed record TableProgress(
    [property: JsonPropertyName("table")] string Table,
    [property: JsonPropertyName("rows_copied")] long RowsCopied,
    [property: JsonPropertyName("rows_total")] long RowsTotal,
    [property: JsonPropertyName("done")] bool Done)
{
    [JsonPropertyName("percent")]
    public double Percent => Done ? 100 : RowsTotal <= 0 ? 0 : Math.Min(99.9, Math.Round(100.0 * RowsCopied / RowsTotal, 1));
}

/// <summary>A command waiting for its approval.</summary>
public sealed record PendingApproval(
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("since")] DateTime Since,
    [property: JsonPropertyName("command")] WorkflowCommand Command);

public static class Phases
{
    public const string PreFlight = "PreFlight";
    public const string Creating = "Creating";
    public const string Copying = "Copying";
    public const string Stopped = "Stopped";
    public const string Running = "Running";
    public const string Switching = "Switching";
    public const string Completed = "Completed";
    public const string Cancelled = "Cancelled";
    public const string Failed = "Failed";
}

/// <summary>
/// The workflow's state: the orchestration's durable state (carried through ContinueAsNew) and, as is, its custom
/// status, so show/status/watch read it without touching the orchestration.
/// </summary>
public sealed record WorkflowState
{
    [JsonPropertyName("spec")] public MoveTablesCreate Spec { get; init; } = new();
    [JsonPropertyName("tables")] public IReadOnlyList<string> Tables { get; init; } = [];
    [JsonPropertyName("phase")] public string Phase { get; init; } = Phases.PreFlight;
    [JsonPropertyName("traffic")] public TrafficState Traffic { get; init; } = new();
    [JsonPropertyName("traffic_state")] public string TrafficStateText => Traffic.ToString();
    [JsonPropertyName("streams")] public IReadOnlyList<StreamRef> Streams { get; init; } = [];
    [JsonPropertyName("reverse_streams")] public IReadOnlyList<StreamRef> ReverseStreams { get; init; } = [];
    [JsonPropertyName("copy")] public IReadOnlyList<TableProgress> Copy { get; init; } = [];
    [JsonPropertyName("copy_started_at")] public DateTime? CopyStartedAt { get; init; }
    [JsonPropertyName("eta_seconds")] public double? EtaSeconds { get; init; }
    [JsonPropertyName("lag_seconds")] public long? LagSeconds { get; init; }
    [JsonPropertyName("last_error")] public string? LastError { get; init; }
    [JsonPropertyName("pending_approval")] public PendingApproval? Pending { get; init; }
    [JsonPropertyName("approved")] public IReadOnlyList<string> Approved { get; init; } = [];
    [JsonPropertyName("audit")] public IReadOnlyList<AuditEntry> Audit { get; init; } = [];
    [JsonPropertyName("commands")] public IReadOnlyList<CommandResult> Commands { get; init; } = [];
    [JsonPropertyName("updated_at")] public DateTime UpdatedAt { get; init; }

    /// <summary>The audit trail is kept whole (it is small: one entry per command); command results keep the last 50.</summary>
    public WorkflowState Record(AuditEntry entry, CommandResult? result = null) => this with
    {
        Audit = [.. Audit, entry],
        Commands = result is null ? Commands : [.. Commands.TakeLast(49), result],
    };

    [JsonIgnore] public bool CopyDone => Copy.Count > 0 && Copy.All(t => t.Done);

    [JsonIgnore] public bool IsFinished => Phase is Phases.Completed or Phases.Cancelled or Phases.Failed;
}
