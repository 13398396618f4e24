namespace Durable.Routing;

/// <summary>What a statement is routed against: the session's current keyspace target (from the handshake's database or USE; null if none) and the topology snapshot.</summary>
public sealed record RouteContext(KeyspaceTarget? Session, RoutingSnapshot Snapshot);
