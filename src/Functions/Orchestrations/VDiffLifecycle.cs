using System.Runtime.CompilerServices;
using Microsoft.DurableTask;
using Durable.VDiff;
using Durable.Workflows;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// VDiff in the MoveTables lifecycle, called from <see cref="MoveTablesOrchestration"/>: once the copy is done, VDiff
/// runs as the sub-orchestration <c>VDiff</c> on the workflow now carrying the writes (the forward one, or the
/// <c>_reverse</c> one after a write switch) and re-runs every interval; a SwitchTraffic or Complete is held until a
/// VDiff that started after the last write switch is clean, unless an operator overrides it (audited). Everything here
/// is orchestration code: time is the orchestration's, and all state is in <see cref="WorkflowState.VDiff"/>.
/// </summary>
public static class VDiffLifecycle
{
    /// <summary>
    /// One host's VDiff settings for the MoveTables orchestration, bound to that host's registry (not process-wide: two
    /// hosts in one process, as in tests, each keep their own). Set while the host is configured, before its worker
    /// runs; once an orchestration has read it, it is frozen, so no replay can see another value.
    /// </summary>
    public sealed class HostSettings
    {
        private TimeSpan? _defaultInterval;
        private volatile bool _frozen;

        /// <summary>
        /// The interval new workflows get when they do not name their own (the Functions host: DURABLE_VDIFF_INTERVAL,
        /// 1h); null means they run no VDiff, as on hosts that do not register the VDiff orchestration. Read once per
        /// workflow, at its first run, and kept in its state.
        /// </summary>
        public TimeSpan? DefaultInterval
        {
            get
            {
                _frozen = true;
                return _defaultInterval;
            }

            set
            {
                if (_frozen)
                {
                    throw new InvalidOperationException("The VDiff default interval of this host is fixed once a MoveTables orchestration has run; set it while configuring the host.");
                }

                _defaultInterval = value;
            }
        }
    }

    private static readonly ConditionalWeakTable<DurableTaskRegistry, HostSettings> Hosts = new();

    /// <summary>The VDiff settings of the host whose worker runs <paramref name="registry"/> (created empty: no VDiff by default).</summary>
    public static HostSettings For(DurableTaskRegistry registry) => Hosts.GetValue(registry, _ => new HostSettings());

    private static readonly TaskOptions Retry = ActivityRetry.MoveTables;

    private static WorkflowTimings Timings(WorkflowState state) => state.Timings ?? WorkflowTimings.Default;

    public delegate Task<WorkflowState> Execute(TaskOrchestrationContext ctx, WorkflowState state, string action, WorkflowCommand command);

    private static WorkflowState Audit(TaskOrchestrationContext ctx, WorkflowState state, string who, string action, string outcome, string detail, string? requestId = null) =>
        state.Record(new AuditEntry(ctx.CurrentUtcDateTime, who, action, outcome, detail),
            requestId is null ? null : new CommandResult(requestId, action, outcome, detail));

    private static string Describe(Exception e) => e is TaskFailedException f ? f.FailureDetails.ErrorMessage : e.Message;

    /// <summary>Gives a workflow its VDiff settings on its first run; a generation starting with a run recorded (it cannot still be in flight) schedules a new one.</summary>
    public static WorkflowState Init(TaskOrchestrationContext ctx, WorkflowState state, HostSettings? host = null)
    {
        if (state.VDiff is null)
        {
            // The workflow's own --vdiff-interval (validated at create) wins over the host's default.
            var interval = state.Spec.IsMigrate ? null
                : state.Spec.VDiffInterval is { } own ? CommandRules.VDiffInterval(own) : host?.DefaultInterval;
            return state with { VDiff = new VDiffGate { IntervalSeconds = interval?.TotalSeconds, DueAt = ctx.CurrentUtcDateTime, ValidSince = ctx.CurrentUtcDateTime } };
        }

        var gate = state.VDiff;
        if (gate.Running is not null)
        {
            return state with { VDiff = gate with { Running = null, RunningSince = null, RunningWorkflow = null, RunningKeyspace = null, DueAt = ctx.CurrentUtcDateTime } };
        }

        // A gate given with the create (settings only) runs its first VDiff as soon as the copy is done.
        return gate is { Enabled: true, DueAt: null, Last: null } ? state with { VDiff = gate with { DueAt = ctx.CurrentUtcDateTime } } : state;
    }

