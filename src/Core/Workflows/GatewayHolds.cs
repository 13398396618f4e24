using System.Diagnostics;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// What the gateways answered to a hold: who acknowledged, who did not within the bound, and how long it took. Its text
/// is one step of the switch's step list, which separates steps by commas: it holds none.
/// </summary>
public sealed record HoldAnswer(IReadOnlyList<string> Acknowledged, IReadOnlyList<string> Silent, TimeSpan Waited)
{
    public override string ToString() =>
        Silent.Count == 0
            ? $"{Acknowledged.Count} gateway(s) holding"
            : $"{Acknowledged.Count} gateway(s) holding (no answer within the bound from {string.Join(" ", Silent)}: the write guards protect their clients)";
}

/// <summary>
/// The switch's side of the cutover hold (vtgate's keyspace event, see <see cref="TrafficHoldStore"/>): before any write
/// is refused it announces the hold on the moving tables, in the same etcd transaction as the journal that names it,
/// and waits, at most <see cref="AckBound"/>, until every registered gateway has acknowledged; a gateway that does not
/// answer is named and the switch goes on (the guards protect its clients; a dead gateway's registration lapses with
/// its lease). The hold is ended, committed or rolled back, with the revision of the routing rules the gateways must
/// have seen before they release what they hold. Every write is compared against the switch's lease.
/// </summary>
public sealed class GatewayHolds(TopologyStore store, WorkflowRegistry registry, TimeSpan ackBound, ILogger logger)
{
    /// <summary>How often the acknowledgements are read while waiting: a gateway answers within milliseconds.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    public TrafficHoldStore Holds { get; } = new(store);

    public TimeSpan AckBound => ackBound;

    /// <summary>The hold a write switch takes on its moving tables (under both keyspaces), with the switch's intent id as its id.</summary>
    public static TrafficHoldRecord HoldFor(MoveTablesCreate spec, IReadOnlyList<string> tables, string intentId, string holder) =>
        new(intentId, spec.Workflow, spec.SourceKeyspace, spec.TargetKeyspace, tables, TrafficHoldStates.Holding, DateTimeOffset.UtcNow, holder);

    /// <summary>
    /// Announces <paramref name="hold"/> together with <paramref name="journalOps"/> (one transaction: the journal that
    /// names the hold exists exactly when the hold does); then <see cref="WaitForAcknowledgementsAsync"/>.
    /// </summary>
    public Task AnnounceAsync(TrafficHoldRecord hold, IReadOnlyList<EtcdOp> journalOps, SwitchLease lease, CancellationToken ct) =>
        registry.CommitUnderLeaseAsync([.. journalOps, .. Holds.AnnounceOps(hold)], lease, $"announce the gateways' hold {hold.Id} of workflow {hold.WorkflowName}", ct);

    /// <summary>
    /// Ends the switch's hold <paramref name="holdId"/> if it is still holding (idempotent: a recovery may end it again,
    /// and a hold never announced, after a crash between the journal and the announce, needs nothing).
    /// </summary>
    public async Task EndAsync(MoveTablesCreate spec, string holdId, bool committed, SwitchLease lease, CancellationToken ct)
    {
        var current = await Holds.GetHoldAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (current is null || current.Value.Id != holdId || !current.Value.IsHolding)
        {
            return;
        }

        // The rules were written (flipped or restored) before this, under the same locks: their revision is final.
        var rules = await store.GetRoutingRulesAsync(ct).ConfigureAwait(false);
        var state = committed ? TrafficHoldStates.Committed : TrafficHoldStates.RolledBack;
        await registry.CommitUnderLeaseAsync(Holds.EndOps(current.Value, state, rules.ModRevision), lease,
            $"end the gateways' hold {holdId} of workflow {current.Value.WorkflowName} ({state})", ct).ConfigureAwait(false);
        logger.LogInformation("{Workflow}: gateways' hold {Hold} ended {State} at rules revision {Revision}", current.Value.WorkflowName, holdId, state, rules.ModRevision);
    }

    /// <summary>Until every registered gateway acknowledged <paramref name="hold"/>, or <see cref="AckBound"/> passed.</summary>
    public async Task<HoldAnswer> WaitForAcknowledgementsAsync(TrafficHoldRecord hold, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            // Registrations are read again each time: a gateway that dies meanwhile drops out with its lease, and one
            // that starts loads the hold before it is ready and acknowledges it too.
            var registered = await Holds.GatewaysAsync(ct).ConfigureAwait(false);
            var acked = (await Holds.AcknowledgedAsync(hold.Id, ct).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            var silent = registered.Where(g => !acked.Contains(g)).ToList();
            if (silent.Count == 0 || clock.Elapsed >= ackBound)
            {
                var answer = new HoldAnswer([.. registered.Where(acked.Contains)], silent, clock.Elapsed);
                if (silent.Count > 0)
                {
                    logger.LogWarning("{Workflow}: hold {Hold}: no acknowledgement from gateway(s) {Silent} within {Bound}s; switching anyway (the write guards protect their clients)",
                        hold.WorkflowName, hold.Id, string.Join(", ", silent), ackBound.TotalSeconds);
                }

                return answer;
            }

            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
    }
}
