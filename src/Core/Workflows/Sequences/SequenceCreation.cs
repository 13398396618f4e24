namespace Durable.Workflows;

/// <summary>
/// Create's part of REPLACE: the sequence tables (created when absent, their row inserted when absent) in the global
/// keyspace, that keyspace's VSchema listing them as sequences, and the target VSchema's tables naming them in
/// <c>auto_increment</c>. Every step is idempotent: a re-run after a crash changes nothing more.
/// </summary>
public sealed class SequenceCreation(WorkflowSequences sequences)
{
    /// <summary>Creates and records the sequences of <paramref name="tables"/>; returns them (none unless REPLACE).</summary>
    public async Task<IReadOnlyList<SequenceTable>> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        if (!WorkflowSequences.Requested(spec))
        {
            return [];
        }

        var planned = await sequences.PlanAsync(spec, tables, ct).ConfigureAwait(false);
        if (planned.Count == 0)
        {
            return planned;
        }

        await CreateTablesAsync(spec.GlobalKeyspace!, planned, ct).ConfigureAwait(false);
        await sequences.Store.UpdateVSchemaAsync(spec.GlobalKeyspace!, json => SequenceVSchemas.WithSequenceTables(json, planned), ct: ct).ConfigureAwait(false);
        await sequences.Store.UpdateVSchemaAsync(spec.TargetKeyspace, json => SequenceVSchemas.WithAutoIncrements(json, planned), ct: ct).ConfigureAwait(false);
        return planned;
    }

    private async Task CreateTablesAsync(string keyspace, IReadOnlyList<SequenceTable> planned, CancellationToken ct)
    {
        var (primary, c) = await sequences.OpenGlobalPrimaryAsync(keyspace, ct).ConfigureAwait(false);
        await using (c.ConfigureAwait(false))
        {
            foreach (var s in planned)
            {
                // Checked again here: a table may have appeared since pre-flight; it is refused, never altered.
                if (await WorkflowSequences.NotASequenceAsync(c, primary.DbName, s, ct).ConfigureAwait(false) is { } problem)
                {
                    throw new WorkflowValidationException(problem);
                }

                await c.ExecuteAsync(s.CreateSql(primary.DbName), ct).ConfigureAwait(false);
                await c.ExecuteAsync(s.SeedSql(primary.DbName), ct).ConfigureAwait(false);
            }
        }
    }
}
