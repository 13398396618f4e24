using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// Ends the traffic commands whose holder died. A switch (or Complete, or Cancel) journals its intent and acts under a
/// short lease (<see cref="SwitchLease"/>); when its host is killed the lease lapses within
/// <see cref="MoveTablesSettings.SwitchLeaseTtl"/>, and every process that runs this sweep (each Functions host and
/// each Streamer, as a Functions plan may scale to zero while the Streamer is always on) looks for journals nobody
/// holds, takes the lease itself and finishes or undoes the command from its journal. Queue redelivery of the dead
/// host's activity is not waited for: it finds the command's answer recorded and changes nothing.
/// </summary>
public sealed class InterruptedCommandRecovery(
    TopologyStore store, WorkflowRegistry registry, WriteSwitchRecovery switches, CleanupCommand cleanups, MoveTablesSettings settings, ILogger logger)
{
    private const string SwitchJournalName = "/SwitchJournal";
    private const string CleanupJournalName = "/CleanupJournal";

    private readonly string _holder = $"recovery@{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>One look at every workflow's journals; returns how many interrupted commands this process ended.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var (kvs, _) = await store.Etcd.GetPrefixAsync(registry.Prefix, keysOnly: true, ct: ct).ConfigureAwait(false);
        var ended = 0;
        foreach (var key in kvs.Select(kv => kv.KeyString))
        {
            var journal = key.EndsWith(SwitchJournalName, StringComparison.Ordinal) ? SwitchJournalName
                : key.EndsWith(CleanupJournalName, StringComparison.Ordinal) ? CleanupJournalName : null;
            if (journal is null)
            {
                continue;
            }

            // {prefix}{keyspace}/{workflow}/{journal}
            var path = key[registry.Prefix.Length..^journal.Length].Split('/');
            if (path.Length != 2)
            {
                continue;
            }

            try
            {
                var done = journal == SwitchJournalName
                    ? await EndSwitchAsync(path[0], path[1], ct).ConfigureAwait(false)
                    : await EndCleanupAsync(path[0], path[1], ct).ConfigureAwait(false);
                ended += done ? 1 : 0;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // One workflow's failure must not keep the others' commands from being ended; the next sweep retries.
                logger.LogWarning(e, "Recovery of the interrupted command of {Keyspace}.{Workflow} failed; retrying on the next sweep", path[0], path[1]);
            }
        }

        return ended;
    }

    private async Task<bool> EndSwitchAsync(string keyspace, string workflow, CancellationToken ct)
    {
        var journal = await registry.GetJournalAsync(keyspace, workflow, ct).ConfigureAwait(false);
        if (journal?.State is not { } state)
        {
            return false; // ended meanwhile, or written by a version that did not journal the state: the next command ends it
        }

        await using var lease = await TryLeaseAsync(state.Spec, [state.Spec.SourceKeyspace, state.Spec.TargetKeyspace], $"recover switch {journal.IntentId}", ct).ConfigureAwait(false);
        if (lease is null)
        {
            return false;
        }

        // Under the lease: the journal may have been ended by its holder just before its lease went.
        var current = await registry.GetJournalAsync(keyspace, workflow, ct).ConfigureAwait(false);
        if (current is null || current.IntentId != journal.IntentId)
        {
            return false;
        }

        logger.LogWarning("{Workflow}: the switch {Intent} of {Holder} was interrupted at step {Step} and its lease has lapsed; {Action} it from its journal",
            state.Spec.InstanceId, current.IntentId, current.Holder, current.Step, current.Step == SwitchSteps.Committed ? "finishing" : "undoing");
        var result = await switches.RecoverAsync(current.State ?? state, current, lease, continuing: false, ct).ConfigureAwait(false);
        logger.LogWarning("{Workflow}: interrupted switch {Intent} ended: {Message}", state.Spec.InstanceId, current.IntentId, result.Message);
        return true;
    }

    private async Task<bool> EndCleanupAsync(string keyspace, string workflow, CancellationToken ct)
    {
        var journal = await registry.GetCleanupJournalAsync(keyspace, workflow, ct).ConfigureAwait(false);
        if (journal is null)
        {
            return false;
        }

        var spec = journal.Request.State.Spec;
        await using var lease = await TryLeaseAsync(spec, CleanupCommand.KeyspacesOf(spec), $"recover {journal.Action}", ct).ConfigureAwait(false);
        if (lease is null || await registry.GetCleanupJournalAsync(keyspace, workflow, ct).ConfigureAwait(false) is null)
        {
            return false;
        }

        logger.LogWarning("{Workflow}: {Action} of {Holder} was interrupted and its lease has lapsed; running it to its end from its journal",
            spec.InstanceId, journal.Action, journal.Holder);
        await cleanups.ResumeAsync(journal, lease, ct).ConfigureAwait(false);
        logger.LogWarning("{Workflow}: interrupted {Action} finished", spec.InstanceId, journal.Action);
        return true;
    }

    /// <summary>The command's lease when nobody holds its keyspaces (the holder's lease lapsed); null while someone does.</summary>
    private async Task<SwitchLease?> TryLeaseAsync(MoveTablesCreate spec, IReadOnlyList<string> keyspaces, string reason, CancellationToken ct)
    {
        foreach (var ks in keyspaces)
        {
            if (await store.GetLockAsync(ks, ct).ConfigureAwait(false) is not null)
            {
                return null; // the holder is alive (or another command or recovery runs): not ours to end
            }
        }

        try
        {
            return await SwitchLease.AcquireAsync(store, keyspaces, $"{_holder}/{spec.InstanceId}", reason, settings.SwitchLeaseTtl, TimeSpan.Zero, ct).ConfigureAwait(false);
        }
        catch (TopologyLockTimeoutException)
        {
            return null; // another process took it first
        }
    }
}
