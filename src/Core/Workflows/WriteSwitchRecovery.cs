using Durable.Core.Faults;
using Durable.Replication;
using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// Ends a write switch from its journal: forward once it has committed (<see cref="FinishAsync"/>), back before that
/// (<see cref="RollbackAsync"/>). The forward path (<see cref="WriteSwitch"/>) ends its own attempt with them; a
/// journal found on entry, left by an attempt a crash interrupted, is ended by <see cref="RecoverAsync"/>.
/// </summary>
public sealed class WriteSwitchRecovery(ReplicationEngine engine, WorkflowRegistry registry, WriteGuards guards, KeyspaceShards shards, TrafficRules rules, ILogger logger)
{
    /// <summary>
    /// A journal found on entry: roll forward when committed, else back. Returns the resulting state. The journal's
    /// intent is recorded as finished unless it is the request's own, which goes on (a redelivery after a crash).
    /// </summary>
    public async Task<SwitchResult> RecoverAsync(WorkflowState state, SwitchJournal journal, KeyspaceLock targetLock, bool continuing, CancellationToken ct)
    {
        var recoveredState = state with { Traffic = journal.FromTraffic };
        if (journal.Step == SwitchSteps.Committed)
        {
            return await FinishAsync(recoveredState, journal, targetLock, ct).ConfigureAwait(false);
        }

        await RollbackAsync(recoveredState, journal, targetLock, ct).ConfigureAwait(false);
        var d = SwitchDirection.Of(state.Spec, journal.Reverse);
        var inbound = await shards.WorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false);
        var outbound = await shards.WorkflowStreamsAsync(d.From, d.Outbound, ct).ConfigureAwait(false);
        var result = new SwitchResult(false, $"an interrupted switch (step {journal.Step}) was rolled back", journal.FromTraffic,
            journal.Reverse ? outbound : inbound, journal.Reverse ? inbound : outbound);
        if (continuing)
        {
            await registry.DeleteJournalAsync(state.Spec.TargetKeyspace, state.Spec.Workflow, ct).ConfigureAwait(false);
        }
        else
        {
            await registry.FinishJournalAsync(state.Spec.TargetKeyspace, state.Spec.Workflow, new FinishedSwitch(journal.IntentId, result, DateTimeOffset.UtcNow), targetLock, ct).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>
    /// After the commit point: open writes where they go, start the outbound streams, freeze the inbound ones, then end
    /// the journal and record the intent as finished (one etcd transaction). Idempotent.
    /// </summary>
    internal async Task<SwitchResult> FinishAsync(WorkflowState state, SwitchJournal journal, KeyspaceLock targetLock, CancellationToken ct,
        SidePrimaries? to = null, SwitchTimings? timings = null)
    {
        var spec = state.Spec;
        var d = SwitchDirection.Of(spec, journal.Reverse);
        if (to is not null)
        {
            await to.ForEachAsync((_, tablet, c) => WriteGuards.RemoveAsync(c, tablet.DbName, spec.TargetKeyspace, spec.Workflow, d.ToGuard, state.Tables, TimeSpan.FromSeconds(10), ct)).ConfigureAwait(false);
        }
        else
        {
            await shards.LiftGuardsAsync(d.To, spec, d.ToGuard, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        }

        timings?.Mark("guards lifted where writes go");
        timings?.WindowCloses();
        var outbound = await shards.WorkflowStreamsAsync(d.From, d.Outbound, ct).ConfigureAwait(false);
        foreach (var s in outbound)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is { State: StreamState.Init or StreamState.Stopped })
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        FaultPoints.Hit("switchtraffic.before-freeze");
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

        timings?.Mark("outbound started, inbound frozen");
        var forward = journal.Reverse ? outbound : inbound;
        var reverseStreams = journal.Reverse ? inbound : outbound;
        var result = new SwitchResult(true, "writes switched", journal.ToTraffic, forward, reverseStreams, timings?.ToString()) { WindowMs = timings?.WindowMs };
        await registry.FinishJournalAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(journal.IntentId, result, DateTimeOffset.UtcNow), targetLock, ct).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Undoes a write switch that had not committed: every step is reverted, whatever step it reached. The caller ends
    /// the journal (and records the intent as finished when it is).
    /// </summary>
    public async Task RollbackAsync(WorkflowState state, SwitchJournal journal, KeyspaceLock targetLock, CancellationToken ct)
    {
        var spec = state.Spec;
        var d = SwitchDirection.Of(spec, journal.Reverse);
        var lockWait = TimeSpan.FromSeconds(10);
        await rules.ApplyAsync(spec, state.Tables, journal.FromTraffic, targetLock, ct).ConfigureAwait(false);

        // The side writes were going to must be guarded again before the side they come from opens.
        await shards.ForEachPrimaryAsync(d.To, (primary, c) =>
            guards.InstallAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, spec.SourceKeyspace, d.ToGuard, state.Tables, lockWait, ct), ct).ConfigureAwait(false);

        foreach (var shard in await shards.NamesAsync(d.From, ct).ConfigureAwait(false))
        {
            var existing = await engine.ListStreamsAsync(d.From, shard, d.Outbound, ct).ConfigureAwait(false);
            if (existing.Any(s => s.State != StreamState.Frozen))
            {
                await engine.DeleteWorkflowAsync(d.From, shard, d.Outbound, ct).ConfigureAwait(false);
            }
        }

        foreach (var s in await shards.WorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false))
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is { State: StreamState.Stopped })
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        await shards.LiftGuardsAsync(d.From, spec, d.FromGuard, state.Tables, lockWait, ct).ConfigureAwait(false);
        logger.LogInformation("{Workflow}: write switch {Intent} rolled back from step {Step}", spec.InstanceId, journal.IntentId, journal.Step);
    }
}
