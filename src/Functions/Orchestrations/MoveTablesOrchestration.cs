using Microsoft.DurableTask;
using Durable.VDiff;
using Durable.Workflows;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// One orchestration per workflow (instance id <c>movetables:{target}.{workflow}</c>): pre-flight, create, copy
/// fan-out per stream, then replicate and take commands (SwitchTraffic, ReverseTraffic, Complete, Cancel, Start, Stop,
/// Approve) until Complete or Cancel. Its state is its custom status; it carries the state through ContinueAsNew so
/// its history stays short.
/// </summary>
public static class MoveTablesOrchestration
{
    public const string Name = "MoveTables";
    public const string CommandEvent = "Command";

    // Task names follow Azure Functions' function-name rule (letters, digits, '_', '-'), so they serve unchanged when
    // the activities become functions. Each activity is a class in src/Activities.
    public const string PreflightActivity = Activities.MoveTables.PreflightActivity.Name;
    public const string CreateActivity = Activities.MoveTables.CreateActivity.Name;
    public const string CopyChunkActivity = Activities.MoveTables.CopyChunkActivity.Name;
    public const string ProgressActivity = Activities.MoveTables.ProgressActivity.Name;
    public const string StreamsActivity = Activities.MoveTables.StreamsActivity.Name;
    public const string SwitchActivity = Activities.MoveTables.SwitchTrafficActivity.Name;
    public const string CompleteActivity = Activities.MoveTables.CompleteActivity.Name;
    public const string CancelActivity = Activities.MoveTables.CancelActivity.Name;
    public const string VerifyApprovalActivity = Activities.MoveTables.VerifyApprovalActivity.Name;
    public const string MirrorTrafficActivity = Activities.MoveTables.MirrorTrafficActivity.Name;

    /// <summary>Loop turns before ContinueAsNew.</summary>
    public const int TurnsPerGeneration = 40;

    /// <summary>The activity classes the orchestration calls, each a function of the app.</summary>
    public static readonly IReadOnlyList<Type> ActivityClasses =
    [
        typeof(Activities.MoveTables.PreflightActivity), typeof(Activities.MoveTables.CreateActivity), typeof(Activities.MoveTables.CopyChunkActivity),
        typeof(Activities.MoveTables.ProgressActivity), typeof(Activities.MoveTables.StreamsActivity), typeof(Activities.MoveTables.SwitchTrafficActivity),
        typeof(Activities.MoveTables.CompleteActivity), typeof(Activities.MoveTables.CancelActivity), typeof(Activities.MoveTables.VerifyApprovalActivity),
        typeof(Activities.MoveTables.MirrorTrafficActivity),
        // The VDiff gate's read of the latest completed VDiff: registered with MoveTables, whose gate calls it.
        typeof(Activities.VDiff.VDiffLatestActivity),
    ];

    /// <summary>
    /// Registers the orchestration and its activities directly on a registry, for engine-level test beds that run no
    /// Functions app; the app itself binds the same code through <see cref="MoveTablesOrchestratorFunction"/> and the
    /// activities' <c>[Function]</c> entry points.
    /// </summary>
    public static void Register(DurableTaskRegistry registry)
    {
        // The host's VDiff settings travel with its registry (not a process-wide static), read by each run.
        var vdiff = VDiffLifecycle.For(registry);
        registry.AddOrchestratorFunc<WorkflowState, WorkflowState>(Name, (ctx, state) => RunAsync(ctx, state, vdiff));
        ActivityFunctionNames.Register(registry, ActivityClasses);
    }

    /// <summary>Transient failures (lost connections, lock timeouts) are retried a few times before a step fails; nothing else is.</summary>
    private static readonly TaskOptions Retry = ActivityRetry.MoveTables;

