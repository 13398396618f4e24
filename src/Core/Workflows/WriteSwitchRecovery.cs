using Durable.Core.Faults;
using Durable.Replication;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// Ends a write switch from its journal: forward once it has committed (<see cref="FinishAsync"/>), back before that
/// (<see cref="RollbackAsync"/>). The forward path (<see cref="WriteSwitch"/>) ends its own attempt with them; a
/// journal left by an attempt a crash interrupted is ended by <see cref="RecoverAsync"/>, called by the next command on
/// the workflow or by any live process once the dead holder's lease has lapsed (<see cref="InterruptedCommandRecovery"/>).
/// Every step is checked against the lease of whoever ends it.
/// </summary>
public sealed class WriteSwitchRecovery(
    ReplicationEngine engine, WorkflowRegistry registry, WriteGuards guards, KeyspaceShards shards, TrafficRules rules, GatewayHolds holds, ILogger logger)
{
    /// <summary>
    /// A journal found on entry: roll forward when committed, else back. Returns the resulting state. The journal's
    /// intent is recorded as finished unless it is the request's own, which goes on (a redelivery after a crash).
    /// </summary>
    public async Task<SwitchResult> RecoverAsync(WorkflowState state, SwitchJournal journal, SwitchLease lease, bool continuing, CancellationToken ct)
    {
        var recoveredState = state with { Traffic = journal.FromTraffic };
        if (journal.Step == SwitchSteps.Committed)
        {
            return await FinishAsync(recoveredState, journal, lease, ct).ConfigureAwait(false);
        }

        var closedAt = await RollbackAsync(recoveredState, journal, lease, ct).ConfigureAwait(false);
        double? window = journal.WindowOpenedAt is { } opened && closedAt is { } closed ? WindowClock.Milliseconds(opened, closed) : null;
        var d = SwitchDirection.Of(state.Spec, journal.Reverse);
        var inbound = await shards.WorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false);
        var outbound = await shards.WorkflowStreamsAsync(d.From, d.Outbound, ct).ConfigureAwait(false);
        var result = new SwitchResult(false,
            $"an interrupted switch (step {journal.Step}) was rolled back{(window is { } w ? $"; writes were refused for {w:0} ms" : "")}. Traffic is unchanged: {journal.FromTraffic}",
            journal.FromTraffic, journal.Reverse ? outbound : inbound, journal.Reverse ? inbound : outbound,
            window is { } ms ? $"interrupted at {journal.Step}, rolled back; writes refused for {ms:0} ms" : null)
        { WindowMs = window };
        if (continuing)
        {
            await registry.CommitUnderLeaseAsync([Topology.Etcd.EtcdOp.Delete(registry.JournalKey(state.Spec.TargetKeyspace, state.Spec.Workflow))], lease,
                $"end the switch journal of {state.Spec.TargetKeyspace}.{state.Spec.Workflow}", ct).ConfigureAwait(false);
        }
        else
        {
            await registry.FinishJournalAsync(state.Spec.TargetKeyspace, state.Spec.Workflow, new FinishedSwitch(journal.IntentId, result, DateTimeOffset.UtcNow), lease, ct).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>
    /// After the commit point: open writes where they go, start the outbound streams, freeze the inbound ones, then end
    /// the journal and record the intent as finished (one etcd transaction). Idempotent. The window closes when the last
    /// guard where writes go is lifted, read on <see cref="WindowClock"/>.
    /// </summary>
    internal async Task<SwitchResult> FinishAsync(WorkflowState state, SwitchJournal journal, SwitchLease lease, CancellationToken ct,
        SidePrimaries? from = null, SidePrimaries? to = null, SwitchTimings? timings = null)
    {
        var spec = state.Spec;
        var d = SwitchDirection.Of(spec, journal.Reverse);
        await lease.EnsureHeldAsync("open writes where they go", ct).ConfigureAwait(false);
        if (to is not null)
        {
            await to.ForEachAsync((_, tablet, c) => WriteGuards.RemoveAsync(c, tablet.DbName, spec.TargetKeyspace, spec.Workflow, d.ToGuard, state.Tables, TimeSpan.FromSeconds(10), ct)).ConfigureAwait(false);
        }
        else
        {
            await shards.LiftGuardsAsync(d.To, spec, d.ToGuard, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        }

        var closedAt = from is not null
            ? await WindowClock.NowAsync(from.First, ct).ConfigureAwait(false)
            : await WindowClock.NowAsync(engine, shards, d.From, ct).ConfigureAwait(false);
        double? window = journal.WindowOpenedAt is { } opened ? WindowClock.Milliseconds(opened, closedAt) : null;
        timings ??= new SwitchTimings();
        timings.Mark("guards lifted where writes go");
        timings.WindowMs = window;

        // Writes are open where they go: the gateways may release what they hold onto the new routing.
        if (journal.HoldId is { } holdId)
        {
            await lease.EnsureHeldAsync("end the gateways' hold", ct).ConfigureAwait(false);
            await holds.EndAsync(spec, holdId, committed: true, lease, ct).ConfigureAwait(false);
            timings.Mark("gateways released");
        }

        await lease.EnsureHeldAsync("start the outbound streams", ct).ConfigureAwait(false);
        var outbound = await shards.WorkflowStreamsAsync(d.From, d.Outbound, ct).ConfigureAwait(false);
        foreach (var s in outbound)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is { State: StreamState.Init or StreamState.Stopped })
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        FaultPoints.Hit(SwitchFaultPoints.BeforeFreeze);
        await lease.EnsureHeldAsync("freeze the inbound streams", ct).ConfigureAwait(false);
        var inbound = await shards.WorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false);
        foreach (var s in inbound)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is not null && r.State != StreamState.Frozen)
            {
                if (r.State is not (StreamState.Running or StreamState.Stopped))
                {
                    await engine.StopStreamAsync(s.Keyspace, s.Shard, s.Id, "stopped before freezing", ct).ConfigureAwait(false);
                }

                await engine.FreezeStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        timings.Mark("outbound started, inbound frozen");
        var forward = journal.Reverse ? outbound : inbound;
        var reverseStreams = journal.Reverse ? inbound : outbound;
        var result = new SwitchResult(true, from is null ? $"writes switched (an interrupted switch, step {journal.Step}, was finished)" : "writes switched",
            journal.ToTraffic, forward, reverseStreams, timings.ToString()) { WindowMs = window };
        await registry.FinishJournalAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(journal.IntentId, result, DateTimeOffset.UtcNow), lease, ct).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Undoes a write switch that had not committed: every step is reverted, whatever step it reached, and the rules go
    /// back to the traffic before the command (reads included). The caller ends the journal (and records the intent as
    /// finished when it is). Returns when writes were accepted again on <see cref="WindowClock"/> (null when no guard
    /// had been armed).
    /// </summary>
    public async Task<double?> RollbackAsync(WorkflowState state, SwitchJournal journal, SwitchLease lease, CancellationToken ct)
    {
        var spec = state.Spec;
        var d = SwitchDirection.Of(spec, journal.Reverse);
        var lockWait = TimeSpan.FromSeconds(10);
        await lease.EnsureHeldAsync("restore the routing rules", ct).ConfigureAwait(false);
        await rules.ApplyAsync(spec, state.Tables, journal.FromTraffic, lease.For(spec.TargetKeyspace), ct).ConfigureAwait(false);

        // The side writes were going to must be guarded again before the side they come from opens.
        await lease.EnsureHeldAsync("guard the side writes were going to", ct).ConfigureAwait(false);
        await shards.ForEachPrimaryAsync(d.To, (primary, c) =>
            guards.InstallAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, spec.SourceKeyspace, d.ToGuard, state.Tables, lockWait, ct), ct).ConfigureAwait(false);

        await lease.EnsureHeldAsync("remove the outbound streams", ct).ConfigureAwait(false);
        foreach (var shard in await shards.NamesAsync(d.From, ct).ConfigureAwait(false))
        {
            var existing = await engine.ListStreamsAsync(d.From, shard, d.Outbound, ct).ConfigureAwait(false);
            if (existing.Any(s => s.State != StreamState.Frozen))
            {
                await engine.DeleteWorkflowAsync(d.From, shard, d.Outbound, ct).ConfigureAwait(false);
            }
        }

        await lease.EnsureHeldAsync("restart the inbound streams", ct).ConfigureAwait(false);
        foreach (var s in await shards.WorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false))
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is { State: StreamState.Stopped })
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        await lease.EnsureHeldAsync("lift the guards where writes stay", ct).ConfigureAwait(false);
        await shards.LiftGuardsAsync(d.From, spec, d.FromGuard, state.Tables, lockWait, ct).ConfigureAwait(false);
        var closedAt = journal.WindowOpenedAt is null ? (double?)null : await WindowClock.NowAsync(engine, shards, d.From, ct).ConfigureAwait(false);

        // The old routing is back and open: the gateways may release what they hold onto it.
        if (journal.HoldId is { } holdId)
        {
            await lease.EnsureHeldAsync("end the gateways' hold", ct).ConfigureAwait(false);
            await holds.EndAsync(spec, holdId, committed: false, lease, ct).ConfigureAwait(false);
        }

        logger.LogInformation("{Workflow}: write switch {Intent} rolled back from step {Step}", spec.InstanceId, journal.IntentId, journal.Step);
        return closedAt;
    }
}
