using System.Text.Json.Serialization;

namespace Durable.Contracts;

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

    /// <summary>
    /// Retired: a command the VDiff gate holds fails at once (it never waits), so there is nothing to release; the
    /// command is refused naming <c>--ignore-vdiff</c>, which replaces it.
    /// </summary>
    public const string VDiffOverride = "VDiffOverride";

    /// <summary>Sets how often VDiff re-runs while the workflow waits (<c>vdiff_interval</c>: a duration, or "off").</summary>
    public const string VDiffSchedule = "VDiffSchedule";

    /// <summary>Mirror a share of the moving tables' read-only statements to the target (before SwitchTraffic): <c>mirror</c> options.</summary>
    public const string MirrorTraffic = "MirrorTraffic";

    public static readonly string[] All = [SwitchTraffic, ReverseTraffic, Complete, Cancel, Start, Stop, Approve, VDiffOverride, VDiffSchedule, MirrorTraffic];

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

    /// <summary>
    /// --initialize-target-sequences: while writes are stopped, each sequence the target VSchema names for a moved
    /// table is set above the largest value of its column on every target shard. Not written when false, so commands
    /// from before the option compare equal.
    /// </summary>
    [JsonPropertyName("initialize_target_sequences")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool InitializeTargetSequences { get; init; }

    public IReadOnlyList<string> Types() => TrafficState.ParseSwitchTypes(string.Join(",", TabletTypes));

    public void Validate()
    {
        var types = Types();
        if (InitializeTargetSequences && !types.Contains("PRIMARY"))
        {
            throw new WorkflowValidationException(
                $"--initialize-target-sequences only goes with a switch of writes: --tablet-types '{string.Join(",", TabletTypes)}' does not include PRIMARY (sequences are initialized while writes are stopped).");
        }

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

    /// <summary>For MirrorTraffic: the percent and tablet types.</summary>
    [JsonPropertyName("mirror")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MirrorTrafficOptions? Mirror { get; init; }
    [JsonPropertyName("approval")] public SignedApproval? Approval { get; init; }

    /// <summary>Set by the workflow when an approval releases this command; dropped from commands callers send.</summary>
    [JsonPropertyName("approval_grant")] public ApprovalGrant? Grant { get; init; }

    /// <summary>SwitchTraffic/Complete proceed even when VDiff has not proven the copy clean (the override is audited).</summary>
    [JsonPropertyName("ignore_vdiff")] public bool IgnoreVDiff { get; init; }

    /// <summary>For VDiffSchedule: "off" or a duration (30m, 1h).</summary>
    [JsonPropertyName("vdiff_interval")] public string? VDiffInterval { get; init; }

    /// <summary>Why (audited): required with ignore_vdiff.</summary>
    [JsonPropertyName("reason")] public string? Reason { get; init; }
}

/// <summary>The last VDiff the workflow ran: which, its state and counts, and when it finished.</summary>
public sealed record VDiffSummary
{
    [JsonPropertyName("uuid")] public string Uuid { get; init; } = "";
    [JsonPropertyName("workflow")] public string Workflow { get; init; } = "";
    [JsonPropertyName("keyspace")] public string Keyspace { get; init; } = "";
    [JsonPropertyName("state")] public string State { get; init; } = "";
    [JsonPropertyName("has_mismatch")] public bool HasMismatch { get; init; }
    [JsonPropertyName("rows_compared")] public long RowsCompared { get; init; }
    [JsonPropertyName("mismatched_rows")] public long MismatchedRows { get; init; }
    [JsonPropertyName("extra_rows_source")] public long ExtraRowsSource { get; init; }
    [JsonPropertyName("extra_rows_target")] public long ExtraRowsTarget { get; init; }
    [JsonPropertyName("errors")] public string? Errors { get; init; }
    [JsonPropertyName("started_at")] public DateTime StartedAt { get; init; }
    [JsonPropertyName("at")] public DateTime At { get; init; }

    /// <summary>Counts per table (what a held command names); empty for runs recorded before they were kept.</summary>
    [JsonPropertyName("tables")] public IReadOnlyList<VDiffTableCounts> Tables { get; init; } = [];

    [JsonIgnore] public bool IsClean => State == "completed" && !HasMismatch;

    public string Describe() => IsClean
        ? $"VDiff {Uuid} of {Keyspace}.{Workflow} is clean ({RowsCompared} rows compared)"
        : State == "completed"
            ? $"VDiff {Uuid} of {Keyspace}.{Workflow} found differences: {MismatchedRows} mismatched, {ExtraRowsSource} extra on the source, {ExtraRowsTarget} extra on the target ({RowsCompared} rows compared)"
            : $"VDiff {Uuid} of {Keyspace}.{Workflow} ended {State}{(string.IsNullOrEmpty(Errors) ? "" : ": " + Errors)}";
}

/// <summary>
/// VDiff in the lifecycle: once the copy is done VDiff runs and re-runs every <see cref="IntervalSeconds"/> (null: off).
/// Whether SwitchTraffic/Complete may run is <see cref="VDiffGateRule"/>'s to say; <see cref="ValidSince"/> (the last
/// write switch) and <see cref="Last"/> (the workflow's own last run) are its inputs from here.
/// </summary>
public sealed record VDiffGate
{
    [JsonPropertyName("interval_seconds")] public double? IntervalSeconds { get; init; }
    [JsonPropertyName("running")] public string? Running { get; init; }
    [JsonPropertyName("running_since")] public DateTime? RunningSince { get; init; }
    [JsonPropertyName("running_workflow")] public string? RunningWorkflow { get; init; }
    [JsonPropertyName("running_keyspace")] public string? RunningKeyspace { get; init; }
    [JsonPropertyName("runs")] public int Runs { get; init; }
    [JsonPropertyName("due_at")] public DateTime? DueAt { get; init; }
    [JsonPropertyName("valid_since")] public DateTime ValidSince { get; init; }
    [JsonPropertyName("last")] public VDiffSummary? Last { get; init; }

    [JsonIgnore] public bool Enabled => IntervalSeconds is not null;
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

/// <summary>
/// A command waiting for its approval. An approval must name <see cref="Action"/> and <see cref="Generation"/>; a
/// traffic change drops the pending command (it was asked for in another traffic state).
/// </summary>
public sealed record PendingApproval(
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("since")] DateTime Since,
    [property: JsonPropertyName("command")] WorkflowCommand Command)
{
    /// <summary>The workflow's traffic generation when the command arrived; the one its approval must name.</summary>
    [JsonPropertyName("generation")] public long Generation { get; init; }

    [JsonPropertyName("request_id")] public string RequestId => Command.RequestId;
}

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

    /// <summary>
    /// Bumped by every traffic change (a switch or reverse of reads or writes that changed where traffic goes; a
    /// failed switch that changed nothing does not bump it). An approval names the generation it was given in, so it
    /// cannot be spent after the traffic moved.
    /// </summary>
    [JsonPropertyName("traffic_generation")] public long TrafficGeneration { get; init; }
    [JsonPropertyName("vdiff")] public VDiffGate? VDiff { get; init; }

    /// <summary>The workflow's own wake-up intervals, fixed at create (null: <see cref="WorkflowTimings.Default"/>).</summary>
    [JsonPropertyName("timings")] public WorkflowTimings? Timings { get; init; }

    [JsonPropertyName("audit")] public IReadOnlyList<AuditEntry> Audit { get; init; } = [];
    [JsonPropertyName("commands")] public IReadOnlyList<CommandResult> Commands { get; init; } = [];

    /// <summary>
    /// Audit entries left out of this published status to keep it within the task hub's size limit (the oldest first);
    /// the orchestration's own state keeps them all.
    /// </summary>
    [JsonPropertyName("audit_omitted")] public int AuditOmitted { get; init; }

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
