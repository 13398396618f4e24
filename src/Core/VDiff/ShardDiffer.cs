using Durable.Core.Faults;
using Durable.MySql;
using Durable.Replication;

namespace Durable.VDiff;

/// <summary>What one shard's diff compares: the target shard's tables against its source, with the source's row filter per table.</summary>
public sealed record ShardJob
{
    public required string Uuid { get; init; }

    public required string Workflow { get; init; }

    /// <summary>Target keyspace and shard (the VDiff state lives in that shard primary's sidecar).</summary>
    public required string Keyspace { get; init; }

    public required string Shard { get; init; }

    public required string SourceDb { get; init; }

    public required string TargetDb { get; init; }

    /// <summary>Tables with the key-range filter that picks the source rows this shard owns (null: all rows).</summary>
    public required IReadOnlyList<TableRule> Tables { get; init; }

    public VDiffOptions Options { get; init; } = new();
}

/// <summary>Raised inside the chunk loop when an operator stopped the VDiff; the progress so far is checkpointed.</summary>
public sealed class VDiffStoppedException(string message) : VDiffException(message);

/// <summary>
/// Runs one shard's diff from its sidecar state: table after table, segment after segment (each segment one aligned
/// pair of snapshots living at most --max-diff-duration), chunk after chunk with a checkpoint each. Running it again
/// after a stop, a crash or a re-delivery continues after the last checkpoint and reaches the same totals.
/// </summary>
public sealed class ShardDiffer(VDiffStore store, Func<CancellationToken, Task<MySqlConnection>> openStateConnection, ISnapshotSource snapshots)
{
    /// <summary>Called after each chunk's checkpoint committed (progress logging; tests use it to stop mid-table).</summary>
    public Func<ChunkOutcome, Task>? Progress { get; init; }

