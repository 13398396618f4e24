using System.Text.Json.Serialization;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.Workflows;

/// <summary>A workflow as the topology lists it: for "name taken", "table already moving" and Workflow list.</summary>
public sealed record WorkflowRecord(
    [property: JsonPropertyName("workflow")] string Workflow,
    [property: JsonPropertyName("keyspace")] string Keyspace,
    [property: JsonPropertyName("source_keyspace")] string SourceKeyspace,
    [property: JsonPropertyName("tables")] IReadOnlyList<string> Tables,
    [property: JsonPropertyName("instance_id")] string InstanceId,
    [property: JsonPropertyName("reverse")] bool Reverse,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt);

/// <summary>
/// The journal of one write switch: the durable record of intent written before anything changes, advanced at the steps
/// that record something (the window's start, the final positions, the rules, the commit), so a switch interrupted by a
/// crash is rolled back (or, once committed, rolled forward) by the next attempt.
/// </summary>
public sealed record SwitchJournal(
    [property: JsonPropertyName("intent_id")] string IntentId,
    [property: JsonPropertyName("reverse")] bool Reverse,
    [property: JsonPropertyName("from_traffic")] TrafficState FromTraffic,
    [property: JsonPropertyName("to_traffic")] TrafficState ToTraffic,
    [property: JsonPropertyName("step")] string Step,
    [property: JsonPropertyName("final_positions")] IReadOnlyDictionary<string, string> FinalPositions,
    [property: JsonPropertyName("outbound_positions")] IReadOnlyDictionary<string, string> OutboundPositions,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt)
{
    /// <summary>The workflow as the switch saw it (audit and commands left out): what a process that takes over needs.</summary>
    [JsonPropertyName("state")] public WorkflowState? State { get; init; }

    /// <summary>Who acts on this journal (host and intent), for the log of a process that takes it over.</summary>
    [JsonPropertyName("holder")] public string? Holder { get; init; }

    /// <summary>
    /// The gateways' hold this switch announced (<see cref="GatewayHolds"/>), saved with the announce: whoever ends the
    /// journal, forward or back, ends the hold too. Null for a switch that took none.
    /// </summary>
    [JsonPropertyName("hold_id")] public string? HoldId { get; init; }

    /// <summary>When the first guard was armed, on <see cref="WindowClock"/> (unix seconds): the start of the refused-writes window.</summary>
    [JsonPropertyName("window_opened_at")] public double? WindowOpenedAt { get; init; }
}

public static class SwitchSteps
{
    public const string Intent = "intent";

    /// <summary>The window's start is recorded and the guards are being armed: some may be armed already.</summary>
    public const string ArmingGuards = "arming-guards";
    /// <summary>Written by earlier versions after the guards; rolled back like every step before the commit.</summary>
    public const string GuardsArmed = "guards-armed";

    /// <summary>In-flight writes drained; the final positions are in the journal.</summary>
    public const string Drained = "drained";

    /// <summary>Written by earlier versions after the inbound streams stopped; rolled back like every step before the commit.</summary>
    public const string InboundStopped = "inbound-stopped";

    /// <summary>Written by earlier versions after the reverse streams were created; rolled back like every step before the commit.</summary>
    public const string OutboundCreated = "outbound-created";
    public const string TargetOpen = "target-guards-lifted";
    /// <summary>The routing rules flipped, written with this step in one transaction; the reverse streams' positions are in the journal.</summary>
    public const string RulesFlipped = "rules-flipped";

    /// <summary>Hooks succeeded: from here a crashed switch is rolled forward, never back.</summary>
    public const string Committed = "committed";
}

/// <summary>
/// Workflow records, switch journals and finished switch intents in etcd, under
/// {root}/global/workflows/{keyspace}/{workflow}/ (so Complete/Cancel remove them with the workflow).
/// </summary>
public sealed class WorkflowRegistry(TopologyStore store) : ISwitchOutcomes
{
    public TopologyStore Store { get; } = store;

