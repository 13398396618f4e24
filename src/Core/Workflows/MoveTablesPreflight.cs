using System.Globalization;
using Durable.MySql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// Pre-flight of a MoveTables (or Migrate): every check before anything changes, each problem a full sentence with its
/// fix; the keyspaces and a mounted source, the tables, the engine account's privileges, the source time zone, binlog
/// retention, other workflows, and the engine's own refusals per stream.
/// </summary>
public sealed class MoveTablesPreflight(
    TopologyStore store, ReplicationEngine engine, WorkflowRegistry registry, KeyspaceShards shards, StreamPlanner planner, MoveTablesSettings settings)
{
    private readonly ExistingTargetTables _existingTargets = new(store, engine, shards);
    private readonly SequencePreflight _sequences = new(new WorkflowSequences(store, engine, shards));

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

        await CheckKeyspacesAsync(spec, problems, ct).ConfigureAwait(false);
        if (problems.Count > 0)
        {
            return new PreflightResult(problems, []);
        }

        var sourceShards = await shards.NamesAsync(spec.SourceRef, ct).ConfigureAwait(false);
        var targetShards = await shards.NamesAsync(spec.TargetKeyspace, ct).ConfigureAwait(false);
        var tables = await CheckSourceAsync(spec, sourceShards[0], problems, ct).ConfigureAwait(false);
        if (problems.Count > 0)
        {
            return new PreflightResult(problems, tables);
        }

        await CheckOtherWorkflowsAsync(spec, tables, problems, ct).ConfigureAwait(false);
        await CheckStreamsAsync(spec, tables, sourceShards, targetShards, problems, ct).ConfigureAwait(false);
        await CheckExistingTargetTablesAsync(spec, tables, problems, ct).ConfigureAwait(false);
        problems.AddRange(await _sequences.ProblemsAsync(spec, tables, ct).ConfigureAwait(false));
        return new PreflightResult(problems, tables);
    }

    /// <summary>Both keyspaces exist (the target only, for a mounted source), and a mounted source can be read.</summary>
    private async Task CheckKeyspacesAsync(MoveTablesCreate spec, List<string> problems, CancellationToken ct)
    {
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

    /// <summary>
    /// On the primary of the source's first shard: the tables to move, the engine account's privileges, the source time
    /// zone and binlog retention. Returns the tables to move.
    /// </summary>
    private async Task<IReadOnlyList<string>> CheckSourceAsync(MoveTablesCreate spec, string shard, List<string> problems, CancellationToken ct)
    {
        var primary = await engine.Connector.Resolver.PrimaryAsync(spec.SourceRef, shard, ct).ConfigureAwait(false);
        await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
        var existing = await TableCatalog.ListTablesAsync(c, primary.DbName, ct).ConfigureAwait(false);
        var tables = TablesToMove(spec, existing, primary, problems);
        await CheckPrivilegesAsync(c, primary, problems, ct).ConfigureAwait(false);
        await CheckTimeZoneAsync(spec, c, primary, problems, ct).ConfigureAwait(false);
        await CheckRetentionAsync(c, primary, tables.Where(t => existing.Contains(t)).ToList(), problems, ct).ConfigureAwait(false);
        return tables;
    }

    /// <summary>The tables named (each must exist), or all of the source's but the excluded ones and internal ones (_*).</summary>
    private static IReadOnlyList<string> TablesToMove(MoveTablesCreate spec, List<string> existing, TabletEndpoint primary, List<string> problems)
    {
        IReadOnlyList<string> tables;
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

        return tables;
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

    /// <summary>A named --source-time-zone must be one the source converts (an offset always is).</summary>
    private static async Task CheckTimeZoneAsync(MoveTablesCreate spec, MySqlConnection c, TabletEndpoint primary, List<string> problems, CancellationToken ct)
    {
        if (spec.SourceTimeZone is { } tz && !tz.StartsWith('+') && !tz.StartsWith('-'))
        {
            if (await c.QueryScalarAsync($"SELECT CONVERT_TZ('2000-01-01 00:00:00', {c.Quoter.String(tz)}, '+00:00')", ct).ConfigureAwait(false) is null)
            {
                problems.Add($"--source-time-zone '{tz}' is unknown to {primary.Alias}: load the time zone tables (mariadb-tzinfo-to-sql) or give an offset such as +05:30.");
            }
        }
    }

    private async Task CheckRetentionAsync(MySqlConnection c, TabletEndpoint tablet, IReadOnlyList<string> tables, List<string> problems, CancellationToken ct)
    {
        if (tables.Count == 0)
        {
            return;
        }

        var rows = await TableCatalog.EstimateRowsAsync(c, tablet.DbName, tables, ct).ConfigureAwait(false);
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

    /// <summary>Workflow name taken, and tables already moving in another workflow (either direction).</summary>
    private async Task CheckOtherWorkflowsAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, List<string> problems, CancellationToken ct)
    {
        var workflows = await registry.ListAsync(ct: ct).ConfigureAwait(false);
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
    }

    /// <summary>
    /// A target table already there must be the one the workflow would create (the engine's checks below refuse it
    /// when it holds rows): the copy and the streams write into it, and create adopts it rather than creating it.
    /// </summary>
    private async Task CheckExistingTargetTablesAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, List<string> problems, CancellationToken ct)
    {
        problems.AddRange((await _existingTargets.InspectAsync(spec, tables, ct).ConfigureAwait(false)).Problems);
    }

    /// <summary>The engine's own refusals per stream: binlog settings, primary keys, column types, foreign keys, target rows.</summary>
    private async Task CheckStreamsAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, IReadOnlyList<string> sourceShards, IReadOnlyList<string> targetShards,
        List<string> problems, CancellationToken ct)
    {
        IReadOnlyList<StreamSpec> streamSpecs;
        try
        {
            streamSpecs = await planner.SpecsAsync(spec, spec.Workflow, spec.SourceRef, spec.TargetKeyspace, tables, sourceShards, targetShards, null, ct).ConfigureAwait(false);
        }
        catch (WorkflowValidationException e)
        {
            problems.Add(e.Message);
            return;
        }

        foreach (var streamSpec in streamSpecs)
        {
            // No reachable tablet of the requested types is not a refusal: the copy waits for one and its status says
            // why (the seeds' "stuck at 0%" case). The checks then run on the primary, which holds the same settings.
            var spec1 = streamSpec;
            if (!await planner.HasSourceTabletAsync(streamSpec, ct).ConfigureAwait(false))
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
    }
}
