namespace Durable.Replication;

/// <summary>The stream is no longer Running/Copying (an operator or activity stopped, froze or errored it).</summary>
public sealed class StreamStoppedException(StreamState state, string message)
    : ReplicationException($"The stream is {state}{(string.IsNullOrEmpty(message) ? "" : ": " + message)}.")
{
    public StreamState State { get; } = state;
}
