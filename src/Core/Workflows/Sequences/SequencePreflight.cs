using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// Pre-flight of --sharded-auto-increment-handling REPLACE, each problem a sentence with its fix and nothing changed:
/// the target must be sharded, the global keyspace must exist and be unsharded, each sequence name must fit, an
/// existing <c>&lt;t&gt;_seq</c> must be a sequence table, and the VSchemas must take the records.
/// </summary>
public sealed class SequencePreflight(WorkflowSequences sequences)
{
    public async Task<IReadOnlyList<string>> ProblemsAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        if (!WorkflowSequences.Requested(spec))
        {
            return [];
        }

        var problems = await KeyspaceProblemsAsync(spec, ct).ConfigureAwait(false);
        if (problems.Count > 0)
        {
            return problems;
        }

        var planned = await sequences.PlanAsync(spec, tables, ct).ConfigureAwait(false);
        foreach (var s in planned.Where(s => s.Name.Length > SequenceTable.MaxNameLength))
        {
            problems.Add($"Table '{s.Table}': its sequence table name '{s.Name}' is longer than {SequenceTable.MaxNameLength} characters; use REMOVE for it and create a sequence by hand.");
        }

        var (primary, c) = await sequences.OpenGlobalPrimaryAsync(spec.GlobalKeyspace!, ct).ConfigureAwait(false);
        await using (c.ConfigureAwait(false))
        {
            foreach (var s in planned)
            {
                if (await WorkflowSequences.NotASequenceAsync(c, primary.DbName, s, ct).ConfigureAwait(false) is { } problem)
                {
                    problems.Add(problem);
                }
            }
        }

        var global = await sequences.Store.GetVSchemaJsonAsync(spec.GlobalKeyspace!, ct).ConfigureAwait(false);
        var target = await sequences.Store.GetVSchemaJsonAsync(spec.TargetKeyspace, ct).ConfigureAwait(false);
        problems.AddRange(SequenceVSchemas.Problems(
            global is null ? null : VSchemaDocument.Parse(global.Value), target is null ? null : VSchemaDocument.Parse(target.Value), spec.TargetKeyspace, planned));
        return problems;
    }

    /// <summary>REPLACE is for a sharded target with an existing unsharded global keyspace.</summary>
    private async Task<List<string>> KeyspaceProblemsAsync(MoveTablesCreate spec, CancellationToken ct)
    {
        var problems = new List<string>();
        var keyspaces = await sequences.Store.GetKeyspacesAsync(ct).ConfigureAwait(false);
        var target = keyspaces.FirstOrDefault(k => k.Name == spec.TargetKeyspace);
        if (target is { Sharded: false })
        {
            problems.Add($"--sharded-auto-increment-handling REPLACE is for a sharded target, and target keyspace '{spec.TargetKeyspace}' is unsharded: there MySQL's AUTO_INCREMENT keeps working " +
                         "(Vitess ignores the option for an unsharded target). Leave out --sharded-auto-increment-handling and --global-keyspace.");
        }

        var global = keyspaces.FirstOrDefault(k => k.Name == spec.GlobalKeyspace);
        var unsharded = string.Join(", ", keyspaces.Where(k => !k.Sharded).Select(k => k.Name));
        if (global is null)
        {
            problems.Add($"Keyspace '{spec.GlobalKeyspace}' (--global-keyspace) does not exist; name an existing unsharded keyspace for the sequence tables: {(unsharded.Length == 0 ? "none exists" : unsharded)}.");
        }
        else if (global.Sharded)
        {
            problems.Add($"Keyspace '{spec.GlobalKeyspace}' (--global-keyspace) is sharded: a sequence is one row on one primary, so it lives in an unsharded keyspace: {(unsharded.Length == 0 ? "none exists" : unsharded)}.");
        }

        return problems;
    }
}
