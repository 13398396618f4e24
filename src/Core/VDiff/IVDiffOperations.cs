namespace Durable.VDiff;

/// <summary>What the orchestration needs from VDiff; <see cref="VDiffService"/> is the real one.</summary>
public interface IVDiffOperations
{
    Task<(string Uuid, IReadOnlyList<string> Shards)> CreateAsync(string workflow, string keyspace, VDiffOptions options, string? uuid = null, CancellationToken ct = default);

    Task<string> RunShardAsync(string uuid, string workflow, string keyspace, string shard, TimeSpan? budget, CancellationToken ct);

    Task<VDiffReport?> ShowAsync(string workflow, string keyspace, string selector, bool verbose, CancellationToken ct = default);

    /// <summary>Stops a running VDiff on every shard (its shard loops see it at their next checkpoint); returns the shards changed.</summary>
    Task<int> StopAsync(string workflow, string keyspace, string uuid, CancellationToken ct = default);
}
