using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;
using Durable.Core.Faults;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The end of a workflow on the cluster: Complete (after the switch: the source side goes) and Cancel (before it: the
/// target side goes), each removing the streams, the write guards, the routing rules and the workflow's records, in the
/// order <see cref="CleanupPath"/> walks (the same its dry run lists). Both run under the command's lease
/// (<see cref="CleanupCommand"/>), checked before each step, so a process that took over a dead host's Complete or
/// Cancel and the host, were it only paused, never act at once.
/// </summary>
public sealed class MoveTablesCleanup(TopologyStore store, ReplicationEngine engine, WorkflowRegistry registry, KeyspaceShards shards)
{
    private static readonly TimeSpan GuardLockWait = TimeSpan.FromSeconds(10);

    public Task<IReadOnlyList<string>> CompleteAsync(CleanupRequest request, SwitchLease lease, CancellationToken ct) =>
        CleanupPath.CompleteAsync(new Live(this, request, lease), request.State, request.Options, ct);

    public Task<IReadOnlyList<string>> CancelAsync(CleanupRequest request, SwitchLease lease, CancellationToken ct) =>
        CleanupPath.CancelAsync(new Live(this, request, lease), request.State, request.Options, ct);

    /// <summary>
    /// The tables of one target shard that Cancel may drop or rename: those the workflow created. Without this
    /// workflow's ownership record, none: create never recorded one (it stopped before creating any table), or an
    /// earlier delivery of Cancel finished and removed it with the workflow's records, or the workflow was created by a
    /// version that did not record it. A table the workflow cannot prove it created is left, never dropped.
    /// </summary>
    internal static IReadOnlyList<string> OwnedTargetTables(TableOwnership? ownership, MoveTablesCreate spec, string shard, IReadOnlyList<string> tables) =>
        ownership is null || ownership.InstanceId != spec.InstanceId ? [] : [.. tables.Where(t => ownership.Owns(shard, t))];

    /// <summary>The steps of one Complete or Cancel on the cluster, each checked against the command's lease first.</summary>
    private sealed class Live(MoveTablesCleanup owner, CleanupRequest request, SwitchLease lease) : ICleaner
    {
        private WorkflowState State => request.State;

        private MoveTablesCreate Spec => request.State.Spec;

        public Task<TableOwnership?> ReadOwnershipAsync(CancellationToken ct) => new TableOwnershipStore(owner.Registry).GetAsync(Spec.TargetKeyspace, Spec.Workflow, ct);

        public async Task DeleteStreamsAsync(string keyspace, string workflow, CancellationToken ct)
        {
            await lease.EnsureHeldAsync($"delete the streams of workflow {workflow}", ct).ConfigureAwait(false);
            foreach (var shard in await owner.Shards.NamesAsync(keyspace, ct).ConfigureAwait(false))
            {
                await owner.Engine.DeleteWorkflowAsync(keyspace, shard, workflow, ct).ConfigureAwait(false);
            }
        }

        public async Task DropTablesAsync(string keyspace, CancellationToken ct)
        {
            await lease.EnsureHeldAsync($"drop the tables of keyspace {keyspace}", ct).ConfigureAwait(false);
            await owner.Shards.ForEachPrimaryAsync(keyspace, (primary, c) => DropOrRenameAsync(c, primary.DbName, State.Tables, request.Options, ct), ct).ConfigureAwait(false);
        }

        public async Task LiftGuardsAsync(string keyspace, GuardSide side, CancellationToken ct)
        {
            await lease.EnsureHeldAsync($"remove the write guards of keyspace {keyspace}", ct).ConfigureAwait(false);
            await owner.Shards.LiftGuardsAsync(keyspace, Spec, side, State.Tables, GuardLockWait, ct).ConfigureAwait(false);
        }

        public async Task RemoveTargetGuardsAndTablesAsync(TableOwnership? ownership, CancellationToken ct)
        {
            await lease.EnsureHeldAsync("remove the target guards and tables", ct).ConfigureAwait(false);
            await owner.Shards.ForEachPrimaryAsync(Spec.TargetKeyspace, async (primary, c) =>
            {
                await WriteGuards.RemoveAsync(c, primary.DbName, Spec.TargetKeyspace, Spec.Workflow, GuardSide.Target, State.Tables, GuardLockWait, ct).ConfigureAwait(false);
                var owned = OwnedTargetTables(ownership, Spec, primary.Shard, State.Tables);
                if (owned.Count > 0)
                {
                    await DropOrRenameAsync(c, primary.DbName, owned, request.Options, ct).ConfigureAwait(false);
                }
            }, ct).ConfigureAwait(false);
        }

        public async Task RemoveRoutingRulesAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("remove the routing rules", ct).ConfigureAwait(false);
            await owner.Store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Remove(r, Spec.SourceKeyspace, Spec.TargetKeyspace, State.Tables), lease.For(Spec.TargetKeyspace), ct).ConfigureAwait(false);
        }

        public async Task RemoveMirrorRulesAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("remove the mirror rules", ct).ConfigureAwait(false);
            await new WorkflowMirrorRules(owner.Store).RemoveAsync(Spec, State.Tables, lease.For(Spec.TargetKeyspace), ct).ConfigureAwait(false);
        }

        public async Task DeleteSwitchJournalAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("remove the switch journal", ct).ConfigureAwait(false);
            await owner.Registry.DeleteJournalAsync(Spec.TargetKeyspace, Spec.Workflow, ct).ConfigureAwait(false);
        }

        public async Task RemoveRecordAsync(string keyspace, string workflow, CancellationToken ct)
        {
            await lease.EnsureHeldAsync($"remove the record of workflow {workflow}", ct).ConfigureAwait(false);
            await owner.Registry.RemoveAsync(keyspace, workflow, ct).ConfigureAwait(false);
        }

        public void Reached(string faultPoint) => FaultPoints.Hit(faultPoint);

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

    // The services, for the steps (a nested class cannot see the primary constructor's parameters).
    private TopologyStore Store => store;

    private ReplicationEngine Engine => engine;

    private WorkflowRegistry Registry => registry;

    private KeyspaceShards Shards => shards;
}
