using Durable.MySql;
using Durable.MySql.Flavors;
using Durable.Replication;

namespace Durable.Workflows;

/// <summary>
/// One open connection per primary of one side of a switch, for the whole switch: while writes are refused no
/// step pays for a topology lookup, a connect or the sidecar check. Each connection runs one statement at a
/// time; work on different shards runs side by side.
/// </summary>
internal sealed class SidePrimaries(string keyspace, IReadOnlyList<(string Shard, TabletEndpoint Tablet, MySqlConnection Connection)> shards) : IAsyncDisposable
{
    /// <summary>Opens a connection to the primary of each shard of the keyspace (all closed again if one cannot be opened).</summary>
    public static async Task<SidePrimaries> OpenAsync(ReplicationEngine engine, KeyspaceShards keyspaceShards, string keyspace, CancellationToken ct)
    {
        var shards = new List<(string, TabletEndpoint, MySqlConnection)>();
        try
        {
            foreach (var shard in await keyspaceShards.NamesAsync(keyspace, ct).ConfigureAwait(false))
            {
                var primary = await engine.Connector.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
                var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
                shards.Add((shard, primary, c));
                await engine.Sidecar.EnsureAsync(c, ct).ConfigureAwait(false); // stream rows are read and written here
            }
        }
        catch
        {
            foreach (var (_, _, c) in shards)
            {
                await c.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        return new SidePrimaries(keyspace, shards);
    }

    public IReadOnlyList<string> ShardNames { get; } = [.. shards.Select(s => s.Shard)];

    /// <summary>The first primary in shard order: the side's <see cref="WindowClock"/>.</summary>
    public MySqlConnection First => shards[0].Connection;

    public MySqlConnection For(string shard) =>
        shards.FirstOrDefault(s => s.Shard == shard).Connection ?? throw new InvalidOperationException($"Keyspace {keyspace} has no shard {shard} in this switch.");

    public Task ForEachAsync(Func<string, TabletEndpoint, MySqlConnection, Task> work) =>
        Task.WhenAll(shards.Select(s => work(s.Shard, s.Tablet, s.Connection)));

    public async Task<Dictionary<string, T>> MapAsync<T>(Func<string, TabletEndpoint, MySqlConnection, Task<T>> work)
    {
        var results = await Task.WhenAll(shards.Select(async s => (s.Shard, Value: await work(s.Shard, s.Tablet, s.Connection).ConfigureAwait(false)))).ConfigureAwait(false);
        return results.ToDictionary(r => r.Shard, r => r.Value, StringComparer.Ordinal);
    }

    /// <summary>The current GTID position of each primary.</summary>
    public Task<Dictionary<string, string>> PositionsAsync(CancellationToken ct) =>
        MapAsync(async (_, _, c) => (await ServerFlavor.For(c).CurrentPositionAsync(c, ct).ConfigureAwait(false)).Encode());

    public async ValueTask DisposeAsync()
    {
        foreach (var s in shards)
        {
            await s.Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
