using System.Diagnostics;
using System.Text.RegularExpressions;
using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Flavors;
using Durable.MySql.Sql;

namespace Durable.Replication;

/// <summary>How much one copy chunk may do before it commits and returns.</summary>
public sealed record CopyBudget
{
    /// <summary>Bytes of row data read from the snapshot per chunk (a chunk is one snapshot; it commits many times).</summary>
    public long MaxBytes { get; init; } = 1L << 30;

    /// <summary>Wall time spent reading the snapshot per chunk (how long the source keeps the snapshot's history).</summary>
    public TimeSpan MaxTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Rows per chunk (the SELECT's LIMIT).</summary>
    public int MaxRows { get; init; } = 1_000_000;

    /// <summary>Size of each multi-row INSERT (bounded by the target's max_allowed_packet).</summary>
    public int StatementBytes { get; init; } = 4 << 20;

    /// <summary>Rows per target transaction: a chunk commits its rows (and its lastpk) every this many rows.</summary>
    public int CommitRows { get; init; } = 100_000;

    /// <summary>INSERT bytes per target transaction (whichever of rows and bytes is reached first).</summary>
    public long CommitBytes { get; init; } = 16L << 20;

    /// <summary>
    /// ...or this much time since the last commit: the rows a chunk has copied show (in copy_state and the stream's
    /// rows_copied, which status and show read) every few seconds however slowly the target takes them.
    /// </summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// About how long one statement may take on the target, by its measured insert rate: a slow target gets smaller
    /// statements, so a commit is never stuck behind a multi-megabyte one (see <see cref="CopyStatementPacer"/>).
    /// </summary>
    public TimeSpan StatementTime { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Load rows with LOAD DATA LOCAL INFILE (rows streamed from memory) where the target's local_infile is on; else,
    /// and when false, with multi-row INSERTs. The server parses LOAD DATA much
    /// more cheaply, and the copy is bound by the target.
    /// </summary>
    public bool LoadData { get; init; } = true;

    public void Validate()
    {
        if (MaxBytes < 1 || MaxRows < 1 || CommitRows < 1 || CommitBytes < 1 || MaxTime <= TimeSpan.Zero || StatementBytes < 4096
            || CommitInterval <= TimeSpan.Zero || StatementTime <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Copy budget {this} is invalid: bytes, rows, commit sizes and times must be positive and the statement size at least 4096 bytes.");
        }
    }
}

/// <summary>What a chunk did; Done when every table of the stream is copied.</summary>
public sealed record ChunkResult(bool Done, string? Table, long RowsCopied, string Position, StreamState State);

/// <summary>
/// One bounded step of a stream's copy, done the way Vitess does it: catch up the already-copied rows from the stream
/// position, open a consistent snapshot on the source and read its position S, fast-forward to S, copy the next primary
/// key range of the current table from the snapshot and commit it with the new lastpk and position S in one fenced
/// transaction. Re-running a chunk after a crash continues from whatever the sidecar says was committed.
/// </summary>
public sealed class Copier(TabletConnector connector, Sidecar sidecar, Replicator replicator)
{
    private readonly StreamStore _store = new(sidecar);

    public async Task<ChunkResult> CopyChunkAsync(string targetKeyspace, string targetShard, long streamId, string owner, CopyBudget budget, CancellationToken ct)
    {
        budget.Validate();
        var targetTablet = await connector.Resolver.PrimaryAsync(targetKeyspace, targetShard, ct).ConfigureAwait(false);
        // LOCAL INFILE is offered so the copy can load its rows with LOAD DATA (see CopyBudget.LoadData).
        await using var target = await MySqlConnection.OpenAsync(connector.Options(targetTablet) with { AllowLocalInfile = budget.LoadData }, ct).ConfigureAwait(false);
        await sidecar.EnsureAsync(target, ct).ConfigureAwait(false);
        var stream = await _store.GetRequiredAsync(target, streamId, ct).ConfigureAwait(false);
        switch (stream.State)
        {
            case StreamState.Init:
                stream = await _store.SetStateAsync(target, streamId, StreamState.Copying, "copy started", ct).ConfigureAwait(false);
                break;
            case StreamState.Copying:
                break;
            case StreamState.Running or StreamState.Stopped when (await _store.GetCopyStateAsync(target, streamId, ct).ConfigureAwait(false)).All(s => s.Done):
                // A re-delivered chunk of a finished copy: nothing to do.
                return new ChunkResult(true, null, 0, stream.Position?.Encode() ?? string.Empty, stream.State);
            default:
                throw new TerminalReplicationException($"Stream {streamId} is {stream.State}{(stream.Message.Length > 0 ? $" ({stream.Message})" : "")}; the copy cannot continue.");
        }

        stream = await _store.TakeOwnershipAsync(target, streamId, owner, ct).ConfigureAwait(false);
        var copy = await _store.GetCopyStateAsync(target, streamId, ct).ConfigureAwait(false);
        var source = await connector.Resolver.SourceAsync(stream.SourceKeyspace, stream.SourceShard, stream.TabletTypes, [], ct).ConfigureAwait(false);
        await using var snapshot = await connector.OpenAsync(source, ct: ct).ConfigureAwait(false);
        var sqlMode = await snapshot.QueryScalarAsync("SELECT @@global.sql_mode", ct).ConfigureAwait(false) ?? string.Empty;
        await StreamApplier.PrepareSessionAsync(target, sqlMode, ct).ConfigureAwait(false);
        var applier = new StreamApplier(target, _store, stream, Math.Min(budget.StatementBytes, await MaxPacketAsync(target, ct).ConfigureAwait(false)))
        {
            CopyProgress = copy.ToDictionary(c => c.Table, c => new CopyProgress(c.LastPk, c.Done), StringComparer.OrdinalIgnoreCase),
        };

        // Keys dropped for a table that finished copying before a crash are re-added first.
        foreach (var done in copy.Where(c => c.Done && c.DeferredKeys is not null))
        {
            await RestoreDeferredKeysAsync(applier, stream, done, ct).ConfigureAwait(false);
        }

        var next = stream.Filter.Rules.Select(r => copy.FirstOrDefault(c => string.Equals(c.Table, r.Table, StringComparison.OrdinalIgnoreCase)))
            .FirstOrDefault(c => c is { Done: false });
        if (next is null)
        {
            return await FinishAsync(applier, stream, ct).ConfigureAwait(false);
        }

        var flavor = ServerFlavor.For(snapshot);

        // 1. Catch up the rows copied so far, to the source's current position.
        if (applier.Position is not null && copy.Any(c => c.LastPk is not null || c.Done))
        {
            applier.FaultArea = "copy.catchup";
            var current = await flavor.CurrentPositionAsync(snapshot, ct).ConfigureAwait(false);
            var stop = await replicator.RunAsync(applier, source, current, ct).ConfigureAwait(false);
            if (stop != ReplicatorStop.ReachedUntil)
            {
                return new ChunkResult(false, next.Table, 0, applier.Position?.Encode() ?? string.Empty, StreamState.Stopped);
            }
        }

        // 2. The snapshot. The tablet must have everything the stream already applied, or its snapshot would be older.
        var sourceSchema = await TableSchema.LoadAsync(snapshot, source.DbName, next.Table, ct).ConfigureAwait(false);
        var targetTable = await applier.TableAsync(next.Table, ct).ConfigureAwait(false);
        if (applier.Position is { } reached)
        {
            var timeout = TimeSpan.FromSeconds(60);
            if (!await flavor.WaitForPositionAsync(snapshot, reached, timeout, ct).ConfigureAwait(false))
            {
                var current = await flavor.CurrentPositionAsync(snapshot, ct).ConfigureAwait(false);
                throw new ReplicationException($"Source tablet {source} is at {current} and did not reach the stream position {reached} within {timeout.TotalSeconds} s.");
            }
        }

        // TIMESTAMP values must read as UTC, as the binlog carries them.
        await snapshot.ExecuteAsync("SET SESSION time_zone = '+00:00'", ct).ConfigureAwait(false);
        await snapshot.ExecuteAsync("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", ct).ConfigureAwait(false);
        var snapshotPosition = await flavor.StartConsistentSnapshotAsync(snapshot, ct).ConfigureAwait(false);
        try
        {
            // 3. Fast-forward the copied rows to the snapshot's position.
            if (applier.Position is not null && applier.Position != snapshotPosition)
            {
                applier.FaultArea = "copy.fastforward";
                var stop = await replicator.RunAsync(applier, source, snapshotPosition, ct).ConfigureAwait(false);
                if (stop != ReplicatorStop.ReachedUntil)
                {
                    return new ChunkResult(false, next.Table, 0, applier.Position?.Encode() ?? string.Empty, StreamState.Stopped);
                }

                if (applier.Position is null || !snapshotPosition.AtLeast(applier.Position))
                {
                    throw new ReplicationException($"Stream {streamId} went past the snapshot position {snapshotPosition} (at {applier.Position}); the chunk will be retried.");
                }
            }

            // 4. Copy the next primary-key range from the snapshot.
            if (next.LastPk is null && stream.Options.DeferSecondaryKeys && next.DeferredKeys is null)
            {
                await DropSecondaryKeysAsync(applier, stream, next.Table, ct).ConfigureAwait(false);
            }

            applier.FaultArea = "copy.chunk";
            var (rows, done) = await CopyRangeAsync(applier, snapshot, source, sourceSchema, targetTable, next, snapshotPosition, budget, ct).ConfigureAwait(false);
            await snapshot.ExecuteAsync("ROLLBACK", ct).ConfigureAwait(false);
            if (done)
            {
                var state = (await _store.GetCopyStateAsync(target, streamId, ct).ConfigureAwait(false)).First(c => string.Equals(c.Table, next.Table, StringComparison.OrdinalIgnoreCase));
                await RestoreDeferredKeysAsync(applier, stream, state, ct).ConfigureAwait(false);
                var remaining = (await _store.GetCopyStateAsync(target, streamId, ct).ConfigureAwait(false)).Any(c => !c.Done);
                if (!remaining)
                {
                    var finished = await FinishAsync(applier, stream, ct).ConfigureAwait(false);
                    return finished with { Table = next.Table, RowsCopied = rows };
                }
            }

            return new ChunkResult(false, next.Table, rows, applier.Position?.Encode() ?? string.Empty, StreamState.Copying);
        }
        finally
        {
            if (snapshot.IsUsable)
            {
                await StreamStore.RollbackQuietlyAsync(snapshot).ConfigureAwait(false);
            }

            await applier.RollbackAsync().ConfigureAwait(false);
        }
    }

    private async Task<(long Rows, bool Done)> CopyRangeAsync(
        StreamApplier applier, MySqlConnection snapshot, TabletEndpoint source, TableSchema sourceSchema, StreamApplier.TableContext target,
        CopyState state, GtidPosition snapshotPosition, CopyBudget budget, CancellationToken ct)
    {
        var schema = target.Schema;
        if (sourceSchema.PrimaryKey.Count != schema.PrimaryKey.Count ||
            sourceSchema.PrimaryKey.Select(i => sourceSchema.Columns[i].Name).Zip(schema.PrimaryKey.Select(i => schema.Columns[i].Name)).Any(p => !string.Equals(p.First, p.Second, StringComparison.OrdinalIgnoreCase)))
        {
            throw new TerminalReplicationException($"Source and target primary keys of {schema.Name} differ; the target table must have the source's primary key.");
        }

        var writable = schema.Writable.Select(i => schema.Columns[i].Name).ToList();
        var missing = writable.Where(n => sourceSchema.IndexOf(n) is null).ToList();
        if (missing.Count > 0)
        {
            throw new TerminalReplicationException($"Target columns {string.Join(", ", missing)} of {schema.Name} do not exist on the source table {source.DbName}.{schema.Name}.");
        }

        var sql = new ByteBuilder(1024);
        sql.Append("SELECT "u8);
        sql.Append(string.Join(", ", writable.Select(n => sourceSchema.Columns[sourceSchema.IndexOf(n)!.Value].ExactSelectExpression(SqlQuoter.Identifier(n)))));
        sql.Append(" FROM "u8);
        sql.Append(SqlQuoter.QualifiedName(source.DbName, sourceSchema.Name));
        sql.Append(" FORCE INDEX (PRIMARY)"u8);
        if (state.LastPk is not null)
        {
            sql.Append(" WHERE "u8);
            sourceSchema.AppendAfterPredicate(sql, state.LastPk, snapshot.Quoter);
        }

        sql.Append(" ORDER BY "u8);
        sql.Append(string.Join(", ", sourceSchema.PrimaryKey.Select(i => SqlQuoter.Identifier(sourceSchema.Columns[i].Name))));
        sql.Append(" LIMIT "u8);
        sql.Append(budget.MaxRows.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Writable position -> full-row position, and where each primary key column is among the selected columns.
        var pkInSelect = schema.PrimaryKey.Select(pk => schema.Writable.ToList().IndexOf(pk)).ToArray();
        // Bounded by the target's max_allowed_packet (a larger single row still goes alone, as the server allows).
        var statementBytes = Math.Max(4096, applier.StatementBudget);
        // The table context carries what the applier writes with too (e.g. --source-time-zone's CONVERT_TZ).
        var q = applier.Target.Quoter;
        var load = budget.LoadData && await LocalInfileAsync(applier.Target, ct).ConfigureAwait(false)
            ? new LoadDataBuilder(schema.Database, schema.Name, target.WritableNames, target.WritableStyles, statementBytes, target.ValueExpressions(q))
            : null;
        IRowPartBuilder parts = load is not null ? load : target.NewInsert(q, statementBytes);
        var pacer = new CopyStatementPacer(budget.StatementTime);
        async Task SendAsync(byte[] part, long rows)
        {
            var started = Stopwatch.GetTimestamp();
            await (load is not null
                ? applier.LoadInTransactionAsync(load.Statement, part, rows, ct)
                : applier.ExecuteInTransactionAsync(part, rows, ct)).ConfigureAwait(false);
            pacer.Record(rows, Stopwatch.GetElapsedTime(started));
        }

        var clock = Stopwatch.StartNew();
        var sinceCommit = Stopwatch.StartNew();
        long read = 0;
        long copied = 0;
        long bytes = 0;
        var pending = 0L; // rows in the statement being built
        var batchRows = 0L; // rows sent since the last commit
        var batchBytes = 0L;
        // The key of the row just read and of the one before (a finished part ends with the one before), copied into
        // reused buffers: nothing is allocated per row.
        var lastKey = new KeyCapture(pkInSelect);
        var previousKey = new KeyCapture(pkInSelect);
        var budgetHit = false;
        var full = new MySqlValue[schema.Columns.Count];

        // Every commit is a consistent state: the rows up to its lastpk as of the snapshot, at the snapshot's position.
        // So one snapshot serves many commits (as Vitess's copy phase does), and a crash loses at most one batch.
        async Task CommitBatchAsync(IReadOnlyList<MySqlValue>? pk, long rows, bool done)
        {
            await applier.ExecuteInTransactionAsync(Encode(
                $"UPDATE {_store.CopyStateTable} SET lastpk = {(pk is null ? "NULL" : q.String(StreamStore.EncodePk(pk)))}, done = {(done ? 1 : 0)}, " +
                $"rows_copied = rows_copied + {rows} WHERE vrepl_id = {applier.Stream.Id} AND table_name = {q.String(state.Table)}"), 0, ct).ConfigureAwait(false);
            FaultPoints.Hit("copy.chunk.rows-written");
            await applier.CommitAsync(snapshotPosition, 0, $"rows_copied = rows_copied + {rows}", ct).ConfigureAwait(false);
        }

        async Task InsertThenCommitAsync(byte[] statement, long statementRows, IReadOnlyList<MySqlValue>? pk, long rows)
        {
            await SendAsync(statement, statementRows).ConfigureAwait(false);
            await CommitBatchAsync(pk, rows, done: false).ConfigureAwait(false);
        }

        // Read and write overlap: while one multi-row INSERT (or a batch's commit) runs on the target, the next
        // statement is built from the snapshot. At most one is in flight, so their order is unchanged.
        var inflight = Task.CompletedTask;
        try
        {
            await using (var reader = await snapshot.QueryAsync(sql.Memory, ct).ConfigureAwait(false))
            {
                // The row's values point into the reader's buffer (valid until the next row): the builders copy them
                // into the statement at once, and only the key is kept, as owned copies.
                var row = new MySqlValue[reader.FieldCount];
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    read++;
                    for (var i = 0; i < row.Length; i++)
                    {
                        row[i] = reader.GetValue(i);
                        bytes += row[i].Span.Length;
                    }

                    (previousKey, lastKey) = (lastKey, previousKey);
                    lastKey.Take(row);
                    if (target.Router is not null)
                    {
                        for (var i = 0; i < row.Length; i++)
                        {
                            full[schema.Writable[i]] = row[i];
                        }

                        if (!target.Router.InRange(full))
                        {
                            continue;
                        }
                    }

                    copied++;
                    pending++;
                    if (parts.AddRow(row) is { } statement)
                    {
                        // The finished statement holds every row read before this one (this row opens the next).
                        var statementRows = pending - 1;
                        pending = 1;
                        await inflight.ConfigureAwait(false);
                        batchRows += statementRows;
                        batchBytes += statement.Length;
                        if (batchRows >= budget.CommitRows || batchBytes >= budget.CommitBytes || sinceCommit.Elapsed >= budget.CommitInterval)
                        {
                            inflight = InsertThenCommitAsync(statement, statementRows, previousKey.ToValues(), batchRows);
                            batchRows = 0;
                            batchBytes = 0;
                            sinceCommit.Restart();
                        }
                        else
                        {
                            inflight = SendAsync(statement, statementRows);
                        }
                    }

                    // This row is in the statement being built (pending >= 1), so a statement closed here ends with it.
                    if (batchRows + pending >= budget.CommitRows || sinceCommit.Elapsed >= budget.CommitInterval)
                    {
                        // The commit size or interval is reached inside a statement: it ends here, and the batch commits.
                        var closing = parts.Finish()!;
                        var closingRows = pending;
                        pending = 0;
                        await inflight.ConfigureAwait(false);
                        inflight = InsertThenCommitAsync(closing, closingRows, lastKey.ToValues(), batchRows + closingRows);
                        batchRows = 0;
                        batchBytes = 0;
                        sinceCommit.Restart();
                    }
                    else if (pending >= pacer.MaxRows)
                    {
                        // As many rows as the target takes in about StatementTime: the statement goes without a commit.
                        var closing = parts.Finish()!;
                        var closingRows = pending;
                        pending = 0;
                        await inflight.ConfigureAwait(false);
                        batchRows += closingRows;
                        batchBytes += closing.Length;
                        inflight = SendAsync(closing, closingRows);
                    }

                    if (bytes >= budget.MaxBytes || clock.Elapsed >= budget.MaxTime)
                    {
                        budgetHit = true;
                        break;
                    }
                }
            }

            await inflight.ConfigureAwait(false);
        }
        catch
        {
            // The reader failed (or the INSERT did): let the in-flight INSERT end before the caller rolls back.
            try
            {
                await inflight.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already failing with the first error; the transaction is rolled back by the caller.
            }

            throw;
        }

        if (parts.Finish() is { } last)
        {
            await SendAsync(last, pending).ConfigureAwait(false);
            batchRows += pending;
        }

        var done = !budgetHit && read < budget.MaxRows;
        await CommitBatchAsync(read > 0 ? lastKey.ToValues() : state.LastPk, batchRows, done).ConfigureAwait(false);
        return (copied, done);
    }

    private async Task<ChunkResult> FinishAsync(StreamApplier applier, StreamRecord stream, CancellationToken ct)
    {
        var state = stream.Options.StopAfterCopy ? StreamState.Stopped : StreamState.Running;
        var message = stream.Options.StopAfterCopy ? "copy done; stopped (stop_after_copy)" : "copy done";
        applier.FaultArea = "copy.finish";
        await applier.CommitAsync(applier.Position, 0, $"state = {applier.Target.Quoter.String(state.ToString())}, message = {applier.Target.Quoter.String(message)}", ct).ConfigureAwait(false);
        await _store.LogAsync(applier.Target, stream.Id, "State", state, message, ct).ConfigureAwait(false);
        return new ChunkResult(true, null, 0, applier.Position?.Encode() ?? string.Empty, state);
    }

    /// <summary>
    /// --defer-secondary-keys: records the table's secondary key definitions in copy_state (fenced), then drops them;
    /// they are re-added exactly as defined when the table is copied. Loading without them is much faster.
    /// </summary>
    private async Task DropSecondaryKeysAsync(StreamApplier applier, StreamRecord stream, string table, CancellationToken ct)
    {
        var target = applier.Target;
        var qualified = SqlQuoter.QualifiedName(stream.TargetDb, table);
        var create = await ShowCreateAsync(target, qualified, ct).ConfigureAwait(false);
        var keys = SecondaryKeys(create);
        var q = target.Quoter;
        await applier.ExecuteInTransactionAsync(Encode(
            $"UPDATE {_store.CopyStateTable} SET deferred_keys = {q.String(System.Text.Json.JsonSerializer.Serialize(keys.Select(k => k.Definition).ToArray()))} " +
            $"WHERE vrepl_id = {stream.Id} AND table_name = {q.String(table)}"), 0, ct).ConfigureAwait(false);
        await applier.CommitAsync(applier.Position, 0, ct: ct, faultArea: "copy.defer-keys").ConfigureAwait(false);
        if (keys.Count > 0)
        {
            await target.ExecuteAsync($"ALTER TABLE {qualified} " + string.Join(", ", keys.Select(k => "DROP KEY " + SqlQuoter.Identifier(k.Name))), ct).ConfigureAwait(false);
        }
    }

    private async Task RestoreDeferredKeysAsync(StreamApplier applier, StreamRecord stream, CopyState state, CancellationToken ct)
    {
        if (state.DeferredKeys is null)
        {
            return;
        }

        var target = applier.Target;
        var qualified = SqlQuoter.QualifiedName(stream.TargetDb, state.Table);
        var wanted = System.Text.Json.JsonSerializer.Deserialize<string[]>(state.DeferredKeys) ?? [];
        var present = SecondaryKeys(await ShowCreateAsync(target, qualified, ct).ConfigureAwait(false)).Select(k => k.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var missing = wanted.Where(d => !present.Contains(KeyName(d))).ToList();
        if (missing.Count > 0)
        {
            await target.ExecuteAsync($"ALTER TABLE {qualified} " + string.Join(", ", missing.Select(d => "ADD " + d)), ct).ConfigureAwait(false);
        }

        // Fenced like every other sidecar write of the copy: an owner that lost the stream must not change its state.
        await applier.ExecuteInTransactionAsync(Encode(
            $"UPDATE {_store.CopyStateTable} SET deferred_keys = NULL WHERE vrepl_id = {stream.Id} AND table_name = {target.Quoter.String(state.Table)}"), 0, ct).ConfigureAwait(false);
        await applier.CommitAsync(applier.Position, 0, ct: ct, faultArea: "copy.restore-keys").ConfigureAwait(false);
    }

    private static async Task<string> ShowCreateAsync(MySqlConnection c, string qualified, CancellationToken ct)
    {
        await using var r = await c.QueryAsync("SHOW CREATE TABLE " + qualified, ct).ConfigureAwait(false);
        string? create = null;
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            create = r.GetString(1);
        }

        return create ?? throw new ReplicationException($"SHOW CREATE TABLE {qualified} returned nothing.");
    }

    /// <summary>Non-primary, non-foreign, non-fulltext-special key lines of SHOW CREATE TABLE, as (name, definition).</summary>
    internal static IReadOnlyList<(string Name, string Definition)> SecondaryKeys(string createTable) =>
        createTable.Split('\n')
            .Select(l => l.Trim().TrimEnd(','))
            .Where(l => Regex.IsMatch(l, @"^(UNIQUE |FULLTEXT |SPATIAL )?KEY `", RegexOptions.CultureInvariant))
            .Select(l => (KeyName(l), l))
            .ToList();

    private static string KeyName(string definition)
    {
        var m = Regex.Match(definition, @"KEY `((?:[^`]|``)+)`", RegexOptions.CultureInvariant);
        return m.Success ? m.Groups[1].Value.Replace("``", "`", StringComparison.Ordinal) : definition;
    }

    /// <summary>Whether the target accepts LOAD DATA LOCAL INFILE (MariaDB's default; off by default on MySQL 8).</summary>
    private static async Task<bool> LocalInfileAsync(MySqlConnection c, CancellationToken ct) =>
        c.Options.AllowLocalInfile && await c.QueryScalarAsync("SELECT @@local_infile", ct).ConfigureAwait(false) is "1" or "ON";

    private static async Task<int> MaxPacketAsync(MySqlConnection c, CancellationToken ct)
    {
        var text = await c.QueryScalarAsync("SELECT @@max_allowed_packet", ct).ConfigureAwait(false);
        // Leave room for the protocol header and the statement's surroundings.
        return long.TryParse(text, out var bytes) ? (int)Math.Min(int.MaxValue, Math.Max(8192, bytes - 1024)) : 4 << 20;
    }

    private static ReadOnlyMemory<byte> Encode(string sql) => System.Text.Encoding.UTF8.GetBytes(sql);

    /// <summary>A row's primary key copied out of the reader's buffer into buffers reused from row to row.</summary>
    private sealed class KeyCapture(int[] keyColumns)
    {
        private readonly byte[][] _bytes = keyColumns.Select(_ => new byte[64]).ToArray();
        private readonly int[] _lengths = new int[keyColumns.Length];
        private readonly bool[] _nulls = new bool[keyColumns.Length];

        public void Take(MySqlValue[] row)
        {
            for (var k = 0; k < keyColumns.Length; k++)
            {
                var value = row[keyColumns[k]];
                _nulls[k] = value.IsNull;
                var span = value.Span;
                if (span.Length > _bytes[k].Length)
                {
                    _bytes[k] = new byte[Math.Max(span.Length, _bytes[k].Length * 2)];
                }

                span.CopyTo(_bytes[k]);
                _lengths[k] = span.Length;
            }
        }

        /// <summary>The key as owned values (made only when a batch commits).</summary>
        public IReadOnlyList<MySqlValue> ToValues() => Enumerable.Range(0, keyColumns.Length)
            .Select(k => _nulls[k] ? MySqlValue.Null : MySqlValue.FromBytes(_bytes[k].AsSpan(0, _lengths[k]).ToArray()))
            .ToArray();
    }
}