    public static async Task<WorkflowState> RunAsync(TaskOrchestrationContext ctx, WorkflowState state, VDiffLifecycle.HostSettings? vdiff = null)
    {
        state = state with { UpdatedAt = ctx.CurrentUtcDateTime };
        if (state.Phase == Phases.PreFlight)
        {
            state = await CreateAsync(ctx, state);
        }

        state = VDiffLifecycle.Init(ctx, state, vdiff);
        Task<WorkflowCommand>? command = null;
        Task<Durable.VDiff.VDiffOutcome>? vdiffRun = null; // never carried over ContinueAsNew: a generation ends only without one
        for (var turn = 0; ; turn++)
        {
            state = ExpirePending(ctx, state);
            Publish(ctx, state);
            if (state.IsFinished)
            {
                return state;
            }

            // A command waiter still pending here has received nothing (a received command is handled before the loop
            // comes back), so ending the generation loses no command: one that arrives later is kept for the next
            // generation. Waiting for it instead kept a copy, and the replication after it, in one generation until
            // the first command, with a history growing by a round per chunk.
            if (turn >= TurnsPerGeneration && command is not { IsCompleted: true } && vdiffRun is null)
            {
                // Unprocessed commands stay queued for the next generation.
                ctx.ContinueAsNew(state);
                return state;
            }

            if (state.Phase == Phases.Copying)
            {
                command ??= ctx.WaitForExternalEvent<WorkflowCommand>(CommandEvent);
                var round = CopyRoundAsync(ctx, state);
                await Task.WhenAny(round, command);
                state = await round; // a command never runs beside an in-flight chunk
                if (command.IsCompleted)
                {
                    state = await HandleAsync(ctx, state, await command);
                    command = null;
                }

                continue;
            }

            if (command is { IsCompleted: true })
            {
                state = await HandleAsync(ctx, state, await command);
                command = null;
                continue;
            }

            if (vdiffRun is null && VDiffLifecycle.ShouldStart(ctx, state))
            {
                (state, vdiffRun) = VDiffLifecycle.Start(ctx, state);
                Publish(ctx, state);
            }

            using var cts = new CancellationTokenSource();
            // A waiter left from the copy phase cannot be cancelled: it stays the command waiter until a command arrives,
            // so refreshes and VDiff runs go on after the copy instead of blocking on it.
            var wait = command ?? ctx.WaitForExternalEvent<WorkflowCommand>(CommandEvent, cts.Token);
            var timer = ctx.CreateTimer(WaitFor(ctx, state), cts.Token);
            var winner = vdiffRun is null ? await Task.WhenAny(wait, timer) : await Task.WhenAny(wait, timer, vdiffRun);
            if (winner == wait)
            {
                cts.Cancel();
                command = null;
                var received = await wait;
                if (vdiffRun is not null && StopsVDiff(received.Action))
                {
                    // The VDiff's alignment parks and restarts streams: it must not run beside a command that changes them.
                    await VDiffLifecycle.StopAsync(ctx, state);
                    state = await VDiffLifecycle.OnDoneAsync(ctx, state, vdiffRun);
                    vdiffRun = null;
                }

                state = await HandleAsync(ctx, state, received);
            }
            else if (winner == vdiffRun)
            {
                cts.Cancel();
                state = await VDiffLifecycle.OnDoneAsync(ctx, state, vdiffRun!);
                vdiffRun = null;
            }
            else
            {
                cts.Cancel();
                state = await RefreshAsync(ctx, state);
            }
        }
    }

    /// <summary>
    /// Commands that change streams, SwitchTraffic and Complete among them: a scheduled VDiff still running cannot
    /// decide the gate (only completed ones do), and its alignment must not run beside the switch.
    /// </summary>
    private static bool StopsVDiff(string action) =>
        action?.Trim().ToLowerInvariant() is "reversetraffic" or "cancel" or "stop" or "start" or "switchtraffic" or "complete";

    private static TimeSpan WaitFor(TaskOrchestrationContext ctx, WorkflowState state)
    {
        var wait = Timings(state).RefreshInterval;
        if (state.Pending is { } p && state.Spec.Approvals.ExpirySeconds is { } exp)
        {
            var left = p.Since.AddSeconds(exp) - ctx.CurrentUtcDateTime;
            if (left < wait)
            {
                wait = left < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : left;
            }
        }

        return VDiffLifecycle.WaitAtMost(ctx, state, wait);
    }

    private static WorkflowTimings Timings(WorkflowState state) => state.Timings ?? WorkflowTimings.Default;

    private static void Publish(TaskOrchestrationContext ctx, WorkflowState state) =>
        ctx.SetCustomStatus(PublishedStatus.Fit(state with { UpdatedAt = ctx.CurrentUtcDateTime }));

    private static WorkflowState Audit(TaskOrchestrationContext ctx, WorkflowState state, string who, string action, string outcome, string detail,
        string? requestId = null) =>
        state.Record(new AuditEntry(ctx.CurrentUtcDateTime, who, action, outcome, detail),
            requestId is null ? null : new CommandResult(requestId, action, outcome, detail));

