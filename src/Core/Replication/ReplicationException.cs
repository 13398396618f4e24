namespace Durable.Replication;

/// <summary>A replication failure; retrying may fix it unless it is a <see cref="TerminalReplicationException"/> (see <see cref="TransientFailures.IsTransient"/>).</summary>
public class ReplicationException(string message, Exception? inner = null) : Exception(message, inner);
