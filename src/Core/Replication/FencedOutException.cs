namespace Durable.Replication;

/// <summary>The stream is owned by someone else now (its epoch moved) or its position is not what this owner expected.</summary>
public sealed class FencedOutException(string message) : ReplicationException(message);