    /// <summary>Creates the shard's state if needed (idempotent) and returns its id.</summary>
    public async Task<long> CreateAsync(ShardJob job, CancellationToken ct)
    {
        job.Options.Validate();
        await using var c = await OpenStateAsync(ct).ConfigureAwait(false);
        await store.EnsureAsync(c, ct).ConfigureAwait(false);
        return await store.CreateAsync(c, job.Uuid, job.Workflow, job.Keyspace, job.Shard, job.Options, job.Tables.Select(t => t.Table).ToList(), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs (or resumes) the shard's diff; returns its state: completed, stopped, error (reason stored), or started when
    /// <paramref name="budget"/> ran out between segments (the caller runs it again, e.g. as the next activity).
    /// </summary>
    public async Task<string> RunAsync(ShardJob job, CancellationToken ct, TimeSpan? budget = null)
    {
        var run = new RunBudget(budget is { } b ? DateTimeOffset.UtcNow + b : DateTimeOffset.MaxValue);
        var id = await CreateAsync(job, ct).ConfigureAwait(false);
        await using var c = await OpenStateAsync(ct).ConfigureAwait(false);
        // Already started is the normal case of a run after a crash or after the budget ran out: the UPDATE to the same
        // state changes no row, so "not changed" must not be read as "not allowed" (that made the shard orchestration
        // ContinueAsNew forever without a step forward).
        if (!await store.SetStateAsync(c, id, VDiffStates.Started, "running", [VDiffStates.Pending, VDiffStates.Error], ct).ConfigureAwait(false))
        {
            var current = await store.StateAsync(c, id, ct).ConfigureAwait(false) ?? VDiffStates.Error;
            if (current != VDiffStates.Started)
            {
                return current;
            }

            await store.LogAsync(c, id, "started: continuing after the last checkpoint", ct).ConfigureAwait(false);
        }

        var attempts = 0;
        while (true)
        {
            try
            {
                foreach (var rule in job.Tables)
                {
                    if (!await DiffTableAsync(c, id, job, rule, run, ct).ConfigureAwait(false))
                    {
                        return VDiffStates.Started;
                    }
                }

                await store.SetStateAsync(c, id, VDiffStates.Completed, "all tables compared", [VDiffStates.Started], ct).ConfigureAwait(false);
                return await store.StateAsync(c, id, ct).ConfigureAwait(false) ?? VDiffStates.Completed;
            }
            catch (VDiffStoppedException)
            {
                return VDiffStates.Stopped;
            }
            catch (Exception e) when (job.Options.AutoRetry && TransientFailures.IsTransient(e) && ++attempts <= 5 && !ct.IsCancellationRequested)
            {
                await store.LogAsync(c, id, $"transient error, retry {attempts}: {e.Message}", ct).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromMilliseconds(500 * (1 << attempts)), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await store.SetStateAsync(c, id, VDiffStates.Error, e.Message, [VDiffStates.Started], CancellationToken.None).ConfigureAwait(false);
                return VDiffStates.Error;
            }
        }
    }

    /// <summary>Diffs one table to its end; false when the budget ran out first (progress is checkpointed).</summary>
    private async Task<bool> DiffTableAsync(MySqlConnection c, long id, ShardJob job, TableRule rule, RunBudget run, CancellationToken ct)
    {
        var differ = new TableDiffer(job.Options);
        while (true)
        {
            var record = (await store.TablesAsync(c, id, ct).ConfigureAwait(false)).Single(t => t.Table == rule.Table);
            if (record.State == VDiffStates.Completed)
            {
                return true;
            }

            // Every run compares at least one segment, however small its budget: a run that stopped before its first
            // step (the budget spent on connecting, on a loaded machine) would be followed by another doing the same.
            if (run.Progressed && DateTimeOffset.UtcNow >= run.Until)
            {
                return false;
            }

            await ThrowIfStoppedAsync(c, id, ct).ConfigureAwait(false);
            if (record.State == VDiffStates.Pending && job.Options.UpdateTableStats)
            {
                // Fresh statistics make the row estimate behind progress and ETA right; LOCAL keeps it out of the binlog.
                await (await c.QueryAsync($"ANALYZE LOCAL TABLE {Durable.MySql.Sql.SqlQuoter.QualifiedName(job.TargetDb, rule.Table)}", ct).ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }

            await using var pair = await snapshots.OpenAsync(ct).ConfigureAwait(false);
            var plan = await TableDiffer.PlanAsync(pair.Source, job.SourceDb, pair.Target, job.TargetDb, rule.Table, rule.KeyRangeFilter, job.Options.SourceTimeZone, ct).ConfigureAwait(false);
            if (record.State == VDiffStates.Pending)
            {
                await store.StartTableAsync(c, id, rule.Table, await EstimateRowsAsync(pair.Target, job.TargetDb, rule.Table, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            }

            var lastPk = record.LastPk is null ? null : StreamStore.DecodePk(record.LastPk);
            var segmentEnd = DateTimeOffset.UtcNow + job.Options.MaxDiffDuration;
            var segment = await differ.RunSegmentAsync(pair.Source, pair.Target, plan, lastPk, segmentEnd < run.Until ? segmentEnd : run.Until, async outcome =>
            {
                FaultPoints.Hit("vdiff.chunk-compared");
                await store.CheckpointAsync(c, id, outcome, job.Options.MaxSamples, ct).ConfigureAwait(false);
                FaultPoints.Hit("vdiff.chunk-checkpointed");
                run.Progressed = true;
                if (Progress is not null)
                {
                    await Progress(outcome).ConfigureAwait(false);
                }

                await ThrowIfStoppedAsync(c, id, ct).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
            if (segment.Done)
            {
                return true;
            }
        }
    }

    /// <summary>When a run should hand over to the next one, and whether it has checkpointed anything yet.</summary>
    private sealed class RunBudget(DateTimeOffset until)
    {
        public DateTimeOffset Until { get; } = until;

        public bool Progressed { get; set; }
    }

    private async Task ThrowIfStoppedAsync(MySqlConnection c, long id, CancellationToken ct)
    {
        if (await store.StateAsync(c, id, ct).ConfigureAwait(false) == VDiffStates.Stopped)
        {
            throw new VDiffStoppedException($"VDiff {id} was stopped.");
        }
    }

    private static async Task<long> EstimateRowsAsync(MySqlConnection c, string db, string table, CancellationToken ct)
    {
        var q = c.Quoter;
        var text = await c.QueryScalarAsync($"SELECT IFNULL(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {q.String(db)} AND TABLE_NAME = {q.String(table)}", ct).ConfigureAwait(false);
        return long.TryParse(text, out var n) ? n : 0;
    }

    private async Task<MySqlConnection> OpenStateAsync(CancellationToken ct)
    {
        var c = await openStateConnection(ct).ConfigureAwait(false);
        await c.ExecuteAsync("SET SESSION time_zone = '+00:00'", ct).ConfigureAwait(false);
        return c;
    }
}
