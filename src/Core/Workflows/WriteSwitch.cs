using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Sql;
using Durable.MySql.Flavors;
using Durable.Replication;
using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>What the real operations need from the host's configuration.</summary>
public sealed record MoveTablesSettings
{
    /// <summary>Accounts the write guards let through: the engine's (copy, streams, reverse streams).</summary>
    public IReadOnlyList<string> ExemptUsers { get; init; } = [];

    /// <summary>Binlog retention must exceed the copy ETA times this.</summary>
    public double RetentionSafetyFactor { get; init; } = 2;

    /// <summary>Assumed copy speed for the retention check before any row is copied.</summary>
    public double AssumedCopyRowsPerSecond { get; init; } = 20_000;

    public CopyBudget CopyBudget { get; init; } = new() { MaxTime = TimeSpan.FromSeconds(20) };

    /// <summary>This host's secrets (DURABLE_SECRETS_FILE), for credential references such as a mount's; then the environment.</summary>
    public IReadOnlyDictionary<string, string>? Secrets { get; init; }
}

/// <summary>
/// The MoveTables side effects on the real cluster: topology in etcd, tablets over the MySQL protocol, streams through
/// the replication engine (the Streamer runs Running streams). Every method is idempotent.
/// </summary>
public sealed class ClusterMoveTablesOperations(
    TopologyStore store, ReplicationEngine engine, ApprovalVerifier approvals, MoveTablesSettings settings, HttpClient http, ILogger logger)
    : IMoveTablesOperations
{
    private readonly WorkflowRegistry _registry = new(store);
    private readonly WriteGuards _guards = new(settings.ExemptUsers.Count > 0 ? settings.ExemptUsers : [engine.Connector.Credentials.User]);

    public WorkflowRegistry Registry => _registry;

    public WriteGuards Guards => _guards;

    // ---------------- pre-flight ----------------

    public async Task<PreflightResult> PreflightAsync(MoveTablesCreate spec, CancellationToken ct)
    {
        var problems = new List<string>();
        try
        {
            spec.Validate();
        }
        catch (WorkflowValidationException e)
        {
            return new PreflightResult([e.Message], []);
        }

        var keyspaces = (await store.GetKeyspacesAsync(ct).ConfigureAwait(false)).Select(k => k.Name).ToList();
        var checks = spec.MountName is null
            ? new[] { ("--source-keyspace", spec.SourceKeyspace), ("--target-keyspace", spec.TargetKeyspace) }
            : new[] { ("--target-keyspace", spec.TargetKeyspace) };
        foreach (var (flag, ks) in checks)
        {
            if (!keyspaces.Contains(ks))
            {
                problems.Add($"Keyspace '{ks}' ({flag}) does not exist; keyspaces: {string.Join(", ", keyspaces)}.");
            }
        }

        if (spec.MountName is not null)
        {
            // The source is read through the mount: an unreachable or wrong mounted topology gets the seeds' answer.
            if (await MountedSourceProblemAsync(spec, ct).ConfigureAwait(false) is { } problem)
            {
                problems.Add(problem);
            }
        }

        if (problems.Count > 0)
        {
            return new PreflightResult(problems, []);
        }

        var sourceShards = await ShardsAsync(spec.SourceRef, ct).ConfigureAwait(false);
        var targetShards = await ShardsAsync(spec.TargetKeyspace, ct).ConfigureAwait(false);
        var primary = await engine.Connector.Resolver.PrimaryAsync(spec.SourceRef, sourceShards[0], ct).ConfigureAwait(false);
        IReadOnlyList<string> tables;
        await using (var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false))
        {
            var existing = await ListTablesAsync(c, primary.DbName, ct).ConfigureAwait(false);
            if (spec.AllTables)
            {
                foreach (var t in spec.ExcludeTables.Where(t => !existing.Contains(t, StringComparer.Ordinal)))
                {
                    problems.Add($"--exclude-tables names '{t}', which is not a table of keyspace {spec.SourceKeyspace}.");
                }

                tables = [.. existing.Where(t => !spec.ExcludeTables.Contains(t, StringComparer.Ordinal) && !t.StartsWith('_'))];
                if (tables.Count == 0)
                {
                    problems.Add($"Keyspace {spec.SourceKeyspace} has no tables to move.");
                }
            }
            else
            {
                tables = spec.Tables;
                foreach (var t in tables.Where(t => !existing.Contains(t, StringComparer.Ordinal)))
                {
                    problems.Add($"Table '{t}' does not exist in source keyspace {spec.SourceKeyspace} (database {primary.DbName}); its tables: {string.Join(", ", existing)}.");
                }
            }

            await CheckPrivilegesAsync(c, primary, problems, ct).ConfigureAwait(false);
            if (spec.SourceTimeZone is { } tz && !tz.StartsWith('+') && !tz.StartsWith('-'))
            {
                if (await c.QueryScalarAsync($"SELECT CONVERT_TZ('2000-01-01 00:00:00', {c.Quoter.String(tz)}, '+00:00')", ct).ConfigureAwait(false) is null)
                {
                    problems.Add($"--source-time-zone '{tz}' is unknown to {primary.Alias}: load the time zone tables (mariadb-tzinfo-to-sql) or give an offset such as +05:30.");
                }
            }

            await CheckRetentionAsync(c, primary, tables.Where(t => existing.Contains(t)).ToList(), problems, ct).ConfigureAwait(false);
        }

        if (problems.Count > 0)
        {
            return new PreflightResult(problems, tables);
        }

        // Workflow name taken, and tables already moving in another workflow (either direction).
        var workflows = await _registry.ListAsync(ct: ct).ConfigureAwait(false);
        var instanceId = spec.InstanceId;
        var same = workflows.FirstOrDefault(w => w.Keyspace == spec.TargetKeyspace && w.Workflow == spec.Workflow);
        if (same is not null && same.InstanceId != instanceId)
        {
            problems.Add($"Workflow name {spec.TargetKeyspace}.{spec.Workflow} is taken.");
        }

        foreach (var other in workflows.Where(w => w.InstanceId != instanceId))
        {
            var overlap = other.Tables.Intersect(tables, StringComparer.Ordinal).ToList();
            if (overlap.Count > 0 && (other.Keyspace is var ks && (ks == spec.SourceKey || ks == spec.TargetKeyspace || other.SourceKeyspace == spec.SourceKey || other.SourceKeyspace == spec.TargetKeyspace)))
            {
                problems.Add($"Table(s) {string.Join(", ", overlap)} already move in workflow {other.Keyspace}.{other.Workflow}; complete or cancel it first.");
            }
        }

        // The engine's own refusals per stream: binlog settings, primary keys, column types, foreign keys, target rows.
        IReadOnlyList<StreamSpec> streamSpecs;
        try
        {
            streamSpecs = await StreamSpecsAsync(spec, spec.Workflow, spec.SourceRef, spec.TargetKeyspace, tables, sourceShards, targetShards, null, ct).ConfigureAwait(false);
        }
        catch (WorkflowValidationException e)
        {
            problems.Add(e.Message);
            return new PreflightResult(problems, tables);
        }

        foreach (var streamSpec in streamSpecs)
        {
            // No reachable tablet of the requested types is not a refusal: the copy waits for one and its status says
            // why (the seeds' "stuck at 0%" case). The checks then run on the primary, which holds the same settings.
            var spec1 = streamSpec;
            if (!await HasSourceTabletAsync(streamSpec, ct).ConfigureAwait(false))
            {
                spec1 = streamSpec with { TabletTypes = "PRIMARY" };
            }

            foreach (var reason in await engine.Preflight.CheckAsync(spec1, ct: ct).ConfigureAwait(false))
            {
                if (!problems.Contains(reason))
                {
                    problems.Add(reason);
                }
            }
        }

        return new PreflightResult(problems, tables);
    }

    private async Task<bool> HasSourceTabletAsync(StreamSpec spec, CancellationToken ct)
    {
        try
        {
            await engine.Connector.Resolver.SourceAsync(spec.SourceKeyspace, spec.SourceShard, spec.TabletTypes, [], ct).ConfigureAwait(false);
            return true;
        }
        catch (NoHealthyTabletException)
        {
            return false;
        }
    }

    /// <summary>
    /// Null when the mounted source keyspace can be read; else the seeds' "node doesn't exist" with their fix, or what
    /// is wrong with the mount's account.
    /// </summary>
    private async Task<string?> MountedSourceProblemAsync(MoveTablesCreate spec, CancellationToken ct)
    {
        MountRecord mount;
        try
        {
            var (m, _, _) = await store.ThroughMountAsync(spec.SourceRef, ct).ConfigureAwait(false);
            mount = m!;
            if (await store.GetKeyspaceAsync(spec.SourceRef, ct).ConfigureAwait(false) is null)
            {
                var where = mount.IsUnmanaged ? $"external source '{mount.Name}' serves keyspace '{mount.Keyspace}'" : $"topo server {mount.TopoServer}, root {mount.TopoRoot}";
                return $"node doesn't exist: keyspace '{spec.SourceKeyspace}' (--source-keyspace) is not in mount '{mount.Name}' ({where}). " +
                       $"Ensure the topology information given to Mount register is correct (durablectl Mount show --name {mount.Name}) and that the source keyspace is named as the source cluster names it.";
            }
        }
        catch (TopologyException e)
        {
            return e.Message;
        }

        if (mount.PasswordRef is { Length: > 0 } reference)
        {
            // The mounted tablets are logged in to with the mount's account (TabletAccounts): say now when this host
            // cannot resolve it, rather than "access denied" later.
            try
            {
                _ = CredentialReference.Resolve(reference, settings.Secrets);
            }
            catch (TopologyException e)
            {
                return $"Mount '{mount.Name}': its credentials cannot be resolved on this host: {e.Message} Add the secret to this host's DURABLE_SECRETS_FILE (or environment).";
            }
        }

        return null;
    }

    private static async Task<List<string>> ListTablesAsync(MySqlConnection c, string db, CancellationToken ct)
    {
        var result = new List<string>();
        await using var r = await c.QueryAsync(
            $"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c.Quoter.String(db)} ORDER BY TABLE_NAME", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(r.GetString(0)!);
        }

        return result;
    }

    private static async Task CheckPrivilegesAsync(MySqlConnection c, TabletEndpoint tablet, List<string> problems, CancellationToken ct)
    {
        var grants = new List<string>();
        await using (var r = await c.QueryAsync("SHOW GRANTS", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                grants.Add(r.GetString(0)!.ToUpperInvariant());
            }
        }

        var all = string.Join("\n", grants);
        if (all.Contains("ALL PRIVILEGES ON *.*", StringComparison.Ordinal))
        {
            return;
        }

        foreach (var needed in new[] { "REPLICATION SLAVE", "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "TRIGGER", "LOCK TABLES" })
        {
            if (!all.Contains(needed, StringComparison.Ordinal) && !all.Contains("ALL PRIVILEGES", StringComparison.Ordinal))
            {
                problems.Add($"The engine account on {tablet.Alias} lacks {needed}; grant it (the filtered role: DML, DDL, TRIGGER, LOCK TABLES, REPLICATION SLAVE/CLIENT).");
            }
        }
    }

    private async Task CheckRetentionAsync(MySqlConnection c, TabletEndpoint tablet, IReadOnlyList<string> tables, List<string> problems, CancellationToken ct)
    {
        if (tables.Count == 0)
        {
            return;
        }

        var rows = await EstimateRowsAsync(c, tablet.DbName, tables, ct).ConfigureAwait(false);
        var etaSeconds = rows.Values.Sum() / settings.AssumedCopyRowsPerSecond;
        var expireSeconds = 0d;
        foreach (var v in new[] { "binlog_expire_logs_seconds", "expire_logs_days" })
        {
            var text = await TryScalarAsync(c, $"SELECT @@global.{v}", ct).ConfigureAwait(false);
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                expireSeconds = v == "expire_logs_days" ? value * 86400 : value;
                break;
            }
        }

        // 0 = binlogs are never purged by age: retention is as long as the copy needs.
        if (expireSeconds > 0 && expireSeconds < etaSeconds * settings.RetentionSafetyFactor)
        {
            problems.Add($"Binlog retention on {tablet.Alias} is {expireSeconds:0}s but copying ~{rows.Values.Sum()} rows may take ~{etaSeconds:0}s; " +
                         $"raise binlog_expire_logs_seconds to at least {etaSeconds * settings.RetentionSafetyFactor:0} so the stream can catch up after the copy.");
        }
    }

    private static async Task<string?> TryScalarAsync(MySqlConnection c, string sql, CancellationToken ct)
    {
        try
        {
            return await c.QueryScalarAsync(sql, ct).ConfigureAwait(false);
        }
        catch (MySqlException e) when (e.IsServerError)
        {
            return null; // variable unknown on this flavor/version
        }
    }

    private static async Task<Dictionary<string, long>> EstimateRowsAsync(MySqlConnection c, string db, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var result = tables.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        await using var r = await c.QueryAsync(
            $"SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c.Quoter.String(db)} " +
            $"AND TABLE_NAME IN ({string.Join(", ", tables.Select(c.Quoter.String))})", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result[r.GetString(0)!] = r.GetInt64(1);
        }

        return result;
    }

    private async Task<IReadOnlyList<string>> ShardsAsync(string keyspace, CancellationToken ct)
    {
        var shards = await store.GetShardsAsync(keyspace, ct).ConfigureAwait(false);
        if (shards.Count == 0)
        {
            throw new WorkflowValidationException($"Keyspace '{keyspace}' has no shards in the topology.");
        }

        return [.. shards.Select(s => s.Value.Name).Order(StringComparer.Ordinal)];
    }

    /// <summary>One stream spec per (source shard, target shard); a sharded target filters rows by its primary vindex.</summary>
    private async Task<IReadOnlyList<StreamSpec>> StreamSpecsAsync(MoveTablesCreate spec, string workflow, string fromKs, string toKs, IReadOnlyList<string> tables,
        IReadOnlyList<string> fromShards, IReadOnlyList<string> toShards, IReadOnlyDictionary<string, string>? positions, CancellationToken ct)
    {
        var toKeyspace = (await store.GetKeyspaceAsync(toKs, ct).ConfigureAwait(false))?.Value
                         ?? throw new WorkflowValidationException($"Keyspace '{toKs}' does not exist.");
        VSchemaDocument? vschema = null;
        if (toKeyspace.Sharded)
        {
            var json = await store.GetVSchemaJsonAsync(toKs, ct).ConfigureAwait(false)
                       ?? throw new WorkflowValidationException($"Keyspace '{toKs}' is sharded but has no VSchema: apply one naming a primary vindex for {string.Join(", ", tables)}.");
            vschema = VSchemaDocument.Parse(json.Value);
        }

        var specs = new List<StreamSpec>();
        foreach (var toShard in toShards)
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(toKs, toShard, ct).ConfigureAwait(false);
            foreach (var fromShard in fromShards)
            {
                var rules = tables.Select(t =>
                {
                    if (vschema is null)
                    {
                        return new TableRule(t);
                    }

                    if (!vschema.Tables.TryGetValue(t, out var vt))
                    {
                        // The seeds' words, and their fix.
                        throw new WorkflowValidationException(
                            $"table {t} not found in vschema for keyspace {toKs}: the target keyspace's VSchema does not match the source's. " +
                            $"Apply the source VSchema to the target (durablectl ApplyVSchema --vschema-file source_vschema.json {toKs}) and run create again.");
                    }

                    if (vt.ColumnVindexes.Count == 0)
                    {
                        throw new WorkflowValidationException($"Table '{t}' has no primary vindex in the VSchema of sharded keyspace {toKs}; add one before moving it there.");
                    }

                    var cv = vt.ColumnVindexes[0];
                    return new TableRule(t, new KeyRangeFilter(vschema.Vindexes[cv.Name].Type, cv.Columns, toShard));
                }).ToList();
                specs.Add(new StreamSpec
                {
                    Workflow = workflow,
                    SourceKeyspace = fromKs,
                    SourceShard = fromShard,
                    TargetKeyspace = toKs,
                    TargetShard = toShard,
                    TargetDb = primary.DbName,
                    Filter = new StreamFilter(rules),
                    Position = positions is not null && positions.TryGetValue(fromShard, out var p) ? GtidPosition.Decode(p) : null,
                    TabletTypes = positions is null ? spec.TabletTypes : "PRIMARY",
                    Cells = string.Join(",", spec.Cells),
                    OnDdl = StreamStates.ParseOnDdl(spec.OnDdl),
                    Options = new StreamOptions
                    {
                        DeferSecondaryKeys = spec.DeferSecondaryKeys && positions is null,
                        StopAfterCopy = spec.StopAfterCopy && positions is null,
                        SourceTimeZone = positions is null ? spec.SourceTimeZone : null,
                    },
                });
            }
        }

        return specs;
    }

    // ---------------- create ----------------

    public async Task<CreateResult> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        await _registry.RegisterAsync(new WorkflowRecord(spec.Workflow, spec.TargetKeyspace, spec.SourceKey, tables, spec.InstanceId, false, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
        var sourceShards = await ShardsAsync(spec.SourceRef, ct).ConfigureAwait(false);
        var targetShards = await ShardsAsync(spec.TargetKeyspace, ct).ConfigureAwait(false);
        var targetKs = (await store.GetKeyspaceAsync(spec.TargetKeyspace, ct).ConfigureAwait(false))!.Value;
        var streams = new List<StreamRef>();
        foreach (var s in await StreamSpecsAsync(spec, spec.Workflow, spec.SourceRef, spec.TargetKeyspace, tables, sourceShards, targetShards, null, ct).ConfigureAwait(false))
        {
            var id = await HasSourceTabletAsync(s, ct).ConfigureAwait(false)
                ? await engine.CreateStreamAsync(s, ct: ct).ConfigureAwait(false)
                : await CreateWaitingStreamAsync(s, ct).ConfigureAwait(false);
            streams.Add(new StreamRef(s.TargetKeyspace, s.TargetShard, id, s.SourceShard));
        }

        foreach (var shard in targetShards)
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(spec.TargetKeyspace, shard, ct).ConfigureAwait(false);
            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            if (targetKs.Sharded && spec.AutoIncrementHandling() == ShardedAutoIncrementHandling.Remove)
            {
                await RemoveAutoIncrementAsync(c, primary.DbName, tables, ct).ConfigureAwait(false);
            }

            // Writes sent to the target before the switch fail, naming the workflow; the engine's account copies.
            await _guards.InstallAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, spec.SourceKey, GuardSide.Target, tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        }

        // A mounted source is another cluster's keyspace: this cluster's routing rules cannot name it (and Migrate has none).
        if (!spec.NoRoutingRules && spec.MountName is null && !spec.IsMigrate)
        {
            await store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Apply(r, spec.SourceKeyspace, spec.TargetKeyspace, tables, new TrafficState()), ct: ct).ConfigureAwait(false);
        }

        var progress = await ProgressAsync(new WorkflowState { Spec = spec, Tables = tables, Streams = streams }, ct).ConfigureAwait(false);
        return new CreateResult(streams, progress.Copy);
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

    // ---------------- copy, progress, streams ----------------

    public async Task<CopyChunkResult> CopyChunkAsync(MoveTablesCreate spec, StreamRef stream, CancellationToken ct)
    {
        try
        {
            var result = await engine.CopyChunkAsync(stream.Keyspace, stream.Shard, stream.Id, $"{spec.InstanceId}/copy", settings.CopyBudget, ct).ConfigureAwait(false);
            return new CopyChunkResult(result.Done, result.Table, result.RowsCopied);
        }
        catch (Exception e) when (WaitingReason(e) is { } reason)
        {
            // Not a failure of the copy: it waits for a source tablet (or the mounted topology) and says why, instead
            // of sitting at 0% silently (the seeds' "No tablet found for streaming").
            return new CopyChunkResult(false, null, 0, reason);
        }
    }

    /// <summary>Why a copy cannot go on right now in a way that waiting can fix: no source tablet to pick, mount unreachable.</summary>
    public static string? WaitingReason(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is NoHealthyTabletException or MountUnreachableException)
            {
                return "No tablet found for streaming: " + x.Message;
            }
        }

        return null;
    }

    public async Task<ProgressResult> ProgressAsync(WorkflowState state, CancellationToken ct)
    {
        var spec = state.Spec;
        var copied = state.Tables.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        var done = state.Tables.ToDictionary(t => t, _ => true, StringComparer.Ordinal);
        long? lag = null;
        string? error = null;
        var now = DateTimeOffset.UtcNow;
        foreach (var s in state.Streams)
        {
            await engine.OnTargetAsync(s.Keyspace, s.Shard, async c =>
            {
                var record = await engine.Store.GetAsync(c, s.Id, ct).ConfigureAwait(false);
                if (record is null)
                {
                    return 0;
                }

                if (record.State == StreamState.Error)
                {
                    error = $"Stream {s.Id} on {s.Keyspace}/{s.Shard}: {record.Message}";
                }

                if (record.State == StreamState.Running)
                {
                    lag = Math.Max(lag ?? 0, record.LagSeconds(now));
                }

                var copyStates = await engine.Store.GetCopyStateAsync(c, s.Id, ct).ConfigureAwait(false);
                foreach (var cs in copyStates.Where(cs => copied.ContainsKey(cs.Table)))
                {
                    copied[cs.Table] += cs.RowsCopied;
                    done[cs.Table] &= cs.Done;
                }

                return 0;
            }, ct).ConfigureAwait(false);
        }

        var totals = state.Tables.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        foreach (var shard in await ShardsAsync(spec.SourceRef, ct).ConfigureAwait(false))
        {
            // The estimate comes from a tablet the workflow may read (Migrate may be limited to replicas).
            TabletEndpoint primary;
            try
            {
                primary = await engine.Connector.Resolver.SourceAsync(spec.SourceRef, shard, spec.TabletTypes, [], ct).ConfigureAwait(false);
            }
            catch (NoHealthyTabletException)
            {
                continue; // no estimate while no tablet is reachable; the copy's status says why
            }

            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            foreach (var (t, n) in await EstimateRowsAsync(c, primary.DbName, state.Tables, ct).ConfigureAwait(false))
            {
                totals[t] += n;
            }
        }

        var copy = state.Tables.Select(t => new TableProgress(t, copied[t], Math.Max(totals[t], copied[t]), done[t] && state.Streams.Count > 0)).ToList();
        return new ProgressResult(copy, lag, error);
    }

    public async Task SetStreamsAsync(StreamsRequest request, CancellationToken ct)
    {
        foreach (var s in request.State.Streams)
        {
            var record = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (record is null || record.State == StreamState.Frozen)
            {
                continue;
            }

            if (request.Start && record.State != StreamState.Running && record.State != StreamState.Copying)
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
            else if (!request.Start && record.State != StreamState.Stopped)
            {
                await engine.StopStreamAsync(s.Keyspace, s.Shard, s.Id, "stopped by Workflow stop", ct).ConfigureAwait(false);
            }
        }
    }

    public Task<ApprovalVerdict> VerifyApprovalAsync(VerifyApprovalRequest request, CancellationToken ct) =>
        approvals.VerifyAsync(request.Approval, request.InstanceId, request.Approvers, ct);

    // ---------------- switch ----------------

    public async Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct)
    {
        var spec = request.State.Spec;
        request.Options.Validate();
        var holder = $"{spec.InstanceId}/{request.IntentId}";
        var locks = new List<KeyspaceLock>();
        try
        {
            // Both keyspaces, always in name order, so two workflows switching in opposite directions cannot deadlock.
            foreach (var ks in new[] { spec.SourceKeyspace, spec.TargetKeyspace }.Order(StringComparer.Ordinal))
            {
                // Waits past the lock's TTL: a switch redelivered after its host died must outlast the dead holder's lease.
                locks.Add(await store.LockKeyspaceAsync(ks, holder, $"{(request.Reverse ? "ReverseTraffic" : "SwitchTraffic")} {spec.TargetKeyspace}.{spec.Workflow}",
                    wait: store.Options.LockTtl * 2, ct: ct).ConfigureAwait(false));
            }

            var targetLock = locks.First(l => l.Keyspace == spec.TargetKeyspace);

            // Under the locks, so a repeated delivery cannot pass the finished-intent check while the original still runs.
            return await SwitchLedger.RunOnceAsync(_registry, request, () => SwitchUnderLocksAsync(request, targetLock, ct), ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var l in Enumerable.Reverse(locks))
            {
                await l.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<SwitchResult> SwitchUnderLocksAsync(SwitchRequest request, KeyspaceLock targetLock, CancellationToken ct)
    {
        var state = request.State;
        var spec = state.Spec;
        var options = request.Options;

        // A journal left by an interrupted attempt: roll it forward (committed) or back, before anything else.
        var journal = await _registry.GetJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (journal is not null)
        {
            var continuing = journal.IntentId == request.IntentId;
            var recovered = await RecoverAsync(state, journal, targetLock, continuing, ct).ConfigureAwait(false);
            if (continuing && journal.Step == SwitchSteps.Committed)
            {
                return recovered; // this very switch had committed before the crash
            }

            state = state with { Traffic = recovered.Traffic, Streams = recovered.Streams, ReverseStreams = recovered.ReverseStreams };
        }
        else if (await TrafficFromRulesAsync(spec, state.Tables, ct).ConfigureAwait(false) is var actual && actual != state.Traffic)
        {
            // The request's state is not the cluster's: a redelivered activity whose switch already finished (its
            // journal is gone), or traffic changed since the command was sent. Re-running it from the stale state
            // would re-apply old routing rules; report what is there instead and change nothing.
            return await StaleRequestAsync(request, actual, ct).ConfigureAwait(false);
        }

        var types = options.Types();
        var readTypes = types.Where(t => t != "PRIMARY" && state.Traffic.IsSwitched(t) == request.Reverse).ToList();
        var writes = types.Contains("PRIMARY") && state.Traffic.Primary == request.Reverse;
        var traffic = state.Traffic;
        if (readTypes.Count > 0)
        {
            foreach (var t in readTypes)
            {
                traffic = traffic.With(t, !request.Reverse);
            }

            await ApplyRulesAsync(spec, state.Tables, traffic, targetLock, ct).ConfigureAwait(false);
            logger.LogInformation("{Workflow}: reads for {Types} switched {Direction}", spec.InstanceId, string.Join(",", readTypes), request.Reverse ? "back" : "forward");
        }

        state = state with { Traffic = traffic };
        if (!writes)
        {
            return new SwitchResult(true, "reads switched", traffic, state.Streams, state.ReverseStreams);
        }

        var result = await SwitchWritesAsync(state, options, request.Reverse, request.IntentId, targetLock, ct).ConfigureAwait(false);
        logger.LogInformation("{Workflow}: write switch {Intent} {Outcome}: {Steps}", spec.InstanceId, request.IntentId, result.Ok ? "done" : "not done", result.Steps);
        return result;
    }

    /// <summary>The workflow's traffic as its routing rules say (no rules of its own: nothing switched).</summary>
    private async Task<TrafficState> TrafficFromRulesAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var rules = (await store.GetRoutingRulesAsync(ct).ConfigureAwait(false)).Value;
        if (tables.Count == 0 || !rules.Rules.Any(r => RoutingRulesPlan.Owns(spec.SourceKeyspace, spec.TargetKeyspace, tables, r)))
        {
            return new TrafficState();
        }

        var target = $"{spec.TargetKeyspace}.{tables[0]}";
        return new TrafficState
        {
            Primary = RoutingRulesPlan.Resolve(rules, tables[0]) == target,
            Replica = RoutingRulesPlan.Resolve(rules, tables[0], "REPLICA") == target,
            Rdonly = RoutingRulesPlan.Resolve(rules, tables[0], "RDONLY") == target,
        };
    }

    /// <summary>
    /// The answer to a stale request: success when the cluster already is where this request would have taken it
    /// (the finished switch's result was lost with a crashed host), else a refusal; either way the actual streams.
    /// </summary>
    private async Task<SwitchResult> StaleRequestAsync(SwitchRequest request, TrafficState actual, CancellationToken ct)
    {
        var spec = request.State.Spec;
        var intended = request.State.Traffic;
        foreach (var t in request.Options.Types())
        {
            intended = intended.With(t, !request.Reverse);
        }

        var forward = await ListWorkflowStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        var reverse = await ListWorkflowStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        logger.LogWarning("{Workflow}: switch request {Intent} expected traffic '{Expected}' but the routing rules say '{Actual}'; nothing changed",
            spec.InstanceId, request.IntentId, request.State.Traffic, actual);
        return actual == intended
            ? new SwitchResult(true, "already switched (a repeated delivery of a finished switch)", actual, forward, reverse)
            : new SwitchResult(false, $"the workflow's traffic is '{actual}', not '{request.State.Traffic}' as the command assumed; nothing was changed, send the command again",
                actual, forward, reverse);
    }

    private async Task ApplyRulesAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, TrafficState traffic, KeyspaceLock? underLock, CancellationToken ct)
    {
        if (!spec.NoRoutingRules || !traffic.NoneSwitched)
        {
            await store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Apply(r, spec.SourceKeyspace, spec.TargetKeyspace, tables, traffic), underLock, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The two sides of a write switch: writes move from <c>From</c> to <c>To</c>; <c>Inbound</c> streams carry From→To.</summary>
    private sealed record Direction(string From, string To, string Inbound, string Outbound, GuardSide FromGuard, GuardSide ToGuard);

    private static Direction DirectionOf(MoveTablesCreate spec, bool reverse) => reverse
        ? new Direction(spec.TargetKeyspace, spec.SourceKeyspace, spec.ReverseWorkflow, spec.Workflow, GuardSide.Target, GuardSide.Source)
        : new Direction(spec.SourceKeyspace, spec.TargetKeyspace, spec.Workflow, spec.ReverseWorkflow, GuardSide.Source, GuardSide.Target);

    /// <summary>
    /// How closely the inbound streams must follow the side writes leave before its guards are armed: the guarded wait
    /// for the final position then covers well under a second of writes (Vitess checks lag before it stops writes).
    /// </summary>
    public static TimeSpan CatchUpGoal { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A lag this large (ten years) means the stream has reported nothing since it was started (its lag counts from 1970).</summary>
    private const long NeverReportedLagSeconds = 10L * 365 * 86400;

    /// <summary>How long the switch tries to get the streams within <see cref="CatchUpGoal"/> before it goes on anyway.</summary>
    private const double CatchUpBudgetSeconds = 15;

    /// <summary>Checks a reverse stream needs: the side writes go to already holds the rows and may reference unmoved tables.</summary>
    private static readonly PreflightOptions ReverseStreamChecks = new() { AllowNonEmptyTargetTables = true, AllowForeignKeysToUnmovedTables = true };

    private async Task<SwitchResult> SwitchWritesAsync(WorkflowState state, SwitchOptions options, bool reverse, string intentId, KeyspaceLock targetLock, CancellationToken ct)
    {
        var spec = state.Spec;
        var d = DirectionOf(spec, reverse);
        var inbound = reverse ? state.ReverseStreams : state.Streams;
        var toTraffic = state.Traffic with { Primary = !reverse };
        var journal = new SwitchJournal(intentId, reverse, state.Traffic, toTraffic, SwitchSteps.Intent,
            new Dictionary<string, string>(), new Dictionary<string, string>(), DateTimeOffset.UtcNow);
        var timings = new SwitchTimings();
        SwitchResult NotSwitched(string message) =>
            new(false, message, state.Traffic, state.Streams, state.ReverseStreams, timings.ToString()) { WindowMs = timings.WindowMs };

        // 1. Lag check, before the record of intent: a refused switch changes nothing at all.
        // A stream that was just (re)started (by the rollback of an interrupted switch, say) has no heartbeat yet and
        // reads as infinitely behind: give it up to --timeout to report before judging the lag. On a loaded host
        // the Streamer can take more than a few seconds to pick a restarted stream up.
        var lag = await MaxLagAsync(inbound, ct).ConfigureAwait(false);
        var lagWait = Stopwatch.StartNew();
        while ((lag is null || lag > options.MaxReplicationLagAllowedSeconds) && lagWait.Elapsed < TimeSpan.FromSeconds(options.TimeoutSeconds))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
            lag = await MaxLagAsync(inbound, ct).ConfigureAwait(false);
        }

        if (lag is null || lag > options.MaxReplicationLagAllowedSeconds)
        {
            return NotSwitched(lag switch
            {
                null => $"the streams of workflow {d.Inbound} are not all running, so the switch cannot wait for them; start the workflow first",
                > NeverReportedLagSeconds => $"the streams of workflow {d.Inbound} have not reported (no heartbeat or applied transaction) since they were started, " +
                                             $"within --timeout {options.TimeoutSeconds}s; check that a Streamer runs them, then switch again",
                _ => $"replication lag of workflow {d.Inbound} is {lag}s, over --max-replication-lag-allowed {options.MaxReplicationLagAllowedSeconds}s",
            });
        }

        timings.Mark("lag checked");

        // Everything that can be read, opened or checked before writes are refused is done now: one connection per
        // primary of both sides for the whole switch (guards, drain, positions, stream rows), and the reverse streams'
        // specs, checked here so a reverse stream that could not be created refuses the switch before anything changes.
        await using var from = await OpenSideAsync(d.From, ct).ConfigureAwait(false);
        await using var to = await OpenSideAsync(d.To, ct).ConfigureAwait(false);
        IReadOnlyList<StreamSpec> outboundSpecs = [];
        if (options.EnableReverseReplication)
        {
            var current = await to.PositionsAsync(ct).ConfigureAwait(false);
            outboundSpecs = await StreamSpecsAsync(spec, d.Outbound, d.To, d.From, state.Tables, to.ShardNames, from.ShardNames, current, ct).ConfigureAwait(false);
            var problems = new List<string>();
            foreach (var s in outboundSpecs)
            {
                problems.AddRange(await engine.Preflight.CheckAsync(s, ReverseStreamChecks, ct).ConfigureAwait(false));
            }

            if (problems.Count > 0)
            {
                return NotSwitched($"the reverse workflow {d.Outbound} could not be created, so nothing was changed: {string.Join(" ", problems.Distinct())}");
            }
        }

        timings.Mark("primaries opened");

        // 2. Catch up before the guards, so the guarded wait is short. Not reaching the goal is not a refusal: the lag
        // is within --max-replication-lag-allowed, and the guarded wait is bounded by --timeout.
        var caughtUp = await CatchUpAsync(inbound, from, to, TimeSpan.FromSeconds(Math.Min(options.TimeoutSeconds, CatchUpBudgetSeconds)), ct).ConfigureAwait(false);
        timings.Mark(caughtUp ? "streams caught up" : $"streams not within {CatchUpGoal.TotalSeconds:0.#} s of the source after {CatchUpBudgetSeconds:0} s, going on");

        await _registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, targetLock, ct).ConfigureAwait(false);
        FaultPoints.Hit("switchtraffic.after-intent");
        var lockWait = TimeSpan.FromSeconds(options.LockWaitSeconds);
        try
        {
            if (options.EnableReverseReplication)
            {
                // Frozen outbound streams of an earlier switch never run again; they make way for the new ones, and the
                // outbound workflow is registered, both before writes are refused.
                await from.ForEachAsync((_, _, c) => engine.Store.DeleteWorkflowAsync(c, d.Outbound, ct)).ConfigureAwait(false);
                await _registry.RegisterAsync(new WorkflowRecord(d.Outbound, d.From, d.To, state.Tables, spec.InstanceId, !reverse, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
            }

            timings.Mark("intent recorded");

            // 3. Writes are refused from here: guards on the side writes leave (all its shards at once), then drain
            // in-flight writes, then the final position of each primary there.
            timings.WindowOpens();
            await from.ForEachAsync((_, tablet, c) => _guards.InstallAsync(c, tablet.DbName, spec.TargetKeyspace, spec.Workflow, spec.SourceKeyspace, d.FromGuard, state.Tables, lockWait, ct)).ConfigureAwait(false);
            timings.Mark("guards armed");
            journal = journal with { Step = SwitchSteps.GuardsArmed };
            await _registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, targetLock, ct).ConfigureAwait(false);
            FaultPoints.Hit("switchtraffic.after-guards");
            var finals = await from.MapAsync(async (_, tablet, c) =>
            {
                await c.ExecuteAsync($"SET SESSION lock_wait_timeout = {Math.Max(1, (int)Math.Ceiling(lockWait.TotalSeconds))}", ct).ConfigureAwait(false);
                // Waits for every transaction that wrote to these tables before the guards to commit or roll back.
                await c.ExecuteAsync("LOCK TABLES " + string.Join(", ", state.Tables.Select(t => SqlQuoter.QualifiedName(tablet.DbName, t) + " READ")), ct).ConfigureAwait(false);
                await c.ExecuteAsync("UNLOCK TABLES", ct).ConfigureAwait(false);
                return (await ServerFlavor.For(c).CurrentPositionAsync(c, ct).ConfigureAwait(false)).Encode();
            }).ConfigureAwait(false);
            journal = journal with { Step = SwitchSteps.Drained, FinalPositions = finals };
            await _registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, targetLock, ct).ConfigureAwait(false);
            timings.Mark("drained");

            // 4. The inbound streams reach the final positions within --timeout, else everything is undone.
            if (await WaitForStreamsAsync(inbound, finals, to, TimeSpan.FromSeconds(options.TimeoutSeconds), ct).ConfigureAwait(false) is { } late)
            {
                await RollbackAsync(state, journal, targetLock, ct).ConfigureAwait(false);
                timings.Mark("rolled back");
                timings.WindowCloses();
                var failed = NotSwitched($"the streams of workflow {d.Inbound} did not reach the final position within --timeout {options.TimeoutSeconds}s ({late}); the write guards were lifted and nothing was switched");
                await _registry.FinishJournalAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(intentId, failed, DateTimeOffset.UtcNow), targetLock, ct).ConfigureAwait(false);
                return failed;
            }

            timings.Mark("streams at final position");
            foreach (var s in inbound)
            {
                var c = to.For(s.Shard);
                if (await engine.Store.GetAsync(c, s.Id, ct).ConfigureAwait(false) is { State: StreamState.Running or StreamState.Copying or StreamState.Init or StreamState.Error })
                {
                    await engine.Store.SetStateAsync(c, s.Id, StreamState.Stopped, $"stopped for the write switch {intentId}", ct).ConfigureAwait(false);
                }
            }

            journal = journal with { Step = SwitchSteps.InboundStopped };
            await _registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, targetLock, ct).ConfigureAwait(false);
            FaultPoints.Hit("switchtraffic.after-stop-inbound");
            timings.Mark("inbound stopped");

            // 5. Outbound (reverse) streams at the positions of the primaries writes go to, read now that nothing else
            // writes there; their specs were built and checked before the guards.
            if (options.EnableReverseReplication)
            {
                var positions = await to.PositionsAsync(ct).ConfigureAwait(false);
                foreach (var s in outboundSpecs)
                {
                    await engine.Store.CreateAsync(from.For(s.TargetShard), s with { Position = GtidPosition.Decode(positions[s.SourceShard]) }, ct).ConfigureAwait(false);
                }

                journal = journal with { Step = SwitchSteps.OutboundCreated, OutboundPositions = positions };
                await _registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, targetLock, ct).ConfigureAwait(false);
                FaultPoints.Hit("switchtraffic.after-reverse-created");
                timings.Mark("reverse streams created");
            }

            // 6. Flip the rules and call the hooks while the side writes go to is still guarded: until the commit no
            // write can land there, so a rollback (failed hook, crash) never leaves rows on that side that the reverse
            // streams it deletes would have had to carry back. Its guards are lifted after the commit (FinishAsync).
            await ApplyRulesAsync(spec, state.Tables, toTraffic, targetLock, ct).ConfigureAwait(false);
            journal = journal with { Step = SwitchSteps.RulesFlipped };
            await _registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, targetLock, ct).ConfigureAwait(false);
            FaultPoints.Hit("switchtraffic.after-rules");
            timings.Mark("rules flipped");
            var hookError = await CallHooksAsync(spec, state.Tables, toTraffic, reverse, ct).ConfigureAwait(false);
            if (spec.CutoverHooks.Count > 0)
            {
                timings.Mark("cutover hooks");
            }

            if (hookError is not null)
            {
                await RollbackAsync(state, journal, targetLock, ct).ConfigureAwait(false);
                timings.Mark("rolled back");
                timings.WindowCloses();
                var failed = NotSwitched($"cutover hook failed, the switch was rolled back: {hookError}");
                await _registry.FinishJournalAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(intentId, failed, DateTimeOffset.UtcNow), targetLock, ct).ConfigureAwait(false);
                return failed;
            }

            journal = journal with { Step = SwitchSteps.Committed };
            await _registry.SaveJournalAsync(spec.TargetKeyspace, spec.Workflow, journal, targetLock, ct).ConfigureAwait(false);
            FaultPoints.Hit("switchtraffic.after-commit");
            timings.Mark("committed");
            return await FinishAsync(state, journal, targetLock, ct, to, timings).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && journal.Step != SwitchSteps.Committed)
        {
            // After the commit the switch only goes forward: the failure propagates and the journal (committed) makes
            // the next attempt finish it.
            logger.LogWarning(e, "{Workflow}: write switch {Intent} failed at step {Step}; rolling back", spec.InstanceId, intentId, journal.Step);
            await RollbackAsync(state, journal, targetLock, CancellationToken.None).ConfigureAwait(false);
            timings.Mark("rolled back");
            timings.WindowCloses();
            var failed = NotSwitched($"write switch failed at step '{journal.Step}' and was rolled back: {e.Message}");
            await _registry.FinishJournalAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(intentId, failed, DateTimeOffset.UtcNow), targetLock, CancellationToken.None).ConfigureAwait(false);
            return failed;
        }
    }

    /// <summary>
    /// After the commit point: open writes where they go, start the outbound streams, freeze the inbound ones, then end
    /// the journal and record the intent as finished (one etcd transaction). Idempotent.
    /// </summary>
    private async Task<SwitchResult> FinishAsync(WorkflowState state, SwitchJournal journal, KeyspaceLock targetLock, CancellationToken ct,
        SidePrimaries? to = null, SwitchTimings? timings = null)
    {
        var spec = state.Spec;
        var d = DirectionOf(spec, journal.Reverse);
        if (to is not null)
        {
            await to.ForEachAsync((_, tablet, c) => WriteGuards.RemoveAsync(c, tablet.DbName, spec.TargetKeyspace, spec.Workflow, d.ToGuard, state.Tables, TimeSpan.FromSeconds(10), ct)).ConfigureAwait(false);
        }
        else
        {
            await LiftGuardsAsync(d.To, spec, d.ToGuard, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        }

        timings?.Mark("guards lifted where writes go");
        timings?.WindowCloses();
        var outbound = await ListWorkflowStreamsAsync(d.From, d.Outbound, ct).ConfigureAwait(false);
        foreach (var s in outbound)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is { State: StreamState.Init or StreamState.Stopped })
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        FaultPoints.Hit("switchtraffic.before-freeze");
        var inbound = await ListWorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false);
        foreach (var s in inbound)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is not null && r.State != StreamState.Frozen)
            {
                if (r.State is not (StreamState.Running or StreamState.Stopped))
                {
                    await engine.StopStreamAsync(s.Keyspace, s.Shard, s.Id, "stopped before freezing", ct).ConfigureAwait(false);
                }

                await engine.FreezeStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        timings?.Mark("outbound started, inbound frozen");
        var forward = journal.Reverse ? outbound : inbound;
        var reverseStreams = journal.Reverse ? inbound : outbound;
        var result = new SwitchResult(true, "writes switched", journal.ToTraffic, forward, reverseStreams, timings?.ToString()) { WindowMs = timings?.WindowMs };
        await _registry.FinishJournalAsync(spec.TargetKeyspace, spec.Workflow, new FinishedSwitch(journal.IntentId, result, DateTimeOffset.UtcNow), targetLock, ct).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Undoes a write switch that had not committed: every step is reverted, whatever step it reached. The caller ends
    /// the journal (and records the intent as finished when it is).
    /// </summary>
    private async Task RollbackAsync(WorkflowState state, SwitchJournal journal, KeyspaceLock targetLock, CancellationToken ct)
    {
        var spec = state.Spec;
        var d = DirectionOf(spec, journal.Reverse);
        var lockWait = TimeSpan.FromSeconds(10);
        await ApplyRulesAsync(spec, state.Tables, journal.FromTraffic, targetLock, ct).ConfigureAwait(false);

        // The side writes were going to must be guarded again before the side they come from opens.
        foreach (var shard in await ShardsAsync(d.To, ct).ConfigureAwait(false))
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(d.To, shard, ct).ConfigureAwait(false);
            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            await _guards.InstallAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, spec.SourceKeyspace, d.ToGuard, state.Tables, lockWait, ct).ConfigureAwait(false);
        }

        foreach (var shard in await ShardsAsync(d.From, ct).ConfigureAwait(false))
        {
            var existing = await engine.ListStreamsAsync(d.From, shard, d.Outbound, ct).ConfigureAwait(false);
            if (existing.Any(s => s.State != StreamState.Frozen))
            {
                await engine.DeleteWorkflowAsync(d.From, shard, d.Outbound, ct).ConfigureAwait(false);
            }
        }

        foreach (var s in await ListWorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false))
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is { State: StreamState.Stopped })
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
        }

        await LiftGuardsAsync(d.From, spec, d.FromGuard, state.Tables, lockWait, ct).ConfigureAwait(false);
        logger.LogInformation("{Workflow}: write switch {Intent} rolled back from step {Step}", spec.InstanceId, journal.IntentId, journal.Step);
    }

    /// <summary>
    /// A journal found on entry: roll forward when committed, else back. Returns the resulting state. The journal's
    /// intent is recorded as finished unless it is the request's own, which goes on (a redelivery after a crash).
    /// </summary>
    private async Task<SwitchResult> RecoverAsync(WorkflowState state, SwitchJournal journal, KeyspaceLock targetLock, bool continuing, CancellationToken ct)
    {
        var recoveredState = state with { Traffic = journal.FromTraffic };
        if (journal.Step == SwitchSteps.Committed)
        {
            return await FinishAsync(recoveredState, journal, targetLock, ct).ConfigureAwait(false);
        }

        await RollbackAsync(recoveredState, journal, targetLock, ct).ConfigureAwait(false);
        var d = DirectionOf(state.Spec, journal.Reverse);
        var inbound = await ListWorkflowStreamsAsync(d.To, d.Inbound, ct).ConfigureAwait(false);
        var outbound = await ListWorkflowStreamsAsync(d.From, d.Outbound, ct).ConfigureAwait(false);
        var result = new SwitchResult(false, $"an interrupted switch (step {journal.Step}) was rolled back", journal.FromTraffic,
            journal.Reverse ? outbound : inbound, journal.Reverse ? inbound : outbound);
        if (continuing)
        {
            await _registry.DeleteJournalAsync(state.Spec.TargetKeyspace, state.Spec.Workflow, ct).ConfigureAwait(false);
        }
        else
        {
            await _registry.FinishJournalAsync(state.Spec.TargetKeyspace, state.Spec.Workflow, new FinishedSwitch(journal.IntentId, result, DateTimeOffset.UtcNow), targetLock, ct).ConfigureAwait(false);
        }

        return result;
    }

    private async Task<IReadOnlyList<StreamRef>> ListWorkflowStreamsAsync(string keyspace, string workflow, CancellationToken ct)
    {
        var result = new List<StreamRef>();
        foreach (var shard in await ShardsAsync(keyspace, ct).ConfigureAwait(false))
        {
            foreach (var s in await engine.ListStreamsAsync(keyspace, shard, workflow, ct).ConfigureAwait(false))
            {
                result.Add(new StreamRef(keyspace, shard, s.Id, s.SourceShard));
            }
        }

        return result;
    }

    private async Task LiftGuardsAsync(string keyspace, MoveTablesCreate spec, GuardSide side, IReadOnlyList<string> tables, TimeSpan lockWait, CancellationToken ct)
    {
        foreach (var shard in await ShardsAsync(keyspace, ct).ConfigureAwait(false))
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            await WriteGuards.RemoveAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, side, tables, lockWait, ct).ConfigureAwait(false);
        }
    }

    private async Task<long?> MaxLagAsync(IReadOnlyList<StreamRef> streams, CancellationToken ct)
    {
        long max = 0;
        var now = DateTimeOffset.UtcNow;
        foreach (var s in streams)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is null || r.State != StreamState.Running)
            {
                return null;
            }

            max = Math.Max(max, r.LagSeconds(now));
        }

        return streams.Count == 0 ? null : max;
    }

    /// <summary>
    /// Before the guards: repeatedly reads the current position of the side writes leave and waits for the inbound
    /// streams to reach it, until one round takes at most <see cref="CatchUpGoal"/> (the streams then follow the
    /// source that closely) or the budget is spent. True when the goal was met.
    /// </summary>
    private async Task<bool> CatchUpAsync(IReadOnlyList<StreamRef> inbound, SidePrimaries from, SidePrimaries to, TimeSpan budget, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        while (total.Elapsed < budget)
        {
            var round = Stopwatch.StartNew();
            var now = await from.PositionsAsync(ct).ConfigureAwait(false);
            if (await WaitForStreamsAsync(inbound, now, to, budget - total.Elapsed, ct).ConfigureAwait(false) is not null)
            {
                return false;
            }

            if (round.Elapsed <= CatchUpGoal)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Polls the inbound streams' positions (on the open connections of the side they write to) until each reaches its
    /// source shard's position. Null when they all did; else where each late stream stands, for the error.
    /// </summary>
    private async Task<string?> WaitForStreamsAsync(IReadOnlyList<StreamRef> streams, IReadOnlyDictionary<string, string> finals, SidePrimaries to, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        var pending = streams.ToList();
        var targets = finals.ToDictionary(f => f.Key, f => GtidPosition.Decode(f.Value), StringComparer.Ordinal);
        while (true)
        {
            var still = new List<StreamRef>();
            var where = new List<string>();
            foreach (var s in pending)
            {
                var r = await engine.Store.GetAsync(to.For(s.Shard), s.Id, ct).ConfigureAwait(false);
                if (r?.Position is null || !r.Position.AtLeast(targets[s.SourceShard]))
                {
                    still.Add(s);
                    where.Add(r is null
                        ? $"stream {s.Id} on {s.Keyspace}/{s.Shard} is gone"
                        : $"stream {s.Id} on {s.Keyspace}/{s.Shard} is {r.State} at {r.Position?.Encode() ?? "no position"}, needs {finals[s.SourceShard]}{(string.IsNullOrEmpty(r.Message) ? "" : $" ({r.Message})")}");
                }
            }

            if (still.Count == 0)
            {
                return null;
            }

            if (deadline.Elapsed >= timeout)
            {
                return string.Join("; ", where);
            }

            pending = still;
            // Short: while writes are refused every poll interval adds to the window (one indexed read per stream).
            await Task.Delay(TimeSpan.FromMilliseconds(10), ct).ConfigureAwait(false);
        }
    }

    private async Task<SidePrimaries> OpenSideAsync(string keyspace, CancellationToken ct)
    {
        var shards = new List<(string, TabletEndpoint, MySqlConnection)>();
        try
        {
            foreach (var shard in await ShardsAsync(keyspace, ct).ConfigureAwait(false))
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

    /// <summary>
    /// One open connection per primary of one side of a switch, for the whole switch: while writes are refused no
    /// step pays for a topology lookup, a connect or the sidecar check. Each connection runs one statement at a
    /// time; work on different shards runs side by side.
    /// </summary>
    private sealed class SidePrimaries(string keyspace, IReadOnlyList<(string Shard, TabletEndpoint Tablet, MySqlConnection Connection)> shards) : IAsyncDisposable
    {
        public IReadOnlyList<string> ShardNames { get; } = [.. shards.Select(s => s.Shard)];

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

    /// <summary>Calls each cutover hook with the new routing; the first failure is returned (null: all succeeded).</summary>
    private async Task<string?> CallHooksAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, TrafficState traffic, bool reverse, CancellationToken ct)
    {
        if (spec.CutoverHooks.Count == 0)
        {
            return null;
        }

        var rules = (await store.GetRoutingRulesAsync(ct).ConfigureAwait(false)).Value;
        var payload = JsonSerializer.Serialize(new
        {
            workflow = spec.Workflow,
            target_keyspace = spec.TargetKeyspace,
            source_keyspace = spec.SourceKeyspace,
            tables,
            direction = reverse ? "ReverseTraffic" : "SwitchTraffic",
            writes_to = reverse ? spec.SourceKeyspace : spec.TargetKeyspace,
            traffic_state = traffic.ToString(),
            routing_rules = JsonDocument.Parse(rules.ToJson()).RootElement,
        });
        foreach (var hook in spec.CutoverHooks)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(hook.TimeoutSeconds));
            try
            {
                if (hook.Url is not null)
                {
                    using var content = new StringContent(payload, System.Text.Encoding.UTF8, "application/json");
                    using var response = await http.PostAsync(hook.Url, content, cts.Token).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode)
                    {
                        return $"webhook {hook.Url} answered {(int)response.StatusCode} {response.ReasonPhrase}";
                    }
                }
                else
                {
                    var psi = new ProcessStartInfo(hook.Command![0]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                    foreach (var a in hook.Command.Skip(1))
                    {
                        psi.ArgumentList.Add(a);
                    }

                    using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {hook.Command[0]}");
                    await p.StandardInput.WriteAsync(payload).ConfigureAwait(false);
                    p.StandardInput.Close();
                    var stderr = p.StandardError.ReadToEndAsync(cts.Token);
                    _ = p.StandardOutput.ReadToEndAsync(cts.Token);
                    try
                    {
                        await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        p.Kill(entireProcessTree: true);
                        return $"command {hook.Command[0]} did not finish within {hook.TimeoutSeconds}s";
                    }

                    if (p.ExitCode != 0)
                    {
                        var err = (await stderr.ConfigureAwait(false)).Trim();
                        return $"command {hook.Command[0]} exited with {p.ExitCode}{(err.Length > 0 ? ": " + (err.Length > 300 ? err[..300] : err) : "")}";
                    }
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.ComponentModel.Win32Exception or InvalidOperationException && !ct.IsCancellationRequested)
            {
                return $"hook {hook.Url ?? hook.Command![0]} failed: {e.Message}";
            }
        }

        return null;
    }

    // ---------------- complete / cancel ----------------

    public async Task CompleteAsync(CleanupRequest request, CancellationToken ct)
    {
        var state = request.State;
        var spec = state.Spec;
        var options = request.Options;
        if (spec.IsMigrate)
        {
            await CompleteMigrateAsync(state, ct).ConfigureAwait(false);
            return;
        }

        await using var l1 = await store.LockKeyspaceAsync(spec.SourceKeyspace, spec.InstanceId, "Complete", ct: ct).ConfigureAwait(false);
        // Forward (frozen) and reverse streams go; the source guards go with the source tables (or stay on kept data).
        await DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        await DeleteStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        foreach (var shard in await ShardsAsync(spec.SourceKeyspace, ct).ConfigureAwait(false))
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(spec.SourceKeyspace, shard, ct).ConfigureAwait(false);
            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            await DropOrRenameAsync(c, primary.DbName, state.Tables, options, ct).ConfigureAwait(false);
            await WriteGuards.RemoveAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, GuardSide.Source, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        }

        await LiftGuardsAsync(spec.TargetKeyspace, spec, GuardSide.Target, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        if (!options.KeepRoutingRules)
        {
            await store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Remove(r, spec.SourceKeyspace, spec.TargetKeyspace, state.Tables), ct: ct).ConfigureAwait(false);
        }

        await _registry.RemoveAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        await _registry.RemoveAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Migrate complete: the streams, the target guards and the workflow record go; the source (another cluster's)
    /// is not touched at all, so its tables and data stay; there are no routing rules or reverse streams to remove.
    /// </summary>
    private async Task CompleteMigrateAsync(WorkflowState state, CancellationToken ct)
    {
        var spec = state.Spec;
        await using var l1 = await store.LockKeyspaceAsync(spec.TargetKeyspace, spec.InstanceId, "Complete", ct: ct).ConfigureAwait(false);
        await DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        await LiftGuardsAsync(spec.TargetKeyspace, spec, GuardSide.Target, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        await _registry.DeleteJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        await _registry.RemoveAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
    }

    public async Task CancelAsync(CleanupRequest request, CancellationToken ct)
    {
        var state = request.State;
        var spec = state.Spec;
        var options = request.Options;
        // A mounted source belongs to another cluster (or no cluster): nothing of this workflow lives there.
        var mounted = spec.MountName is not null;
        await using var l1 = await store.LockKeyspaceAsync(spec.TargetKeyspace, spec.InstanceId, "Cancel", ct: ct).ConfigureAwait(false);
        await DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (!mounted)
        {
            await DeleteStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        }

        foreach (var shard in await ShardsAsync(spec.TargetKeyspace, ct).ConfigureAwait(false))
        {
            var primary = await engine.Connector.Resolver.PrimaryAsync(spec.TargetKeyspace, shard, ct).ConfigureAwait(false);
            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            await WriteGuards.RemoveAsync(c, primary.DbName, spec.TargetKeyspace, spec.Workflow, GuardSide.Target, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            if (state.Tables.Count > 0)
            {
                await DropOrRenameAsync(c, primary.DbName, state.Tables, options, ct).ConfigureAwait(false);
            }
        }

        if (!mounted)
        {
            await LiftGuardsAsync(spec.SourceKeyspace, spec, GuardSide.Source, state.Tables, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            if (!options.KeepRoutingRules)
            {
                await store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Remove(r, spec.SourceKeyspace, spec.TargetKeyspace, state.Tables), ct: ct).ConfigureAwait(false);
            }
        }

        await _registry.DeleteJournalAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
        if (!mounted)
        {
            await _registry.RemoveAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct).ConfigureAwait(false);
        }

        await _registry.RemoveAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
    }

    private async Task DeleteStreamsAsync(string keyspace, string workflow, CancellationToken ct)
    {
        foreach (var shard in await ShardsAsync(keyspace, ct).ConfigureAwait(false))
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
