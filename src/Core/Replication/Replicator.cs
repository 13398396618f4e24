using System.Diagnostics;
using System.Text.RegularExpressions;
using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Binlog;
using Durable.Topology;

namespace Durable.Replication;

/// <summary>A replication server id held for one binlog connection; <see cref="Lost"/> completes if the hold ends.</summary>
public sealed record ServerIdLease(uint ServerId, Task Lost, Func<ValueTask> Release) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Release();
}

/// <summary>Hands out replication server ids that no tablet and no other live process uses.</summary>
public interface IServerIdSource
{
    Task<ServerIdLease> LeaseAsync(string holder, CancellationToken ct);
}

/// <summary>Server ids leased from etcd (the topology's range), released when the holder stops renewing.</summary>
public sealed class EtcdServerIdSource(TopologyStore store) : IServerIdSource
{
    public async Task<ServerIdLease> LeaseAsync(string holder, CancellationToken ct)
    {
        var leased = await store.LeaseServerIdAsync(holder, TimeSpan.FromSeconds(15), ct).ConfigureAwait(false);
        return new ServerIdLease(leased.ServerId, leased.Lost, leased.DisposeAsync);
    }
}

public sealed record ReplicatorOptions
{
    /// <summary>How often an idle source sends a heartbeat; idle batches commit at the next heartbeat.</summary>
    public TimeSpan HeartbeatPeriod { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A target transaction groups up to this many source transactions... Each commit drains the block pipeline (the
    /// last block is awaited before the position UPDATE + COMMIT), so at 1000 small sysbench transactions a batch was
    /// only ~2 blocks and half the SQL build ran while the target stood idle; with a backlog the row and time limits
    /// below now end batches first (~8 blocks).
    /// </summary>
    public int MaxBatchTransactions { get; init; } = 10_000;

    /// <summary>...or row changes...</summary>
    public long MaxBatchRows { get; init; } = 20_000;

    /// <summary>...or this much time since its first source transaction.</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often an idle stream writes its heartbeat time (which makes its lag 0).</summary>
    public TimeSpan HeartbeatWriteInterval { get; init; } = TimeSpan.FromSeconds(1);
}

public enum ReplicatorStop
{
    /// <summary>The position asked for (the copy's catch-up or fast-forward target) was reached.</summary>
    ReachedUntil,

    /// <summary>The stream's stop position was reached; the stream is Stopped.</summary>
    ReachedStopPosition,

    /// <summary>on_ddl=STOP met a DDL; the stream is Stopped with its position just past it (the DDL not run).</summary>
    StoppedOnDdl,
}

/// <summary>
/// Reads the source binlog from the stream's position and applies the stream's row events through a
/// <see cref="StreamApplier"/>, grouping source transactions into fenced target transactions with their position.
/// </summary>
public sealed class Replicator(TabletConnector connector, IServerIdSource serverIds, ReplicatorOptions? options = null, IThrottler? throttler = null)
{
    private readonly ReplicatorOptions _options = options ?? new ReplicatorOptions();

    /// <summary>Runs until <paramref name="until"/> (null: until the stop position, a DDL stop, an error or cancellation).</summary>
    public async Task<ReplicatorStop> RunAsync(StreamApplier applier, TabletEndpoint source, GtidPosition? until, CancellationToken ct)
    {
        var stream = applier.Stream;
        var start = applier.Position
            ?? throw new TerminalReplicationException($"Stream {stream.Id} has no position to replicate from; it must be copied first or created with a position.");
        if (until is not null && start.AtLeast(until))
        {
            return ReplicatorStop.ReachedUntil;
        }

        if (stream.StopPosition is { } stopAtStart && start.AtLeast(stopAtStart))
        {
            // The seeds' (Vitess's) words: the operator must clear stop_pos before starting the stream again.
            await StopAsync(applier, start, 0, $"Stop position {stopAtStart} already reached: {start}", ct).ConfigureAwait(false);
            return ReplicatorStop.ReachedStopPosition;
        }

        await using var lease = await serverIds.LeaseAsync($"stream {stream.TargetKeyspace}/{stream.TargetShard}/{stream.Id}", ct).ConfigureAwait(false);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _ = lease.Lost.ContinueWith(_ => linked.Cancel(), TaskScheduler.Default);
        var token = linked.Token;
        await using var binlog = await BinlogStream.StartAsync(
            connector.Options(source),
            new BinlogStreamOptions { ServerId = lease.ServerId, Start = start, HeartbeatPeriod = _options.HeartbeatPeriod },
            token).ConfigureAwait(false);

        var tables = stream.Filter.Rules.Select(r => r.Table).ToList();
        var batch = Stopwatch.StartNew();
        var sinceHeartbeat = Stopwatch.StartNew();
        var transactions = 0;
        long lastTimestamp = 0;
        long txTimestamp = 0;
        var beforeTx = start;
        var standalone = false;
        var sawDdl = false; // a DDL (e.g. the write guards' triggers at a switch) in the open batch: commit it without delay
        var rate = Stopwatch.StartNew();
        long rateRows = 0;
        var profile = applier.Profile;

        async Task CommitBatchAsync(GtidPosition position)
        {
            if (throttler is not null)
            {
                var throttleStarted = ApplyProfile.Now();
                await throttler.WaitAsync(stream, source, token).ConfigureAwait(false);
                profile.ThrottleTicks += ApplyProfile.Since(throttleStarted);
            }

            var rows = applier.PendingRows;
            // The batch's span is made at its commit, starting where the batch started (its first source transaction,
            // or the previous commit); nothing is made while no tracer listens.
            using var span = ReplicationTracing.Source.HasListeners()
                ? ReplicationTracing.Source.StartActivity("apply batch", ActivityKind.Internal, Activity.Current?.Context ?? default, startTime: DateTimeOffset.UtcNow - batch.Elapsed)
                : null;
            if (span is not null)
            {
                span.SetTag("durable.stream", $"{stream.TargetKeyspace}/{stream.TargetShard}/{stream.Id}");
                span.SetTag("durable.workflow", stream.Workflow);
                span.SetTag("durable.source_transactions", transactions);
                span.SetTag("durable.rows", rows);
            }

            await applier.CommitAsync(position, lastTimestamp, ct: token).ConfigureAwait(false);
            transactions = 0;
            sawDdl = false;
            batch.Restart();
            if (stream.Options.MaxRowsPerSecond > 0)
            {
                rateRows += rows;
                var due = TimeSpan.FromSeconds((double)rateRows / stream.Options.MaxRowsPerSecond);
                if (due > rate.Elapsed)
                {
                    await Task.Delay(due - rate.Elapsed, token).ConfigureAwait(false);
                }
            }
        }

        while (true)
        {
            token.ThrowIfCancellationRequested();
            var readStarted = ApplyProfile.Now();
            var evt = await binlog.ReadEventAsync(token).ConfigureAwait(false)
                ?? throw new ReplicationException($"The source {source} ended the binlog stream.");
            profile.BinlogTicks += ApplyProfile.Since(readStarted);
            profile.Events++;
            switch (evt)
            {
                case GtidEvent gtid:
                    beforeTx = binlog.Position;
                    txTimestamp = gtid.Header.Timestamp;
                    standalone = gtid.IsStandalone;
                    break;
                case RowsEvent rows when string.Equals(rows.Table.Schema, source.DbName, StringComparison.Ordinal) && stream.Filter.Find(rows.Table.Table) is not null:
                    await applier.ApplyRowsAsync(rows, token).ConfigureAwait(false);
                    break;
                case XidEvent:
                case QueryEvent { Sql: "COMMIT" }:
                    if (await EndTransactionAsync().ConfigureAwait(false) is { } stop)
                    {
                        return stop;
                    }

                    break;
                case QueryEvent query when standalone:
                    // The write guards' own CREATE/DROP TRIGGER (of any workflow) is never a schema change to follow:
                    // stopping on it would stop every switch, running it would guard the side writes go to.
                    if (!GuardDdl.IsGuardDdl(query.Sql) && IsRelevantDdl(query, source.DbName, tables))
                    {
                        if (applier.PendingRows > 0 || applier.InTransaction || transactions > 0)
                        {
                            await CommitBatchAsync(beforeTx).ConfigureAwait(false);
                        }

                        switch (stream.OnDdl)
                        {
                            case OnDdl.Stop:
                                // As Vitess does: the position moves past the DDL (which is not run), so the operator
                                // applies it to the target by hand and starts the stream again without meeting it twice.
                                await StopAsync(applier, binlog.Position, txTimestamp, $"Stopped at DDL {Shorten(query.Sql)}", token).ConfigureAwait(false);
                                return ReplicatorStop.StoppedOnDdl;
                            case OnDdl.Exec:
                            case OnDdl.ExecIgnore:
                                await ExecuteDdlAsync(applier, stream, query, token).ConfigureAwait(false);
                                break;
                        }
                    }

                    lastTimestamp = txTimestamp;
                    sawDdl = true;
                    if (await EndTransactionAsync().ConfigureAwait(false) is { } stopAfterDdl)
                    {
                        return stopAfterDdl;
                    }

                    break;
                case HeartbeatEvent:
                    if (applier.InTransaction || transactions > 0)
                    {
                        await CommitBatchAsync(binlog.Position).ConfigureAwait(false);
                    }
                    else if (sinceHeartbeat.Elapsed >= _options.HeartbeatWriteInterval)
                    {
                        await applier.HeartbeatAsync(token).ConfigureAwait(false);
                        sinceHeartbeat.Restart();
                    }

                    break;
            }
        }

        async Task<ReplicatorStop?> EndTransactionAsync()
        {
            transactions++;
            profile.Transactions++;
            lastTimestamp = txTimestamp;
            standalone = false;
            var position = binlog.Position;
            if (until is not null && position.AtLeast(until))
            {
                await CommitBatchAsync(position).ConfigureAwait(false);
                return ReplicatorStop.ReachedUntil;
            }

            if (stream.StopPosition is { } stopPosition && position.AtLeast(stopPosition))
            {
                await StopAsync(applier, position, lastTimestamp, $"Stopped at position {position}", token).ConfigureAwait(false);
                return ReplicatorStop.ReachedStopPosition;
            }

            // Also commit applied rows (or a DDL) when nothing more is received: the source has sent all it had, so
            // waiting for the batch delay or the next heartbeat would only add lag (it was ~0.5 s of every SwitchTraffic's
            // write window, whose final position is the guards' DDL). Under a backlog the read-ahead is full and batches
            // still fill up; a batch of only other databases' DML keeps the delay (a busy shared source would otherwise
            // cost a target commit per transaction), bounded by the heartbeat period when the source goes quiet.
            if (transactions >= _options.MaxBatchTransactions || applier.PendingRows >= _options.MaxBatchRows || batch.Elapsed >= _options.MaxBatchDelay
                || ((applier.InTransaction || applier.PendingRows > 0 || sawDdl) && !binlog.HasBufferedEvent))
            {
                await CommitBatchAsync(position).ConfigureAwait(false);
            }

            return null;
        }
    }

    private static async Task StopAsync(StreamApplier applier, GtidPosition position, long timestamp, string message, CancellationToken ct)
    {
        await applier.CommitAsync(position, timestamp, $"state = 'Stopped', message = {applier.Target.Quoter.String(StreamStore.Truncate(message))}", ct).ConfigureAwait(false);
    }

    private static async Task ExecuteDdlAsync(StreamApplier applier, StreamRecord stream, QueryEvent query, CancellationToken ct)
    {
        var target = applier.Target;
        try
        {
            await target.ExecuteAsync("USE " + Durable.MySql.Sql.SqlQuoter.Identifier(stream.TargetDb), ct).ConfigureAwait(false);
            await target.ExecuteAsync(query.Sql, ct).ConfigureAwait(false);
        }
        catch (MySqlException e) when (e.IsServerError)
        {
            if (stream.OnDdl == OnDdl.Exec)
            {
                throw new TerminalReplicationException($"on_ddl=EXEC: the DDL '{Shorten(query.Sql)}' failed on the target: {e.Message}", e);
            }
        }

        applier.ForgetTables();
    }

    /// <summary>A DDL in the source database that names one of the stream's tables.</summary>
    internal static bool IsRelevantDdl(QueryEvent query, string sourceDb, IReadOnlyList<string> tables)
    {
        var sql = query.Sql.Trim();
        if (sql.Length == 0 || sql.StartsWith("BEGIN", StringComparison.OrdinalIgnoreCase) || sql.StartsWith("XA ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (!string.Equals(query.Schema, sourceDb, StringComparison.Ordinal) && !sql.Contains(sourceDb, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return tables.Any(t => Regex.IsMatch(sql, @"(^|[^\w$])`?" + Regex.Escape(t) + @"`?([^\w$]|$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant));
    }

    private static string Shorten(string sql) => sql.Length <= 200 ? sql : sql[..200] + "...";
}