    private static string Describe(Exception e) => e switch
    {
        TaskFailedException f => f.FailureDetails.ErrorMessage,
        _ => e.Message,
    };

    private static async Task<WorkflowState> CreateAsync(TaskOrchestrationContext ctx, WorkflowState state)
    {
        var spec = state.Spec;
        state = Audit(ctx, state, spec.RequestedBy, "Create", "accepted", $"{(spec.IsMigrate ? "copy" : "move")} {(spec.AllTables ? "all tables" : string.Join(",", spec.Tables))} from {spec.SourceKey} to {spec.TargetKeyspace}");
        Publish(ctx, state);
        PreflightResult preflight;
        try
        {
            preflight = await ctx.CallActivityAsync<PreflightResult>(PreflightActivity, spec, Retry);
        }
        catch (TaskFailedException e)
        {
            return Audit(ctx, state with { Phase = Phases.Failed, LastError = "Pre-flight failed: " + Describe(e) }, "durable", "PreFlight", "failed", Describe(e));
        }

        if (preflight.Problems.Count > 0)
        {
            var text = string.Join(" ", preflight.Problems);
            return Audit(ctx, state with { Phase = Phases.Failed, LastError = "Pre-flight refused the workflow, nothing was changed: " + text }, "durable", "PreFlight", "refused", text);
        }

        state = state with { Phase = Phases.Creating, Tables = preflight.Tables };
        Publish(ctx, state);
        try
        {
            var created = await ctx.CallActivityAsync<CreateResult>(CreateActivity, new CreateInput(spec, preflight.Tables), Retry);
            state = state with
            {
                Streams = created.Streams,
                Copy = created.Copy,
                CopyStartedAt = ctx.CurrentUtcDateTime,
                Phase = spec.AutoStart ? Phases.Copying : Phases.Stopped,
            };
            return Audit(ctx, state, "durable", "Create", "done", $"{created.Streams.Count} stream(s) created; tables {string.Join(",", preflight.Tables)}");
        }
        catch (TaskFailedException e)
        {
            // What was created stays visible (streams, guards, rules): Cancel removes it.
            return Audit(ctx, state with { Phase = Phases.Stopped, LastError = "Create failed: " + Describe(e) }, "durable", "Create", "failed", Describe(e));
        }
    }

    private static async Task<WorkflowState> CopyRoundAsync(TaskOrchestrationContext ctx, WorkflowState state)
    {
        // One bounded chunk per stream per round, all streams in parallel (the fan-out per target/source shard).
        var chunks = state.Streams.Select(s => ctx.CallActivityAsync<CopyChunkResult>(CopyChunkActivity, new CopyInput(state.Spec, s), Retry)).ToList();
        try
        {
            var results = await Task.WhenAll(chunks);
            var progress = await ctx.CallActivityAsync<ProgressResult>(ProgressActivity, state, Retry);
            var waiting = results.Select(r => r.WaitingFor).FirstOrDefault(w => w is not null);
            state = state with { Copy = progress.Copy, LagSeconds = progress.LagSeconds, EtaSeconds = Eta(ctx, state, progress.Copy), LastError = waiting is null ? progress.StreamError : "Waiting for a source tablet: " + waiting };
            if (waiting is not null)
            {
                // Shown at once, then the next round tries again after a pause (a tablet may come back or be added).
                Publish(ctx, state);
                await ctx.CreateTimer(Timings(state).TabletWaitInterval, CancellationToken.None);
                return state;
            }

            if (results.All(r => r.Done))
            {
                state = state with { Phase = state.Spec.StopAfterCopy ? Phases.Stopped : Phases.Running, EtaSeconds = 0, Copy = [.. progress.Copy.Select(t => t with { Done = true })] };
                state = Audit(ctx, state, "durable", "Copy", "done", $"all tables copied; workflow {(state.Spec.StopAfterCopy ? "stopped (--stop-after-copy)" : "replicating")}");
            }

            return state;
        }
        catch (TaskFailedException e)
        {
            return Audit(ctx, state with { Phase = Phases.Stopped, LastError = "Copy failed: " + Describe(e) }, "durable", "Copy", "failed", Describe(e) + "; start the workflow to retry");
        }
    }