    /// <summary>Where every workflow's records live: {root}/global/workflows/.</summary>
    public string Prefix => Store.Options.GlobalRoot + "/workflows/";

    public string RecordKey(string keyspace, string workflow) => $"{Prefix}{keyspace}/{workflow}/Workflow";

    public string JournalKey(string keyspace, string workflow) => $"{Prefix}{keyspace}/{workflow}/SwitchJournal";

    /// <summary>The journal of a running Complete or Cancel (<see cref="CleanupJournal"/>).</summary>
    public string CleanupJournalKey(string keyspace, string workflow) => $"{Prefix}{keyspace}/{workflow}/CleanupJournal";

    public async Task<CleanupJournal?> GetCleanupJournalAsync(string keyspace, string workflow, CancellationToken ct) =>
        (await Store.ReadAsync<CleanupJournal>(CleanupJournalKey(keyspace, workflow), ct).ConfigureAwait(false))?.Value;

    public Task SaveCleanupJournalAsync(CleanupJournal journal, SwitchLease lease, CancellationToken ct)
    {
        var spec = journal.Request.State.Spec;
        return CommitUnderLeaseAsync([EtcdOp.Put(CleanupJournalKey(spec.TargetKeyspace, spec.Workflow), TopologyJson.Serialize(journal))], lease,
            $"save the {journal.Action} journal of {spec.TargetKeyspace}.{spec.Workflow}", ct);
    }

    /// <summary>Ends a Complete's or Cancel's journal (its records may be gone already: Complete removes them all).</summary>
    public Task EndCleanupJournalAsync(MoveTablesCreate spec, SwitchLease lease, CancellationToken ct) =>
        CommitUnderLeaseAsync([EtcdOp.Delete(CleanupJournalKey(spec.TargetKeyspace, spec.Workflow))], lease, $"end the cleanup journal of {spec.TargetKeyspace}.{spec.Workflow}", ct);

    /// <summary>One key per finished switch request; intent ids are the orchestration's GUIDs (hex), safe in a key.</summary>
    public string FinishedSwitchKey(string keyspace, string workflow, string intentId) =>
        intentId is { Length: > 0 and <= 100 } && intentId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? $"{Prefix}{keyspace}/{workflow}/switches/{intentId}"
            : throw new WorkflowValidationException($"Switch intent id '{intentId}' is invalid: 1 to 100 letters, digits, '-' or '_'.");

    public string NonceKey(string instanceId, string nonce) =>
        $"{Store.Options.GlobalRoot}/approvals/{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(instanceId)))[..32]}/{nonce}";

    public async Task<IReadOnlyList<WorkflowRecord>> ListAsync(string? keyspace = null, CancellationToken ct = default) =>
        [.. (await Store.ReadAllAsync<WorkflowRecord>(keyspace is null ? Prefix : $"{Prefix}{keyspace}/", "Workflow", ct).ConfigureAwait(false))
            .Select(v => v.Value).OrderBy(w => w.Keyspace, StringComparer.Ordinal).ThenBy(w => w.Workflow, StringComparer.Ordinal)];

    public async Task<WorkflowRecord?> GetAsync(string keyspace, string workflow, CancellationToken ct = default) =>
        (await Store.ReadAsync<WorkflowRecord>(RecordKey(keyspace, workflow), ct).ConfigureAwait(false))?.Value;

    /// <summary>Registers a workflow; the same instance registering again is a no-op (redelivered activity).</summary>
    public async Task RegisterAsync(WorkflowRecord record, CancellationToken ct)
    {
        try
        {
            await Store.CreateAsync(RecordKey(record.Keyspace, record.Workflow), record, ct: ct).ConfigureAwait(false);
        }
        catch (TopologyConflictException)
        {
            var existing = await GetAsync(record.Keyspace, record.Workflow, ct).ConfigureAwait(false);
            if (existing?.InstanceId != record.InstanceId || existing.Reverse != record.Reverse)
            {
                throw new WorkflowStateException($"Workflow name {record.Keyspace}.{record.Workflow} is taken by another workflow ({existing?.InstanceId}).");
            }
        }
    }

