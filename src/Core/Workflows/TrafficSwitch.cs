using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// SwitchTraffic / ReverseTraffic: under the lease of both keyspaces and at most once per request (intent), a switch a
/// crash interrupted is ended first (from its journal), then the reads and writes the command names are switched: reads
/// alone by the routing rules (refused while the streams that would serve them are unhealthy), writes with the reads in
/// one flip of the rules, both by <see cref="Switcher"/> walking <see cref="SwitchPath"/> (the steps its dry run lists),
/// so a write switch that fails leaves reads where they were too.
/// </summary>
public sealed class TrafficSwitch(
    TopologyStore store, WorkflowRegistry registry, KeyspaceShards shards, TrafficRules rules, StreamCatchUp catchUp, Switcher switcher,
    WriteSwitchRecovery recovery, MoveTablesSettings settings, ILogger logger)
{
    /// <summary>How long a holder that lost its lease waits for the process that took the journal over to record the answer.</summary>
    private static readonly TimeSpan TakeoverWait = TimeSpan.FromSeconds(60);

    public async Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct)
    {
        var spec = request.State.Spec;
        request.Options.Validate();
        var holder = $"{spec.InstanceId}/{request.IntentId}@{Environment.MachineName}:{Environment.ProcessId}";
        try
        {
            // Waits past a keyspace lock's TTL: a switch redelivered after its host died must outlast the dead holder's
            // lease (recovery usually ends the dead holder's switch well before).
            await using var lease = await SwitchLease.AcquireAsync(store, SwitchScope.KeyspacesOf(spec), holder,
                $"{(request.Reverse ? "ReverseTraffic" : "SwitchTraffic")} {spec.TargetKeyspace}.{spec.Workflow}", settings.SwitchLeaseTtl, store.Options.LockTtl * 2, ct).ConfigureAwait(false);

            // Under the lease, so a repeated delivery cannot pass the finished-intent check while the original still runs.
            return await SwitchLedger.RunOnceAsync(registry, request, () => SwitchUnderLeaseAsync(request, lease, ct), ct).ConfigureAwait(false);
        }
        catch (SwitchLeaseLostException e)
        {
            logger.LogWarning("{Workflow}: switch {Intent} stopped: {Reason}", spec.InstanceId, request.IntentId, e.Message);
            return await AfterTakeoverAsync(request, ct).ConfigureAwait(false);
        }
    }

    private async Task<SwitchResult> SwitchUnderLeaseAsync(SwitchRequest request, SwitchLease lease, CancellationToken ct)
    {
        var state = request.State;
        var spec = state.Spec;
        var options = request.Options;

        // A journal left by an interrupted attempt: roll it forward (committed) or back, before anything else.
        var journal = await registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (journal is not null)
        {
            var continuing = journal.IntentId == request.IntentId;
            var recovered = await recovery.RecoverAsync(state, journal, lease, continuing, ct).ConfigureAwait(false);
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

        var scope = SwitchScope.Of(state, options, request.Reverse);
        var result = await switcher.SwitchAsync(state, options, request.Reverse, request.IntentId, scope, lease, ct).ConfigureAwait(false);
        if (scope.Writes)
        {
            logger.LogInformation("{Workflow}: write switch {Intent} {Outcome}: {Steps}", spec.InstanceId, request.IntentId, result.Ok ? "done" : "not done", result.Steps);
        }

        return result;
    }

    /// <summary>
    /// The command's dry run from the cluster as it is: an interrupted switch it would end first, traffic that is not
    /// what the workflow recorded (the command would change nothing), then the steps <see cref="SwitchPath"/> would
    /// take, with the read-only checks run for real. Takes no lock and changes nothing.
    /// </summary>
    public async Task<DryRunReport> DryRunAsync(WorkflowState state, SwitchOptions options, bool reverse, CancellationToken ct)
    {
        options.Validate();
        var spec = state.Spec;
        var keyspaces = SwitchScope.KeyspacesOf(spec);
        var lines = keyspaces.Select(k => $"Lock keyspace {k}").ToList();
        var journal = await registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (journal is not null)
        {
            var committed = journal.Step == SwitchSteps.Committed;
            lines.Add($"End the interrupted {(journal.Reverse ? "ReverseTraffic" : "SwitchTraffic")} {journal.IntentId} from its journal first: " +
                      (committed ? "it had committed, so finish it" : $"roll it back from step {journal.Step}"));
            state = state with { Traffic = committed ? journal.ToTraffic : journal.FromTraffic };
        }
        else if (await rules.TrafficAsync(spec, state.Tables, ct).ConfigureAwait(false) is var actual && actual != state.Traffic)
        {
            var stale = $"the routing rules say the traffic is '{actual}', not '{state.Traffic}' as the workflow recorded; the command would change nothing";
            lines.Add($"Check the routing rules: REFUSED, {stale}");
            return Unlocked(new DryRunReport(false, stale, lines, []), keyspaces);
        }

        var scope = SwitchScope.Of(state, options, reverse);
        var dry = new SwitchDryRun(state, options, reverse, scope, settings.CatchUpGoal, catchUp, settings.GatewayAckBound);
        var result = await SwitchPath.RunAsync(dry, scope, options, ct).ConfigureAwait(false);
        lines.AddRange(dry.Lines);
        return Unlocked(new DryRunReport(result.Ok, result.Message, lines, result.Path ?? []), keyspaces);
    }

    private static DryRunReport Unlocked(DryRunReport report, IReadOnlyList<string> keyspaces) =>
        report with { Lines = [.. report.Lines, .. keyspaces.Reverse().Select(k => $"Unlock keyspace {k}")] };

    /// <summary>
    /// This holder lost its lease mid-switch (it was paused or cut off from etcd): the process that took the journal
    /// over records the intent's answer, which this returns; failing that, what the routing rules say now.
    /// </summary>
    private async Task<SwitchResult> AfterTakeoverAsync(SwitchRequest request, CancellationToken ct)
    {
        var spec = request.State.Spec;
        var deadline = DateTimeOffset.UtcNow + TakeoverWait;
        while (DateTimeOffset.UtcNow < deadline)
        {
            if (await registry.GetAsync(spec.TargetKeyspace, spec.Workflow, request.IntentId, ct).ConfigureAwait(false) is { } done)
            {
                return done.Result with { Message = $"this host lost its lease during the switch; another process ended it: {done.Result.Message}" };
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
        }

        var actual = await rules.TrafficAsync(spec, request.State.Tables, ct).ConfigureAwait(false);
        return await StaleRequestAsync(request, actual, ct).ConfigureAwait(false);
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
