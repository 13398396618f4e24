using System.Diagnostics;
using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.MySql.Flavors;
using Durable.MySql.Sql;
using Durable.Replication;
using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// The write switch (the cutover) on its forward path, one named step each: the refusals and all that can be done
/// before writes are refused, the record of intent, guards and drain, the inbound streams to the final positions, the
/// reverse streams, the rules and the hooks, the commit. The journal is saved after each step, each save and each step
/// that changes MySQL checked against the switch's lease (<see cref="SwitchLease"/>), so an attempt that fails before
/// the commit is rolled back and one after it rolled forward (<see cref="WriteSwitchRecovery"/>), by this process or,
/// when it dies, by any live one (<see cref="InterruptedCommandRecovery"/>).
/// </summary>
public sealed class WriteSwitch(
    ReplicationEngine engine, WorkflowRegistry registry, WriteGuards guards, KeyspaceShards shards, StreamPlanner planner, TrafficRules rules,
    StreamCatchUp catchUp, CutoverHookCaller hooks, WriteSwitchRecovery recovery, ILogger logger)
{
    /// <summary>How long the switch tries to get the streams within <see cref="StreamCatchUp.Goal"/> before it goes on anyway.</summary>
    private const double CatchUpBudgetSeconds = 15;

    /// <summary>Checks a reverse stream needs: the side writes go to already holds the rows and may reference unmoved tables.</summary>
    private static readonly PreflightOptions ReverseStreamChecks = new() { AllowNonEmptyTargetTables = true, AllowForeignKeysToUnmovedTables = true };

    /// <summary>
    /// Switches writes (and, in the same flip of the rules, the reads <paramref name="toTraffic"/> moves) from the traffic
    /// of <paramref name="state"/>. Refused, with nothing changed and no write refused, while a stream is not Running,
    /// lags over --max-replication-lag-allowed or has stalled; a failure before the commit restores everything.
    /// </summary>
    public async Task<SwitchResult> SwitchWritesAsync(
        WorkflowState state, SwitchOptions options, bool reverse, string intentId, TrafficState toTraffic, SwitchLease lease, CancellationToken ct)
    {
        var spec = state.Spec;
        var d = SwitchDirection.Of(spec, reverse);
        var inbound = reverse ? state.ReverseStreams : state.Streams;
        var timings = new SwitchTimings();

        // Refusals first: a refused switch changes nothing at all, and refuses no write.
        if (await catchUp.RefusalAsync(inbound, d.Inbound, options.MaxReplicationLagAllowedSeconds, TimeSpan.FromSeconds(options.TimeoutSeconds), ct).ConfigureAwait(false) is { } refusal)
        {
            return NotSwitched(state, timings, refusal + "; no write was refused and nothing was changed");
        }

        timings.Mark("streams checked");

        // Everything that can be read, opened or checked before writes are refused is done now: one connection per
        // primary of both sides for the whole switch (guards, drain, positions, stream rows), and the reverse streams'
        // specs, checked here so a reverse stream that could not be created refuses the switch before anything changes.
        await using var from = await SidePrimaries.OpenAsync(engine, shards, d.From, ct).ConfigureAwait(false);
        await using var to = await SidePrimaries.OpenAsync(engine, shards, d.To, ct).ConfigureAwait(false);
        IReadOnlyList<StreamSpec> outboundSpecs = [];
        if (options.EnableReverseReplication)
        {
            var problems = new List<string>();
            outboundSpecs = await ReverseStreamSpecsAsync(state, d, from, to, problems, ct).ConfigureAwait(false);
            if (problems.Count > 0)
            {
                return NotSwitched(state, timings, $"the reverse workflow {d.Outbound} could not be created, so nothing was changed: {string.Join(" ", problems.Distinct())}");
            }
        }

        timings.Mark("primaries opened");

        // Catch up before the guards, so the guarded wait is short. Not reaching the goal is not a refusal (the lag is
        // within --max-replication-lag-allowed, and the guarded wait is bounded by --timeout); a stalled stream is.
        var caughtUp = await catchUp.CatchUpAsync(inbound, from, to, TimeSpan.FromSeconds(Math.Min(options.TimeoutSeconds, CatchUpBudgetSeconds)), ct).ConfigureAwait(false);
        if (caughtUp.Stalled is { } stalled)
        {
            return NotSwitched(state, timings, $"the streams of workflow {d.Inbound} are not following the source: {stalled}; no write was refused and nothing was changed");
        }

        timings.Mark(caughtUp.CaughtUp ? "streams caught up" : $"streams not within {catchUp.Goal.TotalSeconds:0.#} s of the source after {CatchUpBudgetSeconds:0} s, going on");

        var journal = new SwitchJournal(intentId, reverse, state.Traffic, toTraffic, SwitchSteps.Intent,
            new Dictionary<string, string>(), new Dictionary<string, string>(), DateTimeOffset.UtcNow)
        {
            State = state with { Audit = [], Commands = [] },
            Holder = lease.Holder,
        };
        var run = new Attempt(state, options, reverse, intentId, lease, d, inbound, toTraffic, from, to, outboundSpecs, timings) { Journal = journal };
        await SaveJournalAsync(run, journal, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.AfterIntent);
        try
        {
            if (options.EnableReverseReplication)
            {
                await PrepareOutboundAsync(run, ct).ConfigureAwait(false);
            }

            timings.Mark("intent recorded");

            // Writes are refused from here: guards on the side writes leave (all its shards at once), then drain
            // in-flight writes, then the final position of each primary there.
            await ArmGuardsAsync(run, ct).ConfigureAwait(false);
            var finals = await DrainAsync(run, ct).ConfigureAwait(false);

            // The inbound streams reach the final positions within --timeout (a stalled one ends the wait early), else
            // everything is undone.
            if (await catchUp.WaitForStreamsAsync(inbound, finals, to, TimeSpan.FromSeconds(options.TimeoutSeconds), ct).ConfigureAwait(false) is { } late)
            {
                var why = late.Stalled ? "stopped following the source" : $"did not reach the final position within --timeout {options.TimeoutSeconds}s";
                return await AbandonAsync(run, $"the streams of workflow {d.Inbound} {why} ({late.Where}); the write guards were lifted and nothing was switched", ct).ConfigureAwait(false);
            }

            timings.Mark("streams at final position");
            await StopInboundAsync(run, ct).ConfigureAwait(false);

            // Outbound (reverse) streams at the positions of the primaries writes go to, read now that nothing else
            // writes there; their specs were built and checked before the guards.
            if (options.EnableReverseReplication)
            {
                await CreateOutboundAsync(run, ct).ConfigureAwait(false);
            }

            // Flip the rules and call the hooks while the side writes go to is still guarded: until the commit no
            // write can land there, so a rollback (failed hook, crash) never leaves rows on that side that the reverse
            // streams it deletes would have had to carry back. Its guards are lifted after the commit (FinishAsync).
            if (await FlipRulesAndCallHooksAsync(run, ct).ConfigureAwait(false) is { } hookError)
            {
                return await AbandonAsync(run, $"cutover hook failed, the switch was rolled back: {hookError}", ct).ConfigureAwait(false);
            }

            return await CommitAsync(run, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not SwitchLeaseLostException && run.Journal.Step != SwitchSteps.Committed)
        {
            // After the commit the switch only goes forward: the failure propagates and the journal (committed) makes
            // whoever ends it next finish it. A lost lease propagates too: another process owns the journal now.
            logger.LogWarning(e, "{Workflow}: write switch {Intent} failed at step {Step}; rolling back", spec.InstanceId, intentId, run.Journal.Step);
            return await AbandonAsync(run, $"write switch failed at step '{run.Journal.Step}' and was rolled back: {e.Message}", CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The reverse streams' specs, from the current positions of the side writes go to; what keeps one from being created goes to <paramref name="problems"/>.</summary>
    private async Task<IReadOnlyList<StreamSpec>> ReverseStreamSpecsAsync(WorkflowState state, SwitchDirection d, SidePrimaries from, SidePrimaries to, List<string> problems, CancellationToken ct)
    {
        var current = await to.PositionsAsync(ct).ConfigureAwait(false);
        var outboundSpecs = await planner.SpecsAsync(state.Spec, d.Outbound, d.To, d.From, state.Tables, to.ShardNames, from.ShardNames, current, ct).ConfigureAwait(false);
        foreach (var s in outboundSpecs)
        {
            problems.AddRange(await engine.Preflight.CheckAsync(s, ReverseStreamChecks, ct).ConfigureAwait(false));
        }

        return outboundSpecs;
    }

    /// <summary>After the record of intent: the outbound workflow's old streams go and it is registered.</summary>
    private async Task PrepareOutboundAsync(Attempt run, CancellationToken ct)
    {
        var d = run.Direction;
        await run.Lease.EnsureHeldAsync("prepare the reverse workflow", ct).ConfigureAwait(false);
        // Frozen outbound streams of an earlier switch never run again; they make way for the new ones, and the
        // outbound workflow is registered, both before writes are refused.
        await run.From.ForEachAsync((_, _, c) => engine.Store.DeleteWorkflowAsync(c, d.Outbound, ct)).ConfigureAwait(false);
        await registry.RegisterAsync(new WorkflowRecord(d.Outbound, d.From, d.To, run.State.Tables, run.Spec.InstanceId, !run.Reverse, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Guards on every primary of the side writes leave, all at once: writes there are refused from here. The window's
    /// start is read from <see cref="WindowClock"/> and saved before the first guard, so whoever ends the switch (this
    /// process, or another after a crash) measures the window from the same instant on the same clock.
    /// </summary>
    private async Task ArmGuardsAsync(Attempt run, CancellationToken ct)
    {
        var spec = run.Spec;
        var opened = await WindowClock.NowAsync(run.From.First, ct).ConfigureAwait(false);
        await SaveJournalAsync(run, run.Journal with { Step = SwitchSteps.ArmingGuards, WindowOpenedAt = opened }, ct).ConfigureAwait(false);
        await run.From.ForEachAsync((_, tablet, c) => guards.InstallAsync(c, tablet.DbName, spec.TargetKeyspace, spec.Workflow, spec.SourceKeyspace, run.Direction.FromGuard, run.State.Tables, run.LockWait, ct)).ConfigureAwait(false);
        run.Timings.Mark("guards armed");
        await SaveJournalAsync(run, run.Journal with { Step = SwitchSteps.GuardsArmed }, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.AfterGuards);
    }

    /// <summary>The in-flight writes drained on each primary of the side writes leave; returns the final position of each.</summary>
    private async Task<Dictionary<string, string>> DrainAsync(Attempt run, CancellationToken ct)
    {
        var lockWait = run.LockWait;
        var tables = run.State.Tables;
        await run.Lease.EnsureHeldAsync("drain in-flight writes", ct).ConfigureAwait(false);
        var finals = await run.From.MapAsync(async (_, tablet, c) =>
        {
            await c.ExecuteAsync($"SET SESSION lock_wait_timeout = {Math.Max(1, (int)Math.Ceiling(lockWait.TotalSeconds))}", ct).ConfigureAwait(false);
            // Waits for every transaction that wrote to these tables before the guards to commit or roll back.
            await c.ExecuteAsync("LOCK TABLES " + string.Join(", ", tables.Select(t => SqlQuoter.QualifiedName(tablet.DbName, t) + " READ")), ct).ConfigureAwait(false);
            await c.ExecuteAsync("UNLOCK TABLES", ct).ConfigureAwait(false);
            return (await ServerFlavor.For(c).CurrentPositionAsync(c, ct).ConfigureAwait(false)).Encode();
        }).ConfigureAwait(false);
        await SaveJournalAsync(run, run.Journal with { Step = SwitchSteps.Drained, FinalPositions = finals }, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.AfterDrain);
        run.Timings.Mark("drained");
        return finals;
    }

    /// <summary>The inbound streams, at the final positions now, are stopped there.</summary>
    private async Task StopInboundAsync(Attempt run, CancellationToken ct)
    {
        await run.Lease.EnsureHeldAsync("stop the inbound streams", ct).ConfigureAwait(false);
        foreach (var s in run.Inbound)
        {
            var c = run.To.For(s.Shard);
            if (await engine.Store.GetAsync(c, s.Id, ct).ConfigureAwait(false) is { State: StreamState.Running or StreamState.Copying or StreamState.Init or StreamState.Error })
            {
                await engine.Store.SetStateAsync(c, s.Id, StreamState.Stopped, $"stopped for the write switch {run.IntentId}", ct).ConfigureAwait(false);
            }
        }

        await SaveJournalAsync(run, run.Journal with { Step = SwitchSteps.InboundStopped }, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.AfterStopInbound);
        run.Timings.Mark("inbound stopped");
    }

    /// <summary>The outbound (reverse) streams, created at the current positions of the primaries writes go to.</summary>
    private async Task CreateOutboundAsync(Attempt run, CancellationToken ct)
    {
        await run.Lease.EnsureHeldAsync("create the reverse streams", ct).ConfigureAwait(false);
        var positions = await run.To.PositionsAsync(ct).ConfigureAwait(false);
        foreach (var s in run.OutboundSpecs)
        {
            await engine.Store.CreateAsync(run.From.For(s.TargetShard), s with { Position = GtidPosition.Decode(positions[s.SourceShard]) }, ct).ConfigureAwait(false);
        }

        await SaveJournalAsync(run, run.Journal with { Step = SwitchSteps.OutboundCreated, OutboundPositions = positions }, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.AfterReverseCreated);
        run.Timings.Mark("reverse streams created");
    }

    /// <summary>The routing rules flipped to where writes (and the switched reads) go, then the cutover hooks called; returns the first hook failure (null: none).</summary>
    private async Task<string?> FlipRulesAndCallHooksAsync(Attempt run, CancellationToken ct)
    {
        var spec = run.Spec;
        await run.Lease.EnsureHeldAsync("flip the routing rules", ct).ConfigureAwait(false);
        await rules.ApplyAsync(spec, run.State.Tables, run.ToTraffic, run.Lease.For(spec.TargetKeyspace), ct).ConfigureAwait(false);
        await SaveJournalAsync(run, run.Journal with { Step = SwitchSteps.RulesFlipped }, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.AfterRules);
        run.Timings.Mark("rules flipped");
        var hookError = await hooks.CallHooksAsync(spec, run.State.Tables, run.ToTraffic, run.Reverse, ct).ConfigureAwait(false);
        if (spec.CutoverHooks.Count > 0)
        {
            run.Timings.Mark("cutover hooks");
        }

        return hookError;
    }

    /// <summary>The commit point, then the switch finished (guards lifted where writes go, streams turned around).</summary>
    private async Task<SwitchResult> CommitAsync(Attempt run, CancellationToken ct)
    {
        await SaveJournalAsync(run, run.Journal with { Step = SwitchSteps.Committed }, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.AfterCommit);
        run.Timings.Mark("committed");
        return await recovery.FinishAsync(run.State, run.Journal, run.Lease, ct, run.From, run.To, run.Timings).ConfigureAwait(false);
    }

    /// <summary>An attempt that did not commit: rolled back, its journal ended and the refusal recorded as the intent's answer.</summary>
    private async Task<SwitchResult> AbandonAsync(Attempt run, string message, CancellationToken ct)
    {
        var closed = await recovery.RollbackAsync(run.State, run.Journal, run.Lease, ct).ConfigureAwait(false);
        run.Timings.Mark("rolled back");
        if (run.Journal.WindowOpenedAt is { } opened && closed is { } at)
        {
            run.Timings.WindowMs = WindowClock.Milliseconds(opened, at);
        }

        var failed = NotSwitched(run.State, run.Timings, message);
        await registry.FinishJournalAsync(run.Spec.TargetKeyspace, run.Spec.Workflow, new FinishedSwitch(run.IntentId, failed, DateTimeOffset.UtcNow), run.Lease, ct).ConfigureAwait(false);
        return failed;
    }

    /// <summary>The journal moved on to <paramref name="journal"/> (what a rollback reads) and saved under the lease.</summary>
    private async Task SaveJournalAsync(Attempt run, SwitchJournal journal, CancellationToken ct)
    {
        await registry.SaveJournalAsync(run.Spec.TargetKeyspace, run.Spec.Workflow, journal, run.Lease, ct).ConfigureAwait(false);
        run.Journal = journal;
    }

    /// <summary>A switch that did not happen: the traffic is as the command found it, and the message says so.</summary>
    private static SwitchResult NotSwitched(WorkflowState state, SwitchTimings timings, string message) =>
        new(false, $"{message}. Traffic is unchanged: {state.Traffic}", state.Traffic, state.Streams, state.ReverseStreams, timings.ToString()) { WindowMs = timings.WindowMs };

    /// <summary>One attempt at the write switch, from the record of intent on: what its steps share, and its journal as far as it got.</summary>
    private sealed record Attempt(
        WorkflowState State, SwitchOptions Options, bool Reverse, string IntentId, SwitchLease Lease, SwitchDirection Direction,
        IReadOnlyList<StreamRef> Inbound, TrafficState ToTraffic, SidePrimaries From, SidePrimaries To, IReadOnlyList<StreamSpec> OutboundSpecs, SwitchTimings Timings)
    {
        public required SwitchJournal Journal { get; set; }

        public MoveTablesCreate Spec => State.Spec;

        public TimeSpan LockWait => TimeSpan.FromSeconds(Options.LockWaitSeconds);
    }
}