    public async Task RemoveAsync(string keyspace, string workflow, CancellationToken ct)
    {
        var (kvs, _) = await Store.Etcd.GetPrefixAsync($"{Prefix}{keyspace}/{workflow}/", ct: ct).ConfigureAwait(false);
        foreach (var kv in kvs)
        {
            try
            {
                await Store.DeleteAsync(kv.KeyString, kv.ModRevision, ct: ct).ConfigureAwait(false);
            }
            catch (TopologyConflictException)
            {
                // changed meanwhile: read again and delete what is there now
                var again = await Store.Etcd.GetAsync(kv.KeyString, ct).ConfigureAwait(false);
                if (again is not null)
                {
                    await Store.DeleteAsync(again.KeyString, again.ModRevision, ct: ct).ConfigureAwait(false);
                }
            }
        }
    }

    public async Task<SwitchJournal?> GetJournalAsync(string keyspace, string workflow, CancellationToken ct) =>
        (await Store.ReadAsync<SwitchJournal>(JournalKey(keyspace, workflow), ct).ConfigureAwait(false))?.Value;

    /// <summary>
    /// One etcd round trip (a put guarded by the keyspace lock, not a read-modify-write): only the lock holder writes
    /// the journal, and the switch saves it several times while writes are refused.
    /// </summary>
    public Task SaveJournalAsync(string keyspace, string workflow, SwitchJournal journal, SwitchLease lease, CancellationToken ct) =>
        CommitUnderLeaseAsync([JournalOp(keyspace, workflow, journal)], lease, $"save the switch journal of {keyspace}.{workflow} (step {journal.Step})", ct);

    /// <summary>
    /// Saves <paramref name="journal"/> and the routing rules <paramref name="change"/> makes in one transaction under
    /// the lease, so the journal's step and the rules cannot disagree and the switch's refused window pays for one etcd
    /// write instead of two. A concurrent write of the rules (another workflow's) is not lost: the change is applied
    /// again on top of it, as <see cref="TopologyStore.UpdateRoutingRulesAsync"/> does.
    /// </summary>
    public async Task SaveJournalWithRulesAsync(string keyspace, string workflow, SwitchJournal journal, Func<RoutingRules, RoutingRules> change,
        SwitchLease lease, CancellationToken ct)
    {
        var what = $"flip the routing rules and save the switch journal of {keyspace}.{workflow} (step {journal.Step})";
        for (var attempt = 1; ; attempt++)
        {
            var current = await Store.GetRoutingRulesAsync(ct).ConfigureAwait(false);
            var rulesUnchanged = current.ModRevision == 0 ? EtcdCompare.Absent(Store.RoutingRulesKey) : EtcdCompare.ModRevisionIs(Store.RoutingRulesKey, current.ModRevision);
            var sent = System.Diagnostics.Stopwatch.GetTimestamp();
            var result = await Store.Etcd.TxnAsync([.. lease.Locks.Select(l => l.Guard), rulesUnchanged],
                [EtcdOp.Put(Store.RoutingRulesKey, change(current.Value).ToJson()), JournalOp(keyspace, workflow, journal)], null, ct).ConfigureAwait(false);
            if (result.Succeeded)
            {
                lease.Confirmed(sent);
                return;
            }

            // The lease (this throws when another process owns the switch now) or the rules changed underneath.
            await CommitUnderLeaseAsync([], lease, what, ct).ConfigureAwait(false);
            if (attempt >= 100)
            {
                throw new TopologyConflictException($"Cannot {what}: the routing rules kept changing underneath ({attempt} attempts); nothing was written.");
            }
        }
    }

    /// <summary>The write that saves a switch journal, for a transaction that writes something else with it.</summary>
    public EtcdOp JournalOp(string keyspace, string workflow, SwitchJournal journal) =>
        EtcdOp.Put(JournalKey(keyspace, workflow), TopologyJson.Serialize(journal with { UpdatedAt = DateTimeOffset.UtcNow }));

