using Durable.Topology.Etcd;

namespace Durable.Topology;

/// <summary>
/// The records of the cutover hold protocol in etcd, beside the rest of the global topology:
/// <c>{global}/gateways/NAME</c> (registrations, on each gateway's lease), <c>{global}/holds/KEYSPACE/WORKFLOW</c> (one
/// hold per workflow, written by its switch under the switch's keyspace locks) and
/// <c>{global}/hold-acks/HOLD/GATEWAY</c> (acknowledgements, on the gateway's lease). The switch's writes are built here
/// as operations and committed by the caller with its lock compares (<c>WorkflowRegistry.CommitUnderLeaseAsync</c>).
/// </summary>
public sealed class TrafficHoldStore(TopologyStore store)
{
    public TopologyStore Store { get; } = store;

    public string GatewaysPrefix => $"{Store.Options.GlobalRoot}/gateways/";

    public string HoldsPrefix => $"{Store.Options.GlobalRoot}/holds/";

    public string AcksRoot => $"{Store.Options.GlobalRoot}/hold-acks/";

    public string GatewayKey(string name) => GatewaysPrefix + CheckName(name, "gateway name");

    public string HoldKey(string targetKeyspace, string workflow) => $"{HoldsPrefix}{targetKeyspace}/{workflow}";

    public string AcksPrefix(string holdId) => $"{AcksRoot}{CheckName(holdId, "hold id")}/";

    public string AckKey(string holdId, string gateway) => AcksPrefix(holdId) + CheckName(gateway, "gateway name");

    // ---- The gateway's side ----

    /// <summary>Registers (or re-registers) a gateway on its lease.</summary>
    public Task<long> RegisterGatewayAsync(GatewayRegistration registration, long leaseId, CancellationToken ct) =>
        Store.Etcd.PutAsync(GatewayKey(registration.Name), TopologyJson.Serialize(registration), leaseId, ct);

    /// <summary>Acknowledges a hold on the gateway's lease (an ack of a gateway that dies goes with it).</summary>
    public Task<long> AcknowledgeAsync(string holdId, string gateway, long leaseId, CancellationToken ct) =>
        Store.Etcd.PutAsync(AckKey(holdId, gateway), TopologyJson.Serialize(new TrafficHoldAck(holdId, gateway, DateTimeOffset.UtcNow)), leaseId, ct);

    /// <summary>Every hold record and the store revision they were read at (a watch resumes after it).</summary>
    public async Task<(IReadOnlyList<Versioned<TrafficHoldRecord>> Holds, long Revision)> ReadHoldsAsync(CancellationToken ct)
    {
        var (kvs, revision) = await Store.Etcd.GetPrefixAsync(HoldsPrefix, ct: ct).ConfigureAwait(false);
        return ([.. kvs.Select(kv => new Versioned<TrafficHoldRecord>(TopologyJson.Deserialize<TrafficHoldRecord>(kv.ValueString, kv.KeyString), kv.ModRevision))], revision);
    }

    // ---- The switch's side ----

    /// <summary>The gateways registered now (those whose lease lapsed are gone).</summary>
    public async Task<IReadOnlyList<string>> GatewaysAsync(CancellationToken ct)
    {
        var (kvs, _) = await Store.Etcd.GetPrefixAsync(GatewaysPrefix, ct: ct).ConfigureAwait(false);
        return [.. kvs.Select(kv => kv.KeyString[GatewaysPrefix.Length..]).Order(StringComparer.Ordinal)];
    }

    /// <summary>The gateways that acknowledged <paramref name="holdId"/>.</summary>
    public async Task<IReadOnlyList<string>> AcknowledgedAsync(string holdId, CancellationToken ct)
    {
        var prefix = AcksPrefix(holdId);
        var (kvs, _) = await Store.Etcd.GetPrefixAsync(prefix, ct: ct).ConfigureAwait(false);
        return [.. kvs.Select(kv => kv.KeyString[prefix.Length..])];
    }

    public async Task<Versioned<TrafficHoldRecord>?> GetHoldAsync(string targetKeyspace, string workflow, CancellationToken ct) =>
        await Store.ReadAsync<TrafficHoldRecord>(HoldKey(targetKeyspace, workflow), ct).ConfigureAwait(false);

    /// <summary>The write that announces a hold (replacing the workflow's ended one) and clears the acks of an older hold of the same id.</summary>
    public IReadOnlyList<EtcdOp> AnnounceOps(TrafficHoldRecord hold) =>
        [EtcdOp.DeletePrefix(AcksPrefix(hold.Id)), EtcdOp.Put(HoldKey(hold.TargetKeyspace, hold.Workflow), TopologyJson.Serialize(hold))];

    /// <summary>The write that ends a hold (<see cref="TrafficHoldStates.Committed"/> or <see cref="TrafficHoldStates.RolledBack"/>) and drops its acks.</summary>
    public IReadOnlyList<EtcdOp> EndOps(TrafficHoldRecord hold, string state, long rulesRevision)
    {
        if (state is not (TrafficHoldStates.Committed or TrafficHoldStates.RolledBack))
        {
            throw new ArgumentException($"A hold ends '{TrafficHoldStates.Committed}' or '{TrafficHoldStates.RolledBack}', not '{state}'.", nameof(state));
        }

        var ended = hold with { State = state, RulesRevision = rulesRevision, EndedAt = DateTimeOffset.UtcNow };
        return [EtcdOp.Put(HoldKey(hold.TargetKeyspace, hold.Workflow), TopologyJson.Serialize(ended)), EtcdOp.DeletePrefix(AcksPrefix(hold.Id))];
    }

    private static string CheckName(string name, string what) =>
        name is { Length: > 0 and <= 200 } && !name.Contains('/', StringComparison.Ordinal) && name.All(c => !char.IsControl(c) && !char.IsWhiteSpace(c))
            ? name
            : throw new TopologyValidationException($"Invalid {what} '{name}': 1 to 200 characters, no '/', spaces or control characters.");
}
