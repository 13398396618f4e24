using Durable.MySql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>The workflow's tables found on the target shards before create, and why any of them cannot be used.</summary>
/// <param name="Existing">Each (shard, table) that exists on the target already.</param>
/// <param name="Problems">One full sentence per existing table that differs from what the workflow would create.</param>
public sealed record TargetTableInspection(IReadOnlyList<ShardTable> Existing, IReadOnlyList<string> Problems);

/// <summary>
/// The target tables a workflow finds already there: each is compared with the table the workflow would create (the
/// source's definition, read on the primary of the source's first shard, as <see cref="TableDefinitionComparison.Rules"/>
/// adjust it). Pre-flight refuses any difference; create adopts the equal ones (emptiness is the engine's own
/// pre-flight check) and records them as not owned, so Cancel leaves them.
/// </summary>
public sealed class ExistingTargetTables(TopologyStore store, ReplicationEngine engine, KeyspaceShards shards)
{
    public async Task<TargetTableInspection> InspectAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var existing = new List<ShardTable>();
        var problems = new List<string>();
        var rules = TableDefinitionComparison.Rules.For(spec, await TargetShardedAsync(spec, ct).ConfigureAwait(false));
        var wouldCreate = new Dictionary<string, TableDefinition?>(StringComparer.Ordinal);
        await shards.ForEachPrimaryAsync(spec.TargetKeyspace, async (primary, c) =>
        {
            var present = (await TableCatalog.ListTablesAsync(c, primary.DbName, ct).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            foreach (var table in tables.Where(present.Contains))
            {
                existing.Add(new ShardTable(primary.Shard, table));
                if (!wouldCreate.TryGetValue(table, out var wanted))
                {
                    wanted = wouldCreate[table] = await SourceDefinitionAsync(spec, table, ct).ConfigureAwait(false);
                }

                if (wanted is not null && await DifferenceAsync(c, primary, wanted, table, rules, ct).ConfigureAwait(false) is { } problem)
                {
                    problems.Add(problem);
                }
            }
        }, ct).ConfigureAwait(false);
        return new TargetTableInspection(existing, problems);
    }

    private async Task<bool> TargetShardedAsync(MoveTablesCreate spec, CancellationToken ct) =>
        (await store.GetKeyspaceAsync(spec.TargetKeyspace, ct).ConfigureAwait(false))?.Value.Sharded
        ?? throw new WorkflowValidationException($"Keyspace '{spec.TargetKeyspace}' (--target-keyspace) does not exist.");

    /// <summary>The source table's definition: the workflow creates target tables from the source's SHOW CREATE TABLE. Null when the source lacks it (pre-flight says so elsewhere).</summary>
    private async Task<TableDefinition?> SourceDefinitionAsync(MoveTablesCreate spec, string table, CancellationToken ct)
    {
        var shard = (await shards.NamesAsync(spec.SourceRef, ct).ConfigureAwait(false))[0];
        var primary = await engine.Connector.Resolver.PrimaryAsync(spec.SourceRef, shard, ct).ConfigureAwait(false);
        await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
        return await TableDefinition.TryLoadAsync(c, primary.DbName, table, ct).ConfigureAwait(false);
    }

    private static async Task<string?> DifferenceAsync(MySqlConnection c, TabletEndpoint primary, TableDefinition wanted, string table, TableDefinitionComparison.Rules rules, CancellationToken ct)
    {
        var have = await TableDefinition.TryLoadAsync(c, primary.DbName, table, ct).ConfigureAwait(false);
        if (have is null)
        {
            return null; // dropped since it was listed: the workflow will create it
        }

        var differences = TableDefinitionComparison.Differences(wanted, have, rules);
        if (differences.Count == 0)
        {
            return null;
        }

        var allowances = (rules.SecondaryKeysMayBeMissing ? "; with --defer-secondary-keys its secondary keys may be missing" : "") +
                         (rules.AutoIncrementRemoved ? "; AUTO_INCREMENT does not count, the sharded target's REMOVE handling strips it" : "");
        return $"Target table {primary.DbName}.{table} on {primary.Alias} already exists and differs from the table the workflow would create from source table {wanted.Db}.{table}: " +
               $"{string.Join("; ", differences)}. The workflow uses an existing target table only when it is empty and defined as it would create it " +
               $"(columns, types, charset and collation, nullability, defaults, keys; not table options or the AUTO_INCREMENT counter{allowances}); " +
               "drop the target table or alter it to match, then create the workflow again.";
    }
}