    private static double? Eta(TaskOrchestrationContext ctx, WorkflowState state, IReadOnlyList<TableProgress> copy)
    {
        var copied = copy.Sum(t => t.RowsCopied);
        var total = copy.Sum(t => Math.Max(t.RowsTotal, t.RowsCopied));
        var elapsed = (ctx.CurrentUtcDateTime - (state.CopyStartedAt ?? ctx.CurrentUtcDateTime)).TotalSeconds;
        return copied <= 0 || elapsed <= 0 ? null : Math.Round(Math.Max(0, total - copied) * elapsed / copied, 1);
    }

    private static async Task<WorkflowState> RefreshAsync(TaskOrchestrationContext ctx, WorkflowState state)
    {
        try
        {
            var progress = await ctx.CallActivityAsync<ProgressResult>(ProgressActivity, state);
            return state with { LagSeconds = progress.LagSeconds, LastError = progress.StreamError ?? state.LastError };
        }
        catch (TaskFailedException e)
        {
            return state with { LastError = "Could not read progress: " + Describe(e) };
        }
    }

    private static WorkflowState ExpirePending(TaskOrchestrationContext ctx, WorkflowState state)
    {
        if (state.Pending is { } p && state.Spec.Approvals.ExpirySeconds is { } exp && ctx.CurrentUtcDateTime >= p.Since.AddSeconds(exp))
        {
            return Audit(ctx, state with { Pending = null }, p.Command.RequestedBy, p.Action, "expired",
                $"no approval of {p.Action} (traffic generation {p.Generation}) within {exp}s; the workflow keeps running as it is, send the command again to retry",
                p.Command.RequestId);
        }

        return state;
    }

    /// <summary>
    /// Every SwitchTraffic and Complete of a workflow with approvals waits for its own approval: an approval releases
    /// the one command that is pending and is not kept for a later one.
    /// </summary>
    private static bool NeedsApproval(WorkflowState state, string action) =>
        state.Spec.Approvals.Required && action is WorkflowActions.SwitchTraffic or WorkflowActions.Complete;

    private static async Task<WorkflowState> HandleAsync(TaskOrchestrationContext ctx, WorkflowState state, WorkflowCommand command)
    {
        // Only the workflow grants approvals: a grant arriving with a command would let it skip its own approval's checks.
        command = command with { Grant = null };
        string action;
        try
        {
            action = WorkflowActions.Normalize(command.Action);
            CommandRules.Check(state, command);
        }
        catch (Exception e) when (e is WorkflowValidationException or WorkflowStateException)
        {
            return Audit(ctx, state, command.RequestedBy, command.Action, "rejected", e.Message, command.RequestId);
        }

        if (action == WorkflowActions.Approve)
        {
            return await ApproveAsync(ctx, state, command);
        }

        if (action == WorkflowActions.VDiffSchedule)
        {
            return VDiffLifecycle.Schedule(ctx, state, command);
        }

        if (NeedsApproval(state, action))
        {
            return AwaitApproval(ctx, state, action, command);
        }

        return await VDiffLifecycle.GateAsync(ctx, state, action, command, ExecuteAsync);
    }

    /// <summary>Makes the command the pending one; a command already pending is superseded (one pending command at a time).</summary>
    private static WorkflowState AwaitApproval(TaskOrchestrationContext ctx, WorkflowState state, string action, WorkflowCommand command)
    {
        if (state.Pending is { } earlier)
        {
            state = Audit(ctx, state, earlier.Command.RequestedBy, earlier.Action, "superseded",
                $"{earlier.Action} no longer waits for approval: {action} (request {command.RequestId}) arrived and is pending now", earlier.Command.RequestId);
        }

        var generation = state.TrafficGeneration;
        state = state with { Pending = new PendingApproval(action, ctx.CurrentUtcDateTime, command) { Generation = generation } };
        return Audit(ctx, state, command.RequestedBy, action, "waiting for approval",
            $"{action} waits for a signed approval of {action} for traffic generation {generation} from one of: {string.Join(", ", state.Spec.Approvals.Approvers)}",
            command.RequestId);
    }

