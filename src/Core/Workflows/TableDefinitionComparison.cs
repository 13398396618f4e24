using Durable.MySql.Sql;

namespace Durable.Workflows;

/// <summary>
/// Compares an existing target table with the table a workflow would create there (the source's definition as the
/// workflow's options change it), part by part, each difference a phrase naming both sides: "column `v`: target has
/// varchar(10) NOT NULL, the workflow would create varchar(64) NOT NULL". An existing target table is used by the
/// workflow only when this finds nothing.
/// </summary>
public static class TableDefinitionComparison
{
    /// <param name="SecondaryKeysMayBeMissing">
    /// --defer-secondary-keys: the copy drops the non-primary keys before loading and re-adds the ones it dropped, so the
    /// target may lack any of them; a key it has must still be the one the workflow would create.
    /// </param>
    /// <param name="AutoIncrementRemoved">
    /// A sharded target with --sharded-auto-increment-handling REMOVE or REPLACE: create strips AUTO_INCREMENT from the target's
    /// columns, so neither side's AUTO_INCREMENT attribute counts.
    /// </param>
    public sealed record Rules(bool SecondaryKeysMayBeMissing, bool AutoIncrementRemoved)
    {
        public static Rules For(MoveTablesCreate spec, bool targetSharded) =>
            new(spec.DeferSecondaryKeys, targetSharded && spec.AutoIncrementHandling() is ShardedAutoIncrementHandling.Remove or ShardedAutoIncrementHandling.Replace);
    }

    /// <summary>Every difference between <paramref name="existing"/> and <paramref name="wouldCreate"/>; empty when the workflow may use the existing table.</summary>
    public static IReadOnlyList<string> Differences(TableDefinition wouldCreate, TableDefinition existing, Rules rules)
    {
        var differences = new List<string>();
        CompareKind(wouldCreate, existing, differences);
        CompareColumns(Columns(wouldCreate, rules), Columns(existing, rules), differences);
        CompareKeys(wouldCreate.Keys, existing.Keys, rules, differences);
        return differences;
    }

    /// <summary>A view, or a table on an engine without transactions, cannot take rows and stream positions in one commit.</summary>
    private static void CompareKind(TableDefinition wouldCreate, TableDefinition existing, List<string> differences)
    {
        if (!string.Equals(existing.Kind, wouldCreate.Kind, StringComparison.OrdinalIgnoreCase))
        {
            differences.Add($"target is a {existing.Kind}, the workflow would create a {wouldCreate.Kind}");
        }
        else if (wouldCreate.Transactional && !existing.Transactional)
        {
            differences.Add("target's engine has no transactions, the workflow would create the table on a transactional engine (rows and the stream position are committed together)");
        }
    }

    private static IReadOnlyList<ColumnDefinition> Columns(TableDefinition table, Rules rules) =>
        rules.AutoIncrementRemoved ? [.. table.Columns.Select(c => c.WithoutAutoIncrement())] : table.Columns;

    private static void CompareColumns(IReadOnlyList<ColumnDefinition> wouldCreate, IReadOnlyList<ColumnDefinition> existing, List<string> differences)
    {
        var existingByName = existing.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
        var wantedByName = wouldCreate.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var wanted in wouldCreate)
        {
            if (!existingByName.TryGetValue(wanted.Name, out var have))
            {
                differences.Add($"column {SqlQuoter.Identifier(wanted.Name)}: target has no such column, the workflow would create {wanted.Describe()}");
            }
            else if (have.Describe() is var haveText && haveText != wanted.Describe())
            {
                differences.Add($"column {SqlQuoter.Identifier(wanted.Name)}: target has {haveText}, the workflow would create {wanted.Describe()}");
            }
        }

        foreach (var extra in existing.Where(c => !wantedByName.ContainsKey(c.Name)))
        {
            differences.Add($"column {SqlQuoter.Identifier(extra.Name)}: target has {extra.Describe()}, the workflow would create no such column");
        }

        // Row events carry values by position: the shared columns must also come in the same order.
        var haveOrder = existing.Where(c => wantedByName.ContainsKey(c.Name)).Select(c => c.Name).ToList();
        var wantedOrder = wouldCreate.Where(c => existingByName.ContainsKey(c.Name)).Select(c => c.Name).ToList();
        if (!haveOrder.SequenceEqual(wantedOrder, StringComparer.OrdinalIgnoreCase))
        {
            differences.Add($"column order: target has ({string.Join(", ", haveOrder.Select(SqlQuoter.Identifier))}), the workflow would create ({string.Join(", ", wantedOrder.Select(SqlQuoter.Identifier))})");
        }
    }

    private static void CompareKeys(IReadOnlyList<KeyDefinition> wouldCreate, IReadOnlyList<KeyDefinition> existing, Rules rules, List<string> differences)
    {
        var existingByName = existing.ToDictionary(k => k.Name, StringComparer.OrdinalIgnoreCase);
        var wantedByName = wouldCreate.ToDictionary(k => k.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var wanted in wouldCreate)
        {
            if (!existingByName.TryGetValue(wanted.Name, out var have))
            {
                if (wanted.IsPrimary || !rules.SecondaryKeysMayBeMissing)
                {
                    differences.Add($"key {KeyName(wanted)}: target has no such key, the workflow would create {wanted.Describe()}");
                }
            }
            else if (!have.SameAs(wanted))
            {
                differences.Add($"key {KeyName(wanted)}: target has {have.Describe()}, the workflow would create {wanted.Describe()}");
            }
        }

        foreach (var extra in existing.Where(k => !wantedByName.ContainsKey(k.Name)))
        {
            differences.Add($"key {KeyName(extra)}: target has {extra.Describe()}, the workflow would create no such key");
        }
    }

    private static string KeyName(KeyDefinition key) => key.IsPrimary ? "PRIMARY" : SqlQuoter.Identifier(key.Name);
}