    /// <summary>The workflow VDiff compares now: the forward one, or after a write switch the reverse one (null: none runs).</summary>
    public static (string Workflow, string Keyspace)? Target(WorkflowState state) =>
        state.Traffic.Primary
            ? state.ReverseStreams.Count > 0 ? (state.Spec.ReverseWorkflow, state.Spec.SourceKeyspace) : null
            : (state.Spec.Workflow, state.Spec.TargetKeyspace);

    /// <summary>The loop's wait, shortened so a VDiff that comes due starts on time.</summary>
    public static TimeSpan WaitAtMost(TaskOrchestrationContext ctx, WorkflowState state, TimeSpan wait)
    {
        // Only when a VDiff could start: a stopped workflow with a VDiff due must not wake every 100 ms.
        if (state.VDiff is { DueAt: { } due } && Eligible(state))
        {
            var left = due - ctx.CurrentUtcDateTime;
            var floor = TimeSpan.FromMilliseconds(100);
            return left < wait ? (left < floor ? floor : left) : wait;
        }

        return wait;
    }

    public static bool ShouldStart(TaskOrchestrationContext ctx, WorkflowState state) =>
        state.VDiff is { DueAt: { } due } && ctx.CurrentUtcDateTime >= due && Eligible(state);

    private static bool Eligible(WorkflowState state) =>
        state.VDiff is { Enabled: true, Running: null }
        && state.Phase == Phases.Running && state.CopyDone && !state.IsFinished && !state.Spec.IsMigrate && Target(state) is not null;

    /// <summary>Starts one VDiff run as a sub-orchestration (its uuid chosen here, so the workflow can stop it).</summary>
    public static (WorkflowState State, Task<VDiffOutcome> Run) Start(TaskOrchestrationContext ctx, WorkflowState state)
    {
        var (workflow, keyspace) = Target(state)!.Value;
        var gate = state.VDiff!;
        var runs = gate.Runs + 1;
        var uuid = ctx.NewGuid().ToString();
        var options = new VDiffOptions { SourceTimeZone = state.Traffic.Primary ? null : state.Spec.SourceTimeZone };
        var run = ctx.CallSubOrchestratorAsync<VDiffOutcome>(VDiffOrchestration.Orchestrator, new VDiffRunInput(workflow, keyspace, options, uuid) { ShardBudgetSeconds = Timings(state).VDiffShardBudgetSeconds },
            new TaskOptions().WithInstanceId($"{ctx.InstanceId}:vdiff-{runs}"));
        state = state with { VDiff = gate with { Runs = runs, Running = uuid, RunningSince = ctx.CurrentUtcDateTime, RunningWorkflow = workflow, RunningKeyspace = keyspace, DueAt = null } };
        return (state, run);
    }

    /// <summary>Asks an in-flight VDiff to stop (its shards stop at their next checkpoint), before a command that changes the streams.</summary>
    public static async Task StopAsync(TaskOrchestrationContext ctx, WorkflowState state)
    {
        if (state.VDiff is { Running: { } uuid, RunningWorkflow: { } workflow, RunningKeyspace: { } keyspace })
        {
            try
            {
                await ctx.CallActivityAsync<int>(VDiffOrchestration.StopActivity, new VDiffRunInput(workflow, keyspace, new VDiffOptions(), uuid), Retry);
            }
            catch (TaskFailedException)
            {
                // Not created yet or already gone: the run ends on its own and is awaited all the same.
            }
        }
    }