    /// <summary>
    /// Checks an approval against the pending command and the traffic generation (in an activity: the keys and the
    /// nonce store are outside the orchestration); an accepted one is consumed by releasing that command, a refused
    /// one changes nothing. Either way the decision is audited.
    /// </summary>
    private static async Task<WorkflowState> ApproveAsync(TaskOrchestrationContext ctx, WorkflowState state, WorkflowCommand command)
    {
        var approval = command.Approval!;
        var pending = state.Pending;
        var described = $"approval of {approval.Action} for traffic generation {approval.Generation}";
        ApprovalVerdict verdict;
        try
        {
            verdict = await ctx.CallActivityAsync<ApprovalVerdict>(VerifyApprovalActivity,
                new VerifyApprovalRequest(ctx.InstanceId, state.Spec.Approvals.Approvers, approval, pending?.Action, state.TrafficGeneration,
                    pending is null ? null : $"{pending.Command.RequestId}@{pending.Since:O}"), Retry);
        }
        catch (TaskFailedException e)
        {
            return Audit(ctx, state, command.RequestedBy, "Approve", "rejected", $"could not verify the {described}: {Describe(e)}", command.RequestId);
        }

        var who = string.IsNullOrEmpty(verdict.Approver) ? command.RequestedBy : verdict.Approver;
        if (!verdict.Accepted)
        {
            // A refused approval changes nothing: a pending command keeps waiting.
            return Audit(ctx, state, who, "Approve", "rejected", $"{described} refused: {verdict.Reason}", command.RequestId);
        }

        if (pending is null || verdict.Action != pending.Action || verdict.Generation != state.TrafficGeneration)
        {
            // The activity checked exactly this; a verdict that disagrees with the state it was given is not trusted.
            return Audit(ctx, state, who, "Approve", "rejected",
                $"{described} refused: it does not match the pending command ({pending?.Action ?? "none"}, traffic generation {state.TrafficGeneration})", command.RequestId);
        }

        state = state with { Pending = null };
        state = Audit(ctx, state, who, "Approve", "accepted",
            $"{verdict.Action} (request {pending.Command.RequestId}) approved by {verdict.Approver} for traffic generation {verdict.Generation} (nonce {approval.Nonce}); " +
            "the approval is spent on this command", command.RequestId);
        var released = pending.Command with { Grant = new ApprovalGrant(verdict.Approver, approval.Nonce, verdict.Generation) };
        try
        {
            CommandRules.Check(state, released);
        }
        catch (Exception e) when (e is WorkflowValidationException or WorkflowStateException)
        {
            return Audit(ctx, state, released.RequestedBy, pending.Action, "rejected", e.Message, released.RequestId);
        }

        return await VDiffLifecycle.GateAsync(ctx, state, pending.Action, released, ExecuteAsync);
    }

    /// <summary>
    /// An approved command runs only in the traffic generation its approval named: one held (by VDiff) across a traffic
    /// change is refused, and its approval is gone with it.
    /// </summary>
    private static (WorkflowState State, bool Refused) SpendGrant(TaskOrchestrationContext ctx, WorkflowState state, string action, WorkflowCommand command)
    {
        if (command.Grant is not { } grant)
        {
            return (state, false);
        }

        if (grant.Generation != state.TrafficGeneration)
        {
            return (Audit(ctx, state, grant.Approver, action, "rejected",
                $"{action} (request {command.RequestId}) was approved by {grant.Approver} for traffic generation {grant.Generation}, but traffic has changed since " +
                $"(now generation {state.TrafficGeneration}: {state.Traffic}); the approval is void: send {action} again and approve it", command.RequestId), true);
        }

        return (Audit(ctx, state, grant.Approver, action, "consumed",
            $"{action} (request {command.RequestId}) runs on {grant.Approver}'s approval for traffic generation {grant.Generation} (nonce {grant.Nonce})"), false);
    }

    /// <summary>
    /// After a switch or reverse: a change of where traffic goes starts a new traffic generation, which voids every
    /// approval given before it and drops a command still waiting for one.
    /// </summary>
    private static WorkflowState NextGeneration(TaskOrchestrationContext ctx, WorkflowState before, WorkflowState after)
    {
        if (after.Traffic == before.Traffic)
        {
            return after;
        }

        after = after with { TrafficGeneration = before.TrafficGeneration + 1 };
        if (after.Pending is { } stale)
        {
            after = Audit(ctx, after with { Pending = null }, stale.Command.RequestedBy, stale.Action, "dropped",
                $"{stale.Action} waited for approval in traffic generation {stale.Generation}; traffic changed ({after.Traffic}, generation {after.TrafficGeneration}), so send it again",
                stale.Command.RequestId);
        }

        return after;
    }

