using System.Globalization;
using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// SwitchTraffic --initialize-target-sequences: while writes are stopped and the target holds every row, each
/// sequence the target VSchema names for a moved table gets <c>next_id = max(next_id, 1 + max(column) over every
/// target shard)</c>, so the first value a gateway hands out is above every existing id. Raising a counter is
/// idempotent and harmless to undo (a rolled-back switch only leaves a gap), so a retry or a recovery simply runs it again.
/// </summary>
public sealed class TargetSequenceInitialization(WorkflowSequences sequences, ReplicationEngine engine, KeyspaceShards shards)
{
    /// <summary>Initializes with connections of its own to the target's primaries (outside a switch, e.g. tests and repairs).</summary>
    public async Task<IReadOnlyList<string>> InitializeAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        await using var target = await SidePrimaries.OpenAsync(engine, shards, spec.TargetKeyspace, ct).ConfigureAwait(false);
        return await InitializeAsync(spec, tables, target, ct).ConfigureAwait(false);
    }

    /// <summary>Initializes on the switch's own connections to the target's primaries; returns one line per sequence set.</summary>
    internal async Task<IReadOnlyList<string>> InitializeAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, SidePrimaries target, CancellationToken ct)
    {
        var named = await NamedSequencesAsync(spec, tables, ct).ConfigureAwait(false);
        var lines = new List<string>();
        foreach (var group in named.GroupBy(n => n.Keyspace, StringComparer.Ordinal))
        {
            var (primary, c) = await sequences.OpenGlobalPrimaryAsync(group.Key, ct).ConfigureAwait(false);
            await using (c.ConfigureAwait(false))
            {
                foreach (var n in group)
                {
                    var next = await NextAboveAsync(target, n.Table, n.Column, ct).ConfigureAwait(false);
                    lines.Add(await RaiseAsync(c, primary.DbName, n, next, ct).ConfigureAwait(false));
                }
            }
        }

        return lines;
    }

    private sealed record NamedSequence(string Table, string Column, string Keyspace, string Sequence);

    /// <summary>The moved tables whose target VSchema entry has an auto_increment, with the sequence it names (qualified).</summary>
    private async Task<IReadOnlyList<NamedSequence>> NamedSequencesAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var json = await sequences.Store.GetVSchemaJsonAsync(spec.TargetKeyspace, ct).ConfigureAwait(false);
        if (json is null)
        {
            return [];
        }

        var vschema = VSchemaDocument.Parse(json.Value);
        var named = new List<NamedSequence>();
        foreach (var t in tables)
        {
            if (!vschema.Tables.TryGetValue(t, out var table) || table.AutoIncrement is not { } ai)
            {
                continue;
            }

            var dot = ai.Sequence.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || dot == ai.Sequence.Length - 1)
            {
                throw new WorkflowValidationException(
                    $"--initialize-target-sequences: table '{t}' of keyspace '{spec.TargetKeyspace}' names sequence '{ai.Sequence}' without its keyspace; write it as <keyspace>.<table> in the VSchema (REPLACE does).");
            }

            named.Add(new NamedSequence(t, ai.Column, ai.Sequence[..dot], ai.Sequence[(dot + 1)..]));
        }

        return named;
    }

    /// <summary>1 + the largest value of the column on any target shard (1 when every shard is empty).</summary>
    private static async Task<long> NextAboveAsync(SidePrimaries target, string table, string column, CancellationToken ct)
    {
        var maxima = await target.MapAsync((_, tablet, c) =>
            c.QueryScalarAsync($"SELECT MAX({SqlQuoter.Identifier(column)}) FROM {SqlQuoter.QualifiedName(tablet.DbName, table)}", ct)).ConfigureAwait(false);
        var max = maxima.Values.Select(v => v is null ? 0m : decimal.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).DefaultIfEmpty(0m).Max();
        if (max >= long.MaxValue)
        {
            throw new WorkflowValidationException($"--initialize-target-sequences: the largest {table}.{column} on the target is {max}; a sequence (BIGINT next_id) cannot go above it.");
        }

        return (long)Math.Max(0m, Math.Floor(max)) + 1;
    }

    /// <summary>The row raised to <paramref name="next"/> unless it is already higher (inserted when absent); the line says what it holds now.</summary>
    private static async Task<string> RaiseAsync(MySqlConnection c, string db, NamedSequence n, long next, CancellationToken ct)
    {
        var name = SqlQuoter.QualifiedName(db, n.Sequence);
        var exists = await c.QueryScalarAsync(
            $"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c.Quoter.String(db)} AND TABLE_NAME = {c.Quoter.String(n.Sequence)}", ct).ConfigureAwait(false);
        if (exists == "0")
        {
            throw new WorkflowValidationException(
                $"--initialize-target-sequences: sequence table '{n.Keyspace}.{n.Sequence}' (named by table '{n.Table}') does not exist; create it (MoveTables create with --sharded-auto-increment-handling REPLACE does) or leave out the flag.");
        }

        var value = next.ToString(CultureInfo.InvariantCulture);
        await c.ExecuteAsync(
            $"INSERT INTO {name} (id, next_id, cache) VALUES (0, {value}, {SequenceTable.DefaultCache}) " +
            $"ON DUPLICATE KEY UPDATE next_id = GREATEST(COALESCE(next_id, 0), {value})", ct).ConfigureAwait(false);
        var now = await c.QueryScalarAsync($"SELECT next_id FROM {name} WHERE id = 0", ct).ConfigureAwait(false);
        return $"{n.Keyspace}.{n.Sequence} next_id {now} (above every {n.Table}.{n.Column} on the target)";
    }
}
