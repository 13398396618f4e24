using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// SwitchTraffic / ReverseTraffic: under the locks of both keyspaces and at most once per request (intent), a switch a
/// crash interrupted is ended first (from its journal), then reads are switched per tablet type and then, for PRIMARY,
/// writes (<see cref="WriteSwitch"/>).
/// </summary>
public sealed class TrafficSwitch(
    TopologyStore store, WorkflowRegistry registry, KeyspaceShards shards, TrafficRules rules, WriteSwitch writeSwitch, WriteSwitchRecovery recovery, ILogger logger)
{
    public async Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct)
    {
        var spec = request.State.Spec;
        request.Options.Validate();
        var holder = $"{spec.InstanceId}/{request.IntentId}";
        var locks = new List<KeyspaceLock>();
        try
        {
            // Both keyspaces, always in name order, so two workflows switching in opposite directions cannot deadlock.
            foreach (var ks in new[] { spec.SourceKeyspace, spec.TargetKeyspace }.Order(StringComparer.Ordinal))
            {
                // Waits past the lock's TTL: a switch redelivered after its host died must outlast the dead holder's lease.
                locks.Add(await store.LockKeyspaceAsync(ks, holder, $"{(request.Reverse ? "ReverseTraffic" : "SwitchTraffic")} {spec.TargetKeyspace}.{spec.Workflow}",
                    wait: store.Options.LockTtl * 2, ct: ct).ConfigureAwait(false));
            }

            var targetLock = locks.First(l => l.Keyspace == spec.TargetKeyspace);

            // Under the locks, so a repeated delivery cannot pass the finished-intent check while the original still runs.
            return await SwitchLedger.RunOnceAsync(registry, request, () => SwitchUnderLocksAsync(request, targetLock, ct), ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var l in Enumerable.Reverse(locks))
            {
                await l.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<SwitchResult> SwitchUnderLocksAsync(SwitchRequest request, KeyspaceLock targetLock, CancellationToken ct)
    {
        var state = request.State;
        var spec = state.Spec;
        var options = request.Options;

        // A journal left by an interrupted attempt: roll it forward (committed) or back, before anything else.
        var journal = await registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (journal is not null)
        {
            var continuing = journal.IntentId == request.IntentId;
            var recovered = await recovery.RecoverAsync(state, journal, targetLock, continuing, ct).ConfigureAwait(false);
            if (continuing && journal.Step == SwitchSteps.Committed)
            {
                return recovered; // this very switch had committed before the crash
            }

            state = state with { Traffic = recovered.Traffic, Streams = recovered.Streams, ReverseStreams = recovered.ReverseStreams };
        }
        else if (await rules.TrafficAsync(spec, state.Tables, ct).ConfigureAwait(false) is var actual && actual != state.Traffic)
        {
            // The request's state is not the cluster's: a redelivered activity whose switch already finished (its
            // journal is gone), or traffic changed since the command was sent. Re-running it from the stale state
            // would re-apply old routing rules; report what is there instead and change nothing.
            return await StaleRequestAsync(request, actual, ct).ConfigureAwait(false);
        }

        var types = options.Types();
        var readTypes = types.Where(t => t != "PRIMARY" && state.Traffic.IsSwitched(t) == request.Reverse).ToList();
        var writes = types.Contains("PRIMARY") && state.Traffic.Primary == request.Reverse;
        var traffic = state.Traffic;
        if (readTypes.Count > 0)
        {
            foreach (var t in readTypes)
            {
                traffic = traffic.With(t, !request.Reverse);
            }

            await rules.ApplyAsync(spec, state.Tables, traffic, targetLock, ct).ConfigureAwait(false);
            logger.LogInformation("{Workflow}: reads for {Types} switched {Direction}", spec.InstanceId, string.Join(",", readTypes), request.Reverse ? "back" : "forward");
        }

        state = state with { Traffic = traffic };
        if (!writes)
        {
            return new SwitchResult(true, "reads switched", traffic, state.Streams, state.ReverseStreams);
        }

        var result = await writeSwitch.SwitchWritesAsync(state, options, request.Reverse, request.IntentId, targetLock, ct).ConfigureAwait(false);
        logger.LogInformation("{Workflow}: write switch {Intent} {Outcome}: {Steps}", spec.InstanceId, request.IntentId, result.Ok ? "done" : "not done", result.Steps);
        return result;
    }

    /// <summary>
    /// The answer to a stale request: success when the cluster already is where this request would have taken it
    /// (the finished switch's result was lost with a crashed host), else a refusal; either way the actual streams.
    /// </summary>
    private async Task<SwitchResult> StaleRequestAsync(SwitchRequest request, TrafficState actual, CancellationToken ct)
    {
        var spec = request.State.Spec;
        var intended = request.State.Traffic;
        foreach (var t in request.Options.Types())
        {
            intended = intended.With(t, !request.Reverse);
        }

        var forward = await shards.WorkflowStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        var reverse = await shards.WorkflowStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        logger.LogWarning("{Workflow}: switch request {Intent} expected traffic '{Expected}' but the routing rules say '{Actual}'; nothing changed",
            spec.InstanceId, request.IntentId, request.State.Traffic, actual);
        return actual == intended
            ? new SwitchResult(true, "already switched (a repeated delivery of a finished switch)", actual, forward, reverse)
            : new SwitchResult(false, $"the workflow's traffic is '{actual}', not '{request.State.Traffic}' as the command assumed; nothing was changed, send the command again",
                actual, forward, reverse);
    }
}
