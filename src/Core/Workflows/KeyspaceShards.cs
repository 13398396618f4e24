using Durable.MySql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// A keyspace's shards as the MoveTables steps walk them: their names, their primaries one at a time, the streams of a
/// workflow on them and the write guards on them.
/// </summary>
public sealed class KeyspaceShards(TopologyStore store, ReplicationEngine engine)
{
    /// <summary>The keyspace's shard names in name order; a keyspace without shards is refused.</summary>
    public async Task<IReadOnlyList<string>> NamesAsync(string keyspace, CancellationToken ct)
    {
        var shards = await store.GetShardsAsync(keyspace, ct).ConfigureAwait(false);
        if (shards.Count == 0)
        {
            throw new WorkflowValidationException($"Keyspace '{keyspace}' has no shards in the topology.");
        }

        return [.. shards.Select(s => s.Value.Name).Order(StringComparer.Ordinal)];
    }

    /// <summary>Runs <paramref name="work"/> on the primary of each shard in name order, one connection at a time.</summary>
    public async Task ForEachPrimaryAsync(string keyspace, Func<TabletEndpoint, MySqlConnection, Task> work, CancellationToken ct)
    {
        foreach (var shard in await NamesAsync(keyspace, ct).ConfigureAwait(false))
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            await work(primary, c).ConfigureAwait(false);
        }
    }

    /// <summary>The streams of <paramref name="workflow"/> on every shard of the keyspace.</summary>
    public async Task<IReadOnlyList<StreamRef>> WorkflowStreamsAsync(string keyspace, string workflow, CancellationToken ct)
    {
        var result = new List<StreamRef>();
        foreach (var shard in await NamesAsync(keyspace, ct).ConfigureAwait(false))
        {
            foreach (var s in await engine.ListStreamsAsync(keyspace, shard, workflow, ct).ConfigureAwait(false))
            {
                result.Add(new StreamRef(keyspace, shard, s.Id, s.SourceShard));
            }
        }

        return result;
    }

    /// <summary>Removes the workflow's write guards of one side from the tables on every primary of the keyspace.</summary>
    public Task LiftGuardsAsync(string keyspace, MoveTablesCreate spec, GuardSide side, IReadOnlyList<string> tables, TimeSpan lockWait, CancellationToken ct) =>
        ForEachPrimaryAsync(keyspace, (primary, c) => WriteGuards.RemoveAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, side, tables, lockWait, ct), ct);
}