    /// <summary>Records a finished run; a clean one releases a held SwitchTraffic/Complete.</summary>
    public static async Task<WorkflowState> OnDoneAsync(TaskOrchestrationContext ctx, WorkflowState state, Task<VDiffOutcome> run, Execute execute)
    {
        var gate = state.VDiff!;
        VDiffSummary summary;
        try
        {
            var o = await run;
            summary = new VDiffSummary
            {
                Uuid = o.Uuid, Workflow = gate.RunningWorkflow ?? o.Workflow, Keyspace = gate.RunningKeyspace ?? "", State = o.State, HasMismatch = o.HasMismatch,
                RowsCompared = o.RowsCompared, MismatchedRows = o.MismatchedRows, ExtraRowsSource = o.ExtraRowsSource, ExtraRowsTarget = o.ExtraRowsTarget,
                Errors = o.Errors, StartedAt = gate.RunningSince ?? ctx.CurrentUtcDateTime, At = ctx.CurrentUtcDateTime,
            };
        }
        catch (TaskFailedException e)
        {
            summary = new VDiffSummary
            {
                Uuid = gate.Running ?? "", Workflow = gate.RunningWorkflow ?? "", Keyspace = gate.RunningKeyspace ?? "", State = "error", Errors = Describe(e),
                StartedAt = gate.RunningSince ?? ctx.CurrentUtcDateTime, At = ctx.CurrentUtcDateTime,
            };
        }

        var current = Target(state) is { } t && t.Workflow == summary.Workflow && t.Keyspace == summary.Keyspace;
        var interval = gate.IntervalSeconds is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
        var next = interval is null ? (DateTime?)null
            : !current || summary.State == VDiffStates.Stopped ? ctx.CurrentUtcDateTime
            : summary.State == VDiffStates.Completed ? ctx.CurrentUtcDateTime + interval.Value
            : ctx.CurrentUtcDateTime + (interval.Value < Timings(state).VDiffRetryAfterError ? interval.Value : Timings(state).VDiffRetryAfterError);
        gate = gate with { Running = null, RunningSince = null, RunningWorkflow = null, RunningKeyspace = null, Last = summary, DueAt = next };
        state = Audit(ctx, state with { VDiff = gate }, "durable", "VDiff", summary.IsClean ? "clean" : summary.State == VDiffStates.Completed ? "mismatch" : summary.State, summary.Describe());
        if (gate.Held is not { } held)
        {
            return state;
        }

        if (!current || !summary.IsClean || summary.StartedAt < gate.ValidSince)
        {
            var why = summary.IsClean ? "it compared an earlier direction of the workflow; another VDiff runs now" : summary.Describe();
            return Audit(ctx, state with { VDiff = gate with { Held = held with { Reason = why } } }, "durable", held.Action, "held by VDiff",
                $"{held.Action} stays held: {why}. Repair (VDiff create --repair) and send {held.Action} again to re-verify, or send VDiffOverride.");
        }

        return await ReleaseAsync(ctx, state, held, execute, $"{summary.Describe()}: {held.Action} proceeds");
    }

    private static async Task<WorkflowState> ReleaseAsync(TaskOrchestrationContext ctx, WorkflowState state, HeldCommand held, Execute execute, string detail)
    {
        state = Audit(ctx, state with { VDiff = state.VDiff! with { Held = null } }, "durable", held.Action, "released by VDiff", detail);
        try
        {
            CommandRules.Check(state, held.Command);
        }
        catch (Exception e) when (e is WorkflowValidationException or WorkflowStateException)
        {
            return Audit(ctx, state, held.Command.RequestedBy, held.Action, "rejected", e.Message, held.Command.RequestId);
        }

        return await execute(ctx, state, held.Action, held.Command);
    }

