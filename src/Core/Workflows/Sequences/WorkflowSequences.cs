using Durable.MySql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The sequences a REPLACE workflow needs (one per moved table with an AUTO_INCREMENT column, read from the source,
/// which keeps the attribute whatever the target's state), and the way to the global keyspace's primary.
/// </summary>
public sealed class WorkflowSequences(TopologyStore store, ReplicationEngine engine, KeyspaceShards shards)
{
    public TopologyStore Store => store;

    /// <summary>True when <paramref name="spec"/> asks for sequences (the target being sharded is checked by pre-flight).</summary>
    public static bool Requested(MoveTablesCreate spec) =>
        spec.AutoIncrementHandling() == ShardedAutoIncrementHandling.Replace && spec.GlobalKeyspace is not null;

    /// <summary>One sequence per moved table whose source definition has an AUTO_INCREMENT column.</summary>
    public async Task<IReadOnlyList<SequenceTable>> PlanAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var sourceShard = (await shards.NamesAsync(spec.SourceRef, ct).ConfigureAwait(false))[0];
        var primary = await engine.Connector.Resolver.PrimaryAsync(spec.SourceRef, sourceShard, ct).ConfigureAwait(false);
        await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
        var columns = await AutoIncrementColumns.ReadAsync(c, primary.DbName, tables, ct).ConfigureAwait(false);
        return [.. tables.Where(columns.ContainsKey).Select(t => new SequenceTable(t, columns[t], spec.GlobalKeyspace!))];
    }

    /// <summary>The primary of the (unsharded) global keyspace's one shard, with a connection to it.</summary>
    public async Task<(TabletEndpoint Primary, MySqlConnection Connection)> OpenGlobalPrimaryAsync(string keyspace, CancellationToken ct)
    {
        var shard = (await shards.NamesAsync(keyspace, ct).ConfigureAwait(false))[0];
        var primary = await engine.Connector.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
        return (primary, await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false));
    }

    /// <summary>Why the existing table <paramref name="db"/>.<c>&lt;t&gt;_seq</c> cannot serve as the sequence (null: it can, or it is absent).</summary>
    public static async Task<string?> NotASequenceAsync(MySqlConnection c, string db, SequenceTable s, CancellationToken ct)
    {
        var q = c.Quoter;
        var comment = await c.QueryScalarAsync(
            $"SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = {q.String(db)} AND TABLE_NAME = {q.String(s.Name)}", ct).ConfigureAwait(false);
        if (comment is null)
        {
            return null;
        }

        var columns = new List<string>();
        await using (var r = await c.QueryAsync(
                         $"SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {q.String(db)} AND TABLE_NAME = {q.String(s.Name)} ORDER BY ORDINAL_POSITION", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                columns.Add(r.GetString(0)!);
            }
        }

        var missing = new[] { "id", "next_id", "cache" }.Where(x => !columns.Contains(x, StringComparer.OrdinalIgnoreCase)).ToList();
        if (comment != SequenceTable.Comment || missing.Count > 0)
        {
            var why = missing.Count > 0 ? $"it lacks column(s) {string.Join(", ", missing)}" : $"its comment is '{comment}', not '{SequenceTable.Comment}'";
            return $"Table '{s.Name}' already exists in global keyspace '{s.GlobalKeyspace}' and is not a sequence table ({why}): the sequence of '{s.Table}' would be created there. Rename or drop it, or make it a sequence table (id, next_id, cache; COMMENT '{SequenceTable.Comment}').";
        }

        return null;
    }
}
