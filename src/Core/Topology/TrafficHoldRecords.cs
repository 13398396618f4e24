using System.Text.Json.Serialization;

namespace Durable.Topology;

/// <summary>The states of a cutover hold: announced and holding, then ended one way or the other.</summary>
public static class TrafficHoldStates
{
    public const string Holding = "holding";

    /// <summary>The switch committed: gateways release onto the new routing (at <see cref="TrafficHoldRecord.RulesRevision"/>).</summary>
    public const string Committed = "committed";

    /// <summary>The switch rolled back: gateways release onto the restored routing (at <see cref="TrafficHoldRecord.RulesRevision"/>).</summary>
    public const string RolledBack = "rolled_back";
}

/// <summary>
/// A write switch's hold on its moving tables (vtgate's keyspace event): gateways hold new statements on
/// <see cref="Tables"/> of both keyspaces while <see cref="State"/> is holding, and release them once they have seen the
/// topology at <see cref="RulesRevision"/> after it ended. One record per workflow, replaced by the workflow's next switch.
/// </summary>
public sealed record TrafficHoldRecord(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("workflow")] string Workflow,
    [property: JsonPropertyName("source_keyspace")] string SourceKeyspace,
    [property: JsonPropertyName("target_keyspace")] string TargetKeyspace,
    [property: JsonPropertyName("tables")] IReadOnlyList<string> Tables,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("holder")] string Holder)
{
    /// <summary>Set when the hold ends: the etcd revision of the routing rules the gateways must have seen before releasing.</summary>
    [JsonPropertyName("rules_revision")] public long RulesRevision { get; init; }

    [JsonPropertyName("ended_at")] public DateTimeOffset? EndedAt { get; init; }

    [JsonIgnore] public bool IsHolding => State == TrafficHoldStates.Holding;

    /// <summary>How messages name the workflow: <c>target_keyspace.workflow</c>.</summary>
    [JsonIgnore] public string WorkflowName => $"{TargetKeyspace}.{Workflow}";
}

/// <summary>A gateway that takes part in holds: registered on an etcd lease it keeps alive, so a dead gateway drops out.</summary>
public sealed record GatewayRegistration(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("cell")] string Cell,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt);

/// <summary>A gateway's acknowledgement that it holds <see cref="HoldId"/>'s tables (on the gateway's lease).</summary>
public sealed record TrafficHoldAck(
    [property: JsonPropertyName("hold_id")] string HoldId,
    [property: JsonPropertyName("gateway")] string Gateway,
    [property: JsonPropertyName("at")] DateTimeOffset At);