    /// <summary>SwitchTraffic and Complete run only on a clean VDiff (or an audited override); anything else runs at once.</summary>
    public static async Task<WorkflowState> GateAsync(TaskOrchestrationContext ctx, WorkflowState state, string action, WorkflowCommand command, Execute execute)
    {
        var gate = state.VDiff;
        if (action is not (WorkflowActions.SwitchTraffic or WorkflowActions.Complete) || gate is null || state.Spec.IsMigrate || (!gate.Enabled && gate.Held is null))
        {
            return await execute(ctx, state, action, command);
        }

        if (command.IgnoreVDiff)
        {
            state = Audit(ctx, state with { VDiff = gate with { Held = null } }, command.RequestedBy, WorkflowActions.VDiffOverride, "accepted",
                $"{action} proceeds without a clean VDiff (ignore_vdiff) by {command.RequestedBy}{(string.IsNullOrWhiteSpace(command.Reason) ? "" : ": " + command.Reason)}; last VDiff: {gate.Last?.Describe() ?? "none"}");
            return await execute(ctx, state, action, command);
        }

        if (Target(state) is not { } target)
        {
            state = Audit(ctx, state, "durable", "VDiff", "skipped", $"{action}: writes are switched without reverse replication, so there is no stream VDiff could verify");
            return await execute(ctx, state, action, command);
        }

        var last = gate.Last;
        if (gate.Running is null && last is { IsClean: true } && last.Workflow == target.Workflow && last.Keyspace == target.Keyspace && last.StartedAt >= gate.ValidSince)
        {
            return await execute(ctx, state, action, command);
        }

        var reason = gate.Running is not null ? $"VDiff {gate.Running} of {gate.RunningKeyspace}.{gate.RunningWorkflow} is running"
            : last is not null && last.Workflow == target.Workflow && last.Keyspace == target.Keyspace && last.StartedAt >= gate.ValidSince ? last.Describe()
            : $"no VDiff of {target.Keyspace}.{target.Workflow} has finished since {gate.ValidSince:u}";
        // A command sent again after a repair re-verifies at once; a run already in flight decides.
        var due = gate.Running is null && gate.Enabled ? ctx.CurrentUtcDateTime : gate.DueAt;
        state = state with { VDiff = gate with { Held = new HeldCommand(action, ctx.CurrentUtcDateTime, command, reason), DueAt = due } };
        // No command result yet: a caller following the request id keeps waiting for the real outcome (done, or its
        // own timeout); held_by_vdiff and the audit trail say why it waits.
        return Audit(ctx, state, command.RequestedBy, action, "held by VDiff",
            $"{action} waits for a clean VDiff of {target.Keyspace}.{target.Workflow}: {reason}. It proceeds by itself when a VDiff is clean; VDiffOverride (audited) lets it proceed now.");
    }

    /// <summary>VDiffOverride (release the held command) and VDiffSchedule (interval or off).</summary>
    public static async Task<WorkflowState> HandleAsync(TaskOrchestrationContext ctx, WorkflowState state, string action, WorkflowCommand command, Execute execute)
    {
        var gate = state.VDiff ?? new VDiffGate { ValidSince = ctx.CurrentUtcDateTime };
        if (action == WorkflowActions.VDiffSchedule)
        {
            var interval = CommandRules.VDiffInterval(command.VDiffInterval);
            DateTime? due = interval is null ? null : gate.Last is { } l ? l.At + interval.Value : ctx.CurrentUtcDateTime;
            state = state with { VDiff = gate with { IntervalSeconds = interval?.TotalSeconds, DueAt = gate.Running is null ? due : gate.DueAt } };
            return Audit(ctx, state, command.RequestedBy, action, "done",
                interval is null ? "VDiff re-runs are off: SwitchTraffic and Complete no longer wait for VDiff" : $"VDiff re-runs every {GoDuration.Format(interval.Value)}", command.RequestId);
        }

        var held = gate.Held!;
        state = Audit(ctx, state, command.RequestedBy, WorkflowActions.VDiffOverride, "accepted",
            $"{held.Action} (held since {held.Since:u}: {held.Reason}) proceeds without a clean VDiff: override by {command.RequestedBy}{(string.IsNullOrWhiteSpace(command.Reason) ? "" : ": " + command.Reason)}",
            command.RequestId);
        return await ReleaseAsync(ctx, state, held, execute, $"override by {command.RequestedBy}");
    }

    /// <summary>After a switch: when writes changed direction, earlier VDiffs no longer count and the new direction is verified at once.</summary>
    public static WorkflowState AfterSwitch(TaskOrchestrationContext ctx, WorkflowState before, WorkflowState after)
    {
        if (after.VDiff is not { } gate || before.Traffic.Primary == after.Traffic.Primary)
        {
            return after;
        }

        return after with { VDiff = gate with { ValidSince = ctx.CurrentUtcDateTime, DueAt = gate.Enabled ? ctx.CurrentUtcDateTime : null } };
    }
}
