namespace Durable.Replication;

/// <summary>A state change the stream state machine does not allow (<see cref="StreamStates.CheckMove"/>).</summary>
public sealed class InvalidStreamStateException(string message) : ReplicationException(message);
