using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;
using Durable.Core.Faults;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The end of a workflow: Complete (after the switch: the source side goes) and Cancel (before it: the target side
/// goes), each removing the streams, the write guards, the routing rules and the workflow's records. Both run under the
/// command's lease (<see cref="CleanupCommand"/>), checked before each step, so a process that took over a dead host's
/// Complete or Cancel and the host, were it only paused, never act at once. Cancel drops (or renames) only the target
/// tables the workflow created (<see cref="TableOwnership"/>); the ones it adopted stay.
/// </summary>
public sealed class MoveTablesCleanup(TopologyStore store, ReplicationEngine engine, WorkflowRegistry registry, KeyspaceShards shards)
{
    private readonly TableOwnershipStore _ownership = new(registry);

    public async Task CompleteAsync(CleanupRequest request, SwitchLease lease, CancellationToken ct)
    {
        var state = request.State;
        var spec = state.Spec;
        var options = request.Options;
        if (spec.IsMigrate)
        {
            await CompleteMigrateAsync(state, lease, ct).ConfigureAwait(false);
            return;
        }

        // Forward (frozen) and reverse streams go; the source guards go with the source tables (or stay on kept data).
        await lease.EnsureHeldAsync("delete the workflow's streams", ct).ConfigureAwait(false);
        await DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        await DeleteStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.CompleteAfterStreams);
        await lease.EnsureHeldAsync("drop the source tables", ct).ConfigureAwait(false);
        await shards.ForEachPrimaryAsync(spec.SourceKeyspace, (primary, c) => DropOrRenameAsync(c, primary.DbName, state.Tables, options, ct), ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.CompleteAfterTables);
        await lease.EnsureHeldAsync("remove the write guards", ct).ConfigureAwait(false);
        await shards.LiftGuardsAsync(spec.SourceKeyspace, spec, GuardSide.Source, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        await shards.LiftGuardsAsync(spec.TargetKeyspace, spec, GuardSide.Target, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        FaultPoints.Hit(SwitchFaultPoints.CompleteAfterGuards);
        if (!options.KeepRoutingRules)
        {
            await lease.EnsureHeldAsync("remove the routing rules", ct).ConfigureAwait(false);
            await store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Remove(r, spec.SourceKeyspace, spec.TargetKeyspace, state.Tables), lease.For(spec.TargetKeyspace), ct).ConfigureAwait(false);
        }

        FaultPoints.Hit(SwitchFaultPoints.CompleteAfterRules);
        await lease.EnsureHeldAsync("remove the workflow's records", ct).ConfigureAwait(false);
        await registry.RemoveAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        await registry.RemoveAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Migrate complete: the streams, the target guards and the workflow record go; the source (another cluster's)
    /// is not touched at all, so its tables and data stay; there are no routing rules or reverse streams to remove.
    /// </summary>
    private async Task CompleteMigrateAsync(WorkflowState state, SwitchLease lease, CancellationToken ct)
    {
        var spec = state.Spec;
        await lease.EnsureHeldAsync("delete the workflow's streams", ct).ConfigureAwait(false);
        await DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        await shards.LiftGuardsAsync(spec.TargetKeyspace, spec, GuardSide.Target, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        await registry.DeleteJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        await registry.RemoveAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
    }

    public async Task CancelAsync(CleanupRequest request, SwitchLease lease, CancellationToken ct)
    {
        var state = request.State;
        var spec = state.Spec;
        var options = request.Options;
        // A mounted source belongs to another cluster (or no cluster): nothing of this workflow lives there.
        var mounted = spec.MountName is not null;
        // Read before anything is removed: the record goes with the workflow's records at the end.
        var ownership = await _ownership.GetAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        await lease.EnsureHeldAsync("delete the workflow's streams", ct).ConfigureAwait(false);
        await DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (!mounted)
        {
            await DeleteStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        }

        await lease.EnsureHeldAsync("remove the target guards and tables", ct).ConfigureAwait(false);
        await shards.ForEachPrimaryAsync(spec.TargetKeyspace, async (primary, c) =>
        {
            await WriteGuards.RemoveAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, GuardSide.Target, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            var owned = OwnedTargetTables(ownership, spec, primary.Shard, state.Tables);
            if (owned.Count > 0)
            {
                await DropOrRenameAsync(c, primary.DbName, owned, options, ct).ConfigureAwait(false);
            }
        }, ct).ConfigureAwait(false);

        if (!mounted)
        {
            await lease.EnsureHeldAsync("remove the source guards and the routing rules", ct).ConfigureAwait(false);
            await shards.LiftGuardsAsync(spec.SourceKeyspace, spec, GuardSide.Source, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            if (!options.KeepRoutingRules)
            {
                await store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Remove(r, spec.SourceKeyspace, spec.TargetKeyspace, state.Tables), lease.For(spec.TargetKeyspace), ct).ConfigureAwait(false);
            }
        }

        await lease.EnsureHeldAsync("remove the workflow's records", ct).ConfigureAwait(false);
        await registry.DeleteJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (!mounted)
        {
            await registry.RemoveAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        }

        await registry.RemoveAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The tables of one target shard that Cancel may drop or rename: those the workflow created. Without this
    /// workflow's ownership record, none: create never recorded one (it stopped before creating any table), or an
    /// earlier delivery of Cancel finished and removed it with the workflow's records, or the workflow was created by a
    /// version that did not record it. A table the workflow cannot prove it created is left, never dropped.
    /// </summary>
    private static IReadOnlyList<string> OwnedTargetTables(TableOwnership? ownership, MoveTablesCreate spec, string shard, IReadOnlyList<string> tables) =>
        ownership is null || ownership.InstanceId != spec.InstanceId ? [] : [.. tables.Where(t => ownership.Owns(shard, t))];

    private async Task DeleteStreamsAsync(string keyspace, string workflow, CancellationToken ct)
    {
        foreach (var shard in await shards.NamesAsync(keyspace, ct).ConfigureAwait(false))
        {
            await engine.DeleteWorkflowAsync(keyspace, shard, workflow, ct).ConfigureAwait(false);
        }
    }

    private static async Task DropOrRenameAsync(MySqlConnection c, string db, IReadOnlyList<string> tables, CleanupOptions options, CancellationToken ct)
    {
        if (options.KeepData)
        {
            return;
        }

        foreach (var t in tables)
        {
            var exists = await c.QueryScalarAsync(
                $"SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c.Quoter.String(db)} AND TABLE_NAME = {c.Quoter.String(t)}", ct).ConfigureAwait(false) is not null;
            if (!exists)
            {
                continue; // dropped (or renamed) by an earlier delivery of this activity
            }

            await c.ExecuteAsync(options.RenameTables
                ? $"RENAME TABLE {SqlQuoter.QualifiedName(db, t)} TO {SqlQuoter.QualifiedName(db, $"_{t}_old")}"
                : $"DROP TABLE {SqlQuoter.QualifiedName(db, t)}", ct).ConfigureAwait(false);
        }
    }
}
