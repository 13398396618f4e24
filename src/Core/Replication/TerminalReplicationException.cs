namespace Durable.Replication;

/// <summary>A failure retrying cannot fix (schema mismatch, purged binlog, refused table): the stream goes to Error.</summary>
public sealed class TerminalReplicationException(string message, Exception? inner = null) : ReplicationException(message, inner);