    private static async Task<WorkflowState> ExecuteAsync(TaskOrchestrationContext ctx, WorkflowState state, string action, WorkflowCommand command)
    {
        var who = command.RequestedBy;
        (state, var refused) = SpendGrant(ctx, state, action, command);
        if (refused)
        {
            return state;
        }

        try
        {
            switch (action)
            {
                case WorkflowActions.SwitchTraffic:
                case WorkflowActions.ReverseTraffic:
                {
                    var reverse = action == WorkflowActions.ReverseTraffic;
                    var options = command.Switch ?? new SwitchOptions();
                    var start = state.Traffic.ToString();
                    var before = state;
                    state = state with { Phase = Phases.Switching };
                    Publish(ctx, state);
                    // The intent id is part of the activity input, so a redelivered activity recognises its own journal.
                    var result = await ctx.CallActivityAsync<SwitchResult>(SwitchActivity,
                        new SwitchRequest(state with { Audit = [], Commands = [] }, options, reverse, ctx.NewGuid().ToString("N")));
                    state = state with
                    {
                        Phase = Phases.Running,
                        Traffic = result.Traffic,
                        Streams = result.Streams,
                        ReverseStreams = result.ReverseStreams,
                        LastError = result.Ok ? null : result.Message,
                    };
                    state = NextGeneration(ctx, before, state);
                    state = VDiffLifecycle.AfterSwitch(ctx, before, state);
                    var message = result.Ok
                        ? $"{action} was successful for workflow {state.Spec.TargetKeyspace}.{state.Spec.Workflow}\n\nStart State: {start}\nCurrent State: {result.Traffic}"
                        : $"{action} failed for workflow {state.Spec.TargetKeyspace}.{state.Spec.Workflow}: {result.Message}\n\nCurrent State: {result.Traffic}";
                    if (result.Steps is { Length: > 0 } steps)
                    {
                        // Where the switch spent its time, and how long writes were refused: for operators and the benchmark.
                        message += "\nSteps: " + steps;
                    }

                    return Audit(ctx, state, who, action, result.Ok ? "done" : "failed", message, command.RequestId);
                }

                case WorkflowActions.Complete:
                    await ctx.CallActivityAsync<bool>(CompleteActivity, new CleanupRequest(state with { Audit = [], Commands = [] }, command.Cleanup ?? new CleanupOptions()), Retry);
                    state = state with { Phase = Phases.Completed, Pending = null, LastError = null };
                    return Audit(ctx, state, who, action, "done", $"Successfully completed the {state.Spec.Workflow} workflow in the {state.Spec.TargetKeyspace} keyspace", command.RequestId);
                case WorkflowActions.Cancel:
                    await ctx.CallActivityAsync<bool>(CancelActivity, new CleanupRequest(state with { Audit = [], Commands = [] }, command.Cleanup ?? new CleanupOptions()), Retry);
                    state = state with { Phase = Phases.Cancelled, Pending = null, LastError = null };
                    return Audit(ctx, state, who, action, "done", $"Successfully cancelled the {state.Spec.Workflow} workflow in the {state.Spec.TargetKeyspace} keyspace", command.RequestId);
                case WorkflowActions.MirrorTraffic:
                {
                    var summary = await ctx.CallActivityAsync<string>(MirrorTrafficActivity,
                        new MirrorTrafficRequest(state with { Audit = [], Commands = [] }, command.Mirror ?? new MirrorTrafficOptions()), Retry);
                    return Audit(ctx, state, who, action, "done", summary, command.RequestId);
                }

                case WorkflowActions.Stop:
                    await ctx.CallActivityAsync<bool>(StreamsActivity, new StreamsRequest(state with { Audit = [], Commands = [] }, false), Retry);
                    state = state with { Phase = Phases.Stopped };
                    return Audit(ctx, state, who, action, "done", "workflow stopped", command.RequestId);
                case WorkflowActions.Start:
                    await ctx.CallActivityAsync<bool>(StreamsActivity, new StreamsRequest(state with { Audit = [], Commands = [] }, true), Retry);
                    state = state with { Phase = state.CopyDone ? Phases.Running : Phases.Copying, LastError = null, CopyStartedAt = state.CopyStartedAt ?? ctx.CurrentUtcDateTime };
                    return Audit(ctx, state, who, action, "done", "workflow started", command.RequestId);
                default:
                    return Audit(ctx, state, who, action, "rejected", $"unknown action {action}", command.RequestId);
            }
        }
        catch (TaskFailedException e)
        {
            state = state with { Phase = state.Phase == Phases.Switching ? Phases.Running : state.Phase, LastError = $"{action} failed: {Describe(e)}" };
            return Audit(ctx, state, who, action, "failed", Describe(e), command.RequestId);
        }
    }
}
