using System.Runtime.CompilerServices;
using Microsoft.DurableTask;
using Durable.VDiff;
using Durable.Workflows;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// VDiff in the MoveTables lifecycle, called from <see cref="MoveTablesOrchestration"/>: once the copy is done, VDiff
/// runs as the sub-orchestration <c>VDiff</c> on the workflow now carrying the writes (the forward one, or the
/// <c>_reverse</c> one after a write switch) and re-runs every interval; SwitchTraffic and Complete pass the VDiff gate
/// (<see cref="VDiffGateRule"/>) or are refused at once, unless --ignore-vdiff overrides it (audited). Everything here
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
    public static (string Workflow, string Keyspace)? Target(WorkflowState state) => VDiffGateRule.Target(state);

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
        // The forward workflow's VDiff reads the source as its stream does (time zone, tablet types), as an operator's does.
        var options = state.Traffic.Primary ? new VDiffOptions() : new VDiffCreateRequest().InheritFrom(state.Spec).ToOptions();
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

    /// <summary>Records a finished run of the schedule (the gate reads it, with the operator's runs, at the next command).</summary>
    public static async Task<WorkflowState> OnDoneAsync(TaskOrchestrationContext ctx, WorkflowState state, Task<VDiffOutcome> run)
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
                Errors = o.Errors, StartedAt = gate.RunningSince ?? ctx.CurrentUtcDateTime, At = ctx.CurrentUtcDateTime, Tables = o.Tables,
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
        return Audit(ctx, state with { VDiff = gate }, "durable", "VDiff", summary.IsClean ? "clean" : summary.State == VDiffStates.Completed ? "mismatch" : summary.State, summary.Describe());
    }

    /// <summary>
    /// The gate's verdict now: <see cref="VDiffGateRule"/> over the workflow's own last run and the latest completed
    /// VDiff in the sidecars (operator-run ones included), read by an activity so replays see the same answer.
    /// </summary>
    public static async Task<VDiffGateVerdict> VerdictAsync(TaskOrchestrationContext ctx, WorkflowState state)
    {
        VDiffSummary? stored = null;
        if (Target(state) is { } target)
        {
            try
            {
                stored = await ctx.CallActivityAsync<VDiffSummary?>(LatestActivity, new VDiffRunInput(target.Workflow, target.Keyspace, new VDiffOptions()), Retry);
            }
            catch (TaskFailedException)
            {
                // The sidecars could not be read (or this host runs no VDiff service): the workflow's own record decides.
            }
        }

        return VDiffGateRule.Evaluate(state, [state.VDiff?.Last, stored]);
    }

    /// <summary>
    /// SwitchTraffic and Complete run only when the VDiff gate lets them (<see cref="VDiffGateRule"/>); a held one is
    /// refused at once with the gate's reason and never runs later by itself. <c>ignore_vdiff</c> runs it anyway,
    /// audited with who, why and the VDiff it ignored. Anything else runs at once.
    /// </summary>
    public static async Task<WorkflowState> GateAsync(TaskOrchestrationContext ctx, WorkflowState state, string action, WorkflowCommand command, Execute execute)
    {
        if (!VDiffGateRule.Gates(action))
        {
            return await execute(ctx, state, action, command);
        }

        var verdict = await VerdictAsync(ctx, state);
        if (command.IgnoreVDiff)
        {
            state = Audit(ctx, state, command.RequestedBy, IgnoreVDiffAudit, "accepted",
                $"{action} proceeds without the VDiff gate (--ignore-vdiff) by {command.RequestedBy}{(string.IsNullOrWhiteSpace(command.Reason) ? "" : ": " + command.Reason)}; " +
                $"ignored: {(verdict.Uuid is { } u ? "VDiff " + u : "no VDiff")} ({verdict.State}: {verdict.Reason})");
            return await execute(ctx, state, action, command);
        }

        if (verdict.IsHeld)
        {
            return Audit(ctx, state, command.RequestedBy, action, "rejected", verdict.Describe(action), command.RequestId);
        }

        if (verdict.State == VDiffGateRule.NotApplicable)
        {
            state = Audit(ctx, state, "durable", "VDiff", "skipped", $"{action}: {verdict.Reason}");
        }

        return await execute(ctx, state, action, command);
    }

    /// <summary>The audit entry's action when --ignore-vdiff overrides the gate.</summary>
    public const string IgnoreVDiffAudit = "IgnoreVDiff";

    /// <summary>The activity reading the latest completed VDiff from the sidecars.</summary>
    public const string LatestActivity = Activities.VDiff.VDiffLatestActivity.Name;

    /// <summary>VDiffSchedule: the interval of the workflow's own VDiff runs, or off (the gate's no-schedule rule applies then).</summary>
    public static WorkflowState Schedule(TaskOrchestrationContext ctx, WorkflowState state, WorkflowCommand command)
    {
        var gate = state.VDiff ?? new VDiffGate { ValidSince = ctx.CurrentUtcDateTime };
        var interval = CommandRules.VDiffInterval(command.VDiffInterval);
        DateTime? due = interval is null ? null : gate.Last is { } l ? l.At + interval.Value : ctx.CurrentUtcDateTime;
        state = state with { VDiff = gate with { IntervalSeconds = interval?.TotalSeconds, DueAt = gate.Running is null ? due : gate.DueAt } };
        return Audit(ctx, state, command.RequestedBy, WorkflowActions.VDiffSchedule, "done",
            interval is null
                ? "VDiff re-runs are off: SwitchTraffic and Complete are now held only by a VDiff of the current direction that found differences"
                : $"VDiff re-runs every {GoDuration.Format(interval.Value)}: SwitchTraffic and Complete now need a clean VDiff of the current direction newer than the last switch of writes",
            command.RequestId);
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