    /// <summary>
    /// Writes <paramref name="ops"/> only while every lock of <paramref name="lease"/> is still its holder's; else
    /// <see cref="SwitchLeaseLostException"/> and nothing is written.
    /// </summary>
    public async Task CommitUnderLeaseAsync(IReadOnlyList<EtcdOp> ops, SwitchLease lease, string what, CancellationToken ct)
    {
        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = await Store.Etcd.TxnAsync(lease.Locks.Select(l => l.Guard), ops, null, ct).ConfigureAwait(false);
        if (result.Succeeded)
        {
            lease.Confirmed(sent);
        }
        else
        {
            throw new SwitchLeaseLostException($"{lease.Holder} could not {what}: its lease on {string.Join(" and ", lease.Locks.Select(l => l.Description))} has expired " +
                "or been taken over; another process ends the command from its journal, and this one does nothing more");
        }
    }

    public async Task<FinishedSwitch?> GetAsync(string keyspace, string workflow, string intentId, CancellationToken ct) =>
        (await Store.ReadAsync<FinishedSwitch>(FinishedSwitchKey(keyspace, workflow, intentId), ct).ConfigureAwait(false))?.Value;

    public Task RecordAsync(string keyspace, string workflow, FinishedSwitch outcome, CancellationToken ct) =>
        Store.CommitAsync([], [EtcdOp.Put(FinishedSwitchKey(keyspace, workflow, outcome.IntentId), TopologyJson.Serialize(outcome))], null,
            $"record the finished switch {outcome.IntentId} of {keyspace}.{workflow}", ct);

    /// <summary>
    /// Ends a switch's journal and records its intent as finished in one etcd transaction, so there is no moment in
    /// which neither says what happened to it (a repeated delivery then either finds the journal or the record).
    /// </summary>
    public Task FinishJournalAsync(string keyspace, string workflow, FinishedSwitch outcome, SwitchLease lease, CancellationToken ct) =>
        CommitUnderLeaseAsync([EtcdOp.Put(FinishedSwitchKey(keyspace, workflow, outcome.IntentId), TopologyJson.Serialize(outcome)), EtcdOp.Delete(JournalKey(keyspace, workflow))],
            lease, $"finish the switch journal of {keyspace}.{workflow}", ct);

    public async Task DeleteJournalAsync(string keyspace, string workflow, CancellationToken ct)
    {
        var kv = await Store.Etcd.GetAsync(JournalKey(keyspace, workflow), ct).ConfigureAwait(false);
        if (kv is not null)
        {
            await Store.DeleteAsync(kv.KeyString, kv.ModRevision, ct: ct).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Used approval nonces in etcd: created once, naming what spent them; a second use by something else finds the key and
/// is refused, the same use again (a redelivered check activity) is accepted.
/// </summary>
public sealed class EtcdNonceStore(WorkflowRegistry registry) : INonceStore
{
    private sealed record SpentNonce(
        [property: System.Text.Json.Serialization.JsonPropertyName("used_at")] DateTimeOffset UsedAt,
        [property: System.Text.Json.Serialization.JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt,
        [property: System.Text.Json.Serialization.JsonPropertyName("spent_by")] string? SpentBy);

    public async Task<bool> TryUseAsync(string instanceId, string nonce, DateTimeOffset expiresAt, string spentBy, CancellationToken ct)
    {
        var key = registry.NonceKey(instanceId, nonce);
        try
        {
            await registry.Store.CreateAsync(key, new SpentNonce(DateTimeOffset.UtcNow, expiresAt, spentBy), ct: ct).ConfigureAwait(false);
            return true;
        }
        catch (TopologyConflictException)
        {
            var spent = (await registry.Store.ReadAsync<SpentNonce>(key, ct).ConfigureAwait(false))?.Value;
            return spent?.SpentBy is { Length: > 0 } by && by == spentBy;
        }
    }
}
