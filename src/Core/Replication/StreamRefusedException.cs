namespace Durable.Replication;

/// <summary>Refusal to create a stream, with every reason found.</summary>
public sealed class StreamRefusedException(IReadOnlyList<string> reasons)
    : ReplicationException("The stream cannot be created: " + string.Join(" ", reasons))
{
    public IReadOnlyList<string> Reasons { get; } = reasons;
}
