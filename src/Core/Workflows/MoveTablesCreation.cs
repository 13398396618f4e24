using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// Create: registers the workflow, records which target tables it adopts (the ones already there), creates its streams
/// (and with them the other target tables), removes auto-increment on a sharded target when asked (REMOVE, REPLACE),
/// creates and records the sequences that replace it (REPLACE), guards the target tables and installs the routing rules.
/// </summary>
public sealed class MoveTablesCreation(
    TopologyStore store, ReplicationEngine engine, WorkflowRegistry registry, WriteGuards guards, KeyspaceShards shards, StreamPlanner planner, MoveTablesCopy copy)
{
    private readonly ExistingTargetTables _existingTargets = new(store, engine, shards);
    private readonly TableOwnershipStore _ownership = new(registry);
    private readonly SequenceCreation _sequences = new(new WorkflowSequences(store, engine, shards));

    public async Task<CreateResult> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        await registry.RegisterAsync(new WorkflowRecord(spec.Workflow, spec.TargetKeyspace, spec.SourceKey, tables, spec.InstanceId, false, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
        await RecordOwnershipAsync(spec, tables, ct).ConfigureAwait(false);
        var sourceShards = await shards.NamesAsync(spec.SourceRef, ct).ConfigureAwait(false);
        var targetShards = await shards.NamesAsync(spec.TargetKeyspace, ct).ConfigureAwait(false);
        var targetKs = (await store.GetKeyspaceAsync(spec.TargetKeyspace, ct).ConfigureAwait(false))!.Value;
        var streams = new List<StreamRef>();
        foreach (var s in await planner.SpecsAsync(spec, spec.Workflow, spec.SourceRef, spec.TargetKeyspace, tables, sourceShards, targetShards, null, ct).ConfigureAwait(false))
        {
            var id = await planner.HasSourceTabletAsync(s, ct).ConfigureAwait(false)
                ? await engine.CreateStreamAsync(s, ct: ct).ConfigureAwait(false)
                : await CreateWaitingStreamAsync(s, ct).ConfigureAwait(false);
            streams.Add(new StreamRef(s.TargetKeyspace, s.TargetShard, id, s.SourceShard));
        }

        foreach (var shard in targetShards)
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(spec.TargetKeyspace, shard, ct).ConfigureAwait(false);
            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            if (targetKs.Sharded && spec.AutoIncrementHandling() is ShardedAutoIncrementHandling.Remove or ShardedAutoIncrementHandling.Replace)
            {
                await RemoveAutoIncrementAsync(c, primary.DbName, tables, ct).ConfigureAwait(false);
            }

            // Writes sent to the target before the switch fail, naming the workflow; the engine's account copies.
            await guards.InstallAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, spec.SourceKey, GuardSide.Target, tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        }

        // REPLACE: the sequences in the global keyspace and the VSchema records (pre-flight refused an unsharded target).
        await _sequences.CreateAsync(spec, tables, ct).ConfigureAwait(false);

        // A mounted source is another cluster's keyspace: this cluster's routing rules cannot name it (and Migrate has none).
        if (!spec.NoRoutingRules && spec.MountName is null && !spec.IsMigrate)
        {
            await store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Apply(r, spec.SourceKeyspace, spec.TargetKeyspace, tables, new TrafficState()), ct: ct).ConfigureAwait(false);
        }

        var progress = await copy.ProgressAsync(new WorkflowState { Spec = spec, Tables = tables, Streams = streams }, ct).ConfigureAwait(false);
        return new CreateResult(streams, progress.Copy);
    }

    /// <summary>
    /// Before any target table is created: the ones already there are adopted, and recorded as not owned so Cancel leaves
    /// them. They are compared again (as pre-flight did) because one may have appeared since; a difference refuses create
    /// with nothing created. A later delivery finds the record and keeps it: by then the tables it sees may be its own.
    /// </summary>
    private async Task<TableOwnership> RecordOwnershipAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        if (await _ownership.GetAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false) is { } recorded && recorded.InstanceId == spec.InstanceId)
        {
            return recorded;
        }

        var inspection = await _existingTargets.InspectAsync(spec, tables, ct).ConfigureAwait(false);
        if (inspection.Problems.Count > 0)
        {
            throw new WorkflowValidationException("Create refused, no target table was created: " + string.Join(" ", inspection.Problems));
        }

        return await _ownership.RecordOnceAsync(spec.TargetKeyspace, spec.Workflow, new TableOwnership(spec.InstanceId, inspection.Existing, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// No tablet of the requested types is reachable yet: the stream is created all the same (its copy then waits for
    /// one and says why), with the checks and the target tables taken from the source primary, which has the same
    /// schema and binlog settings. The same three steps as <see cref="ReplicationEngine.CreateStreamAsync"/>.
    /// </summary>
    private async Task<long> CreateWaitingStreamAsync(StreamSpec s, CancellationToken ct)
    {
        var existing = (await engine.ListStreamsAsync(s.TargetKeyspace, s.TargetShard, s.Workflow, ct).ConfigureAwait(false))
            .FirstOrDefault(x => x.SourceKeyspace == s.SourceKeyspace && x.SourceShard == s.SourceShard);
        if (existing is not null)
        {
            return existing.Id;
        }

        var onPrimary = s with { TabletTypes = "PRIMARY" };
        await engine.Preflight.EnsureAsync(onPrimary, ct: ct).ConfigureAwait(false);
        await engine.Preflight.CreateTargetTablesAsync(onPrimary, ct).ConfigureAwait(false);
        return await engine.OnTargetAsync(s.TargetKeyspace, s.TargetShard, c => engine.Store.CreateAsync(c, s, ct), ct).ConfigureAwait(false);
    }

    private static async Task RemoveAutoIncrementAsync(MySqlConnection c, string db, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var q = c.Quoter;
        var changes = new List<(string Table, string Column, string Type, bool Nullable)>();
        await using (var r = await c.QueryAsync(
                         $"SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {q.String(db)} " +
                         $"AND EXTRA LIKE '%auto_increment%' AND TABLE_NAME IN ({string.Join(", ", tables.Select(q.String))})", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                changes.Add((r.GetString(0)!, r.GetString(1)!, r.GetString(2)!, r.GetString(3) == "YES"));
            }
        }

        foreach (var (table, column, type, nullable) in changes)
        {
            // COLUMN_TYPE comes from the server's own catalog (e.g. "bigint(20) unsigned"), not from user input.
            await c.ExecuteAsync($"ALTER TABLE {SqlQuoter.QualifiedName(db, table)} MODIFY {SqlQuoter.Identifier(column)} {type} {(nullable ? "NULL" : "NOT NULL")}", ct).ConfigureAwait(false);
        }
    }
}
