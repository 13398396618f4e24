using Durable.MySql;
using Durable.Replication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.VDiff;

/// <summary>
/// VDiff of a workflow: what the HTTP API, the CLI, the orchestration and the MoveTables workflow call. State lives in
/// each target shard primary's sidecar; this class holds none, so any host replica can serve any call.
/// </summary>
public sealed class VDiffService(ReplicationEngine engine, ILogger? logger = null) : IVDiffOperations
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public ReplicationEngine Engine { get; } = engine;

    public VDiffStore Store { get; } = new(engine.Options.SidecarName);

    /// <summary>The target shards of a keyspace (those with a primary the resolver knows), in shard-name order.</summary>
    public async Task<IReadOnlyList<TabletEndpoint>> TargetPrimariesAsync(string keyspace, CancellationToken ct)
    {
        var primaries = (await Engine.Connector.Resolver.PrimariesAsync(ct).ConfigureAwait(false))
            .Where(t => string.Equals(t.Keyspace, keyspace, StringComparison.Ordinal))
            .OrderBy(t => t.Shard, StringComparer.Ordinal).ToList();
        if (primaries.Count == 0)
        {
            throw new VDiffException($"Target keyspace '{keyspace}' has no primary tablet; check --target-keyspace.");
        }

        return primaries;
    }

    /// <summary>The shard's job from its stream of the workflow: tables, row filter, databases.</summary>
    public async Task<(ShardJob Job, StreamRecord Stream, TabletEndpoint Primary)> ShardJobAsync(string uuid, string workflow, string keyspace, string shard, VDiffOptions options, CancellationToken ct)
    {
        var primary = await Engine.Connector.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
        var streams = await Engine.ListStreamsAsync(keyspace, shard, workflow, ct).ConfigureAwait(false);
        if (streams.Count == 0)
        {
            throw new VDiffException($"Workflow '{workflow}' has no stream on {keyspace}/{shard}; check --workflow and --target-keyspace.");
        }

        if (streams.Count > 1)
        {
            throw new VDiffException($"Workflow '{workflow}' has {streams.Count} streams into {keyspace}/{shard} (a sharded source); VDiff of one target shard against several source shards is not supported yet.");
        }

        var stream = streams[0];
        var rules = stream.Filter.Rules.ToList();
        if (options.Tables.Count > 0)
        {
            var unknown = options.Tables.Where(t => rules.All(r => !string.Equals(r.Table, t, StringComparison.OrdinalIgnoreCase))).ToList();
            if (unknown.Count > 0)
            {
                throw new VDiffException($"--tables names {string.Join(", ", unknown)}, which workflow '{workflow}' does not move; it moves {string.Join(", ", rules.Select(r => r.Table))}.");
            }

            rules = rules.Where(r => options.Tables.Contains(r.Table, StringComparer.OrdinalIgnoreCase)).ToList();
        }

        var source = await Engine.Connector.Resolver.PrimaryAsync(stream.SourceKeyspace, stream.SourceShard, ct).ConfigureAwait(false);
        var job = new ShardJob
        {
            Uuid = uuid,
            Workflow = workflow,
            Keyspace = keyspace,
            Shard = shard,
            SourceDb = source.DbName,
            TargetDb = stream.TargetDb,
            Tables = rules,
            Options = options,
        };
        return (job, stream, primary);
    }

    /// <summary>Validates and records a new VDiff on every target shard (pending); returns its uuid and shards. Nothing runs yet.</summary>
    public async Task<(string Uuid, IReadOnlyList<string> Shards)> CreateAsync(string workflow, string keyspace, VDiffOptions options, string? uuid = null, CancellationToken ct = default)
    {
        options.Validate();
        uuid ??= Guid.NewGuid().ToString();
        if (!Guid.TryParse(uuid, out _))
        {
            throw new ArgumentException($"VDiff uuid '{uuid}' is invalid: use a UUID like {Guid.Empty}.");
        }

        var primaries = await TargetPrimariesAsync(keyspace, ct).ConfigureAwait(false);
        var jobs = new List<(ShardJob, TabletEndpoint)>();
        foreach (var p in primaries)
        {
            var (job, _, primary) = await ShardJobAsync(uuid, workflow, keyspace, p.Shard, options, ct).ConfigureAwait(false);
            jobs.Add((job, primary));
        }

        foreach (var (job, primary) in jobs)
        {
            await Differ(primary, new DirectSnapshots(_ => throw new InvalidOperationException("create does not compare"), _ => throw new InvalidOperationException("create does not compare")))
                .CreateAsync(job, ct).ConfigureAwait(false);
        }

        return (uuid, primaries.Select(p => p.Shard).ToList());
    }

    /// <summary>Runs (or resumes) one shard's diff with stream alignment; the per-shard activity of the orchestration.</summary>
    public async Task<string> RunShardAsync(string uuid, string workflow, string keyspace, string shard, CancellationToken ct) =>
        await RunShardAsync(uuid, workflow, keyspace, shard, null, ct).ConfigureAwait(false);

    /// <summary>As above, returning "started" when <paramref name="budget"/> ran out (the orchestration calls it again).</summary>
    public async Task<string> RunShardAsync(string uuid, string workflow, string keyspace, string shard, TimeSpan? budget, CancellationToken ct)
    {
        var primary = await Engine.Connector.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
        VDiffShardRecord record;
        await using (var c = await OpenStateAsync(primary, ct).ConfigureAwait(false))
        {
            record = await Store.GetAsync(c, workflow, keyspace, uuid, shard, ct).ConfigureAwait(false)
                ?? throw new VDiffException($"VDiff {uuid} does not exist for {workflow} on {keyspace}/{shard}.");
        }

        var (job, stream, _) = await ShardJobAsync(uuid, workflow, keyspace, shard, record.Options, ct).ConfigureAwait(false);
        var snapshots = new StreamAlignedSnapshots(Engine, primary, stream.Id, record.Options, $"vdiff-{uuid}", _logger) { ParkedMarks = Store };
        var state = await Differ(primary, snapshots).RunAsync(job, ct, budget).ConfigureAwait(false);
        if (state == VDiffStates.Completed && record.Options.Repair)
        {
            await using var c = await OpenStateAsync(primary, ct).ConfigureAwait(false);
            // Shown as started while repairing, so "completed" means repaired too (a --wait returns only then); a
            // re-delivered run finds the tables completed and repairs the ranges not yet marked repaired.
            await Store.SetStateAsync(c, record.Id, VDiffStates.Started, "repairing", [VDiffStates.Completed], ct).ConfigureAwait(false);
            try
            {
                var repaired = await new Repairer(Store).RepairAsync(c, record.Id, job, snapshots, ct).ConfigureAwait(false);
                _logger.LogInformation("VDiff {Uuid} on {Shard}: repaired {Ranges} range(s)", uuid, shard, repaired);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await Store.SetStateAsync(c, record.Id, VDiffStates.Error, "repair failed: " + e.Message, [VDiffStates.Started], CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            await Store.SetStateAsync(c, record.Id, VDiffStates.Completed, "repaired", [VDiffStates.Started], ct).ConfigureAwait(false);
            state = VDiffStates.Completed;
        }

        return state;
    }

    public ShardDiffer Differ(TabletEndpoint primary, ISnapshotSource snapshots) =>
        new(Store, ct => OpenStateAsync(primary, ct), snapshots);

    /// <summary>The report of one VDiff ("last" or a uuid), or null when there is none.</summary>
    public async Task<VDiffReport?> ShowAsync(string workflow, string keyspace, string selector, bool verbose, CancellationToken ct = default)
    {
        var all = await CollectAsync(workflow, keyspace, ct).ConfigureAwait(false);
        if (all.Count == 0)
        {
            return null;
        }

        string uuid;
        if (string.Equals(selector, "last", StringComparison.OrdinalIgnoreCase))
        {
            uuid = all.OrderBy(x => x.Shard.CreatedAt).ThenBy(x => x.Shard.Id).Last().Shard.Uuid;
        }
        else if (Guid.TryParse(selector, out _))
        {
            uuid = selector;
        }
        else
        {
            throw new ArgumentException($"VDiff show '{selector}' is invalid: use last, all, or a VDiff uuid.");
        }

        var shards = all.Where(x => string.Equals(x.Shard.Uuid, uuid, StringComparison.OrdinalIgnoreCase)).ToList();
        return shards.Count == 0 ? null : VDiffReport.Build(workflow, keyspace, shards[0].Shard.Uuid, shards, verbose, DateTime.UtcNow);
    }

    /// <summary>
    /// The latest VDiff of the workflow that completed on every shard, as the VDiff gate counts it (operator-run and
    /// scheduled alike); null when none has. Its <see cref="VDiffSummary.StartedAt"/> is when it was created (the
    /// earliest shard's row), so a VDiff created before a switch of writes never counts as newer than it.
    /// </summary>
    public async Task<VDiffSummary?> LatestCompletedAsync(string workflow, string keyspace, CancellationToken ct = default)
    {
        var all = await CollectAsync(workflow, keyspace, ct).ConfigureAwait(false);
        var latest = all.GroupBy(x => x.Shard.Uuid)
            .Where(g => g.All(x => x.Shard.State == VDiffStates.Completed))
            .OrderBy(g => g.Min(x => x.Shard.CreatedAt)).ThenBy(g => g.Min(x => x.Shard.Id))
            .LastOrDefault();
        if (latest is null)
        {
            return null;
        }

        var rows = latest.ToList();
        var report = VDiffReport.Build(workflow, keyspace, latest.Key, rows, false, DateTime.UtcNow);
        return Summarize(report, rows.Min(x => x.Shard.CreatedAt), rows.Max(x => x.Shard.CompletedAt ?? x.Shard.CreatedAt));
    }

    /// <summary>A report folded into what the workflow and its gate keep of a VDiff.</summary>
    public static VDiffSummary Summarize(VDiffReport report, DateTime startedAt, DateTime at) => new()
    {
        Uuid = report.UUID, Workflow = report.Workflow, Keyspace = report.Keyspace, State = report.State, HasMismatch = report.HasMismatch,
        RowsCompared = report.RowsCompared,
        MismatchedRows = report.TableSummary.Values.Sum(t => t.MismatchedRows),
        ExtraRowsSource = report.TableSummary.Values.Sum(t => t.ExtraRowsSource),
        ExtraRowsTarget = report.TableSummary.Values.Sum(t => t.ExtraRowsTarget),
        Errors = report.Errors, StartedAt = startedAt, At = at,
        Tables = [.. report.TableSummary.Values.Select(t => new VDiffTableCounts(t.TableName, t.MismatchedRows, t.ExtraRowsSource, t.ExtraRowsTarget))],
    };

    /// <summary>Every VDiff of the workflow, oldest first.</summary>
    public async Task<IReadOnlyList<VDiffReport>> ShowAllAsync(string workflow, string keyspace, bool verbose, CancellationToken ct = default)
    {
        var all = await CollectAsync(workflow, keyspace, ct).ConfigureAwait(false);
        return all.GroupBy(x => x.Shard.Uuid)
            .OrderBy(g => g.Min(x => x.Shard.CreatedAt))
            .Select(g => VDiffReport.Build(workflow, keyspace, g.Key, g.ToList(), verbose, DateTime.UtcNow))
            .ToList();
    }

    /// <summary>Stops a running or pending VDiff on every shard; the chunk loop sees it at its next checkpoint.</summary>
    public Task<int> StopAsync(string workflow, string keyspace, string uuid, CancellationToken ct = default) =>
        SetStateAsync(workflow, keyspace, uuid, VDiffStates.Stopped, "stopped by operator", [VDiffStates.Pending, VDiffStates.Started], ct);

    /// <summary>Makes a stopped (or failed) VDiff pending again; the caller then runs its shards, which continue after their lastpk.</summary>
    public Task<int> ResumeAsync(string workflow, string keyspace, string uuid, CancellationToken ct = default) =>
        SetStateAsync(workflow, keyspace, uuid, VDiffStates.Pending, "resumed by operator", [VDiffStates.Stopped, VDiffStates.Error], ct);

    /// <summary>Deletes one VDiff ("all": every VDiff of the workflow) on every shard; returns the shard rows deleted.</summary>
    public async Task<int> DeleteAsync(string workflow, string keyspace, string selector, CancellationToken ct = default)
    {
        string? uuid = string.Equals(selector, "all", StringComparison.OrdinalIgnoreCase) ? null
            : Guid.TryParse(selector, out _) ? selector
            : throw new ArgumentException($"VDiff delete '{selector}' is invalid: use all or a VDiff uuid.");
        var deleted = 0;
        foreach (var primary in await TargetPrimariesAsync(keyspace, ct).ConfigureAwait(false))
        {
            await using var c = await OpenStateAsync(primary, ct).ConfigureAwait(false);
            deleted += await Store.DeleteAsync(c, workflow, keyspace, uuid, ct).ConfigureAwait(false);
        }

        return deleted;
    }

    private async Task<int> SetStateAsync(string workflow, string keyspace, string uuid, string state, string message, string[] from, CancellationToken ct)
    {
        if (!Guid.TryParse(uuid, out _))
        {
            throw new ArgumentException($"VDiff uuid '{uuid}' is invalid: use the uuid printed by create (or shown by show all).");
        }

        var changed = 0;
        var found = 0;
        foreach (var primary in await TargetPrimariesAsync(keyspace, ct).ConfigureAwait(false))
        {
            await using var c = await OpenStateAsync(primary, ct).ConfigureAwait(false);
            foreach (var s in await Store.ListAsync(c, workflow, keyspace, uuid, ct).ConfigureAwait(false))
            {
                found++;
                if (await Store.SetStateAsync(c, s.Id, state, message, from, ct).ConfigureAwait(false))
                {
                    changed++;
                }
            }
        }

        if (found == 0)
        {
            throw new VDiffException($"VDiff {uuid} does not exist for workflow '{workflow}' in keyspace '{keyspace}'.");
        }

        return changed;
    }

    private async Task<List<(VDiffShardRecord Shard, IReadOnlyList<VDiffTableRecord> Tables)>> CollectAsync(string workflow, string keyspace, CancellationToken ct)
    {
        var result = new List<(VDiffShardRecord, IReadOnlyList<VDiffTableRecord>)>();
        foreach (var primary in await TargetPrimariesAsync(keyspace, ct).ConfigureAwait(false))
        {
            await using var c = await OpenStateAsync(primary, ct).ConfigureAwait(false);
            await Store.EnsureAsync(c, ct).ConfigureAwait(false);
            foreach (var s in await Store.ListAsync(c, workflow, keyspace, null, ct).ConfigureAwait(false))
            {
                if (s.Shard == primary.Shard)
                {
                    result.Add((s, await Store.TablesAsync(c, s.Id, ct).ConfigureAwait(false)));
                }
            }
        }

        return result;
    }

    private async Task<MySqlConnection> OpenStateAsync(TabletEndpoint primary, CancellationToken ct)
    {
        var c = await Engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
        await c.ExecuteAsync("SET SESSION time_zone = '+00:00'", ct).ConfigureAwait(false);
        return c;
    }
}
