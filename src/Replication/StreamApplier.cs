using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Binlog;
using Durable.MySql.Sql;

namespace Durable.Replication;

/// <summary>How far a table of a copying stream is: rows with a primary key beyond LastPk are not on the target yet.</summary>
public sealed record CopyProgress(IReadOnlyList<MySqlValue>? LastPk, bool Done)
{
    public bool NotStarted => LastPk is null && !Done;
}

/// <summary>
/// Applies row changes to the target inside fenced transactions: each transaction first locks the stream row and
/// checks the owner epoch and the position this owner last committed, and commits the new position with the rows.
/// A changed epoch (another owner took the stream) or position rolls the transaction back with <see cref="FencedOutException"/>.
/// </summary>
public sealed class StreamApplier
{
    private readonly MySqlConnection _target;
    private readonly StreamStore _store;
    private readonly Dictionary<string, TableContext> _tables = new(StringComparer.OrdinalIgnoreCase);
    private readonly ByteBuilder _sql = new(4096);
    private readonly int _statementBudget;
    private InsertStatementBuilder? _pendingInsert;
    private TableContext? _pendingInsertTable;

    // MariaDB: consecutive row changes go to the server as one anonymous compound statement (BEGIN NOT ATOMIC ...
    // END), many UPDATE/DELETE/INSERT statements per round trip, in their source order. A DELETE that finds no row
    // SIGNALs (keeping the divergence check); the signal names an entry of _blockDeletes, which holds the full message.
    private readonly bool _compound;
    private readonly int _blockBudget;
    private readonly ByteBuilder _block = new(64 * 1024);
    private readonly List<Func<string>> _blockDeletes = [];
    private int _blockStatements;
    private const string DeleteSignalPrefix = "durable: no row for delete #";

    public StreamApplier(MySqlConnection target, StreamStore store, StreamRecord stream, int statementBudget = 4 << 20, bool? compoundStatements = null)
    {
        _target = target;
        _store = store;
        Stream = stream;
        Position = stream.Position;
        _statementBudget = statementBudget;
        _compound = compoundStatements ?? target.IsMariaDb;
        _blockBudget = Math.Clamp(statementBudget, 4096, 1 << 20);
    }

    /// <summary>Round trips that carried row changes (compound blocks and single statements), for tests and profiling.</summary>
    public long RoundTrips { get; private set; }

    /// <summary>The stream as this owner took it (its epoch is the fence).</summary>
    public StreamRecord Stream { get; private set; }

    /// <summary>The position of the last commit of this owner.</summary>
    public GtidPosition? Position { get; private set; }

    public bool InTransaction { get; private set; }

    /// <summary>The fault-point prefix of commits (apply, copy.catchup, copy.fastforward), for crash tests.</summary>
    public string FaultArea { get; set; } = "apply";

    /// <summary>Row changes applied in the open transaction.</summary>
    public long PendingRows { get; private set; }

    /// <summary>Rows applied since this applier was made.</summary>
    public long TotalRows { get; private set; }

    /// <summary>Copy progress per table while the stream is copying; null when every table is copied.</summary>
    public IReadOnlyDictionary<string, CopyProgress>? CopyProgress { get; set; }

    public MySqlConnection Target => _target;

    /// <summary>Sets the session up as faithful copies need (see ARCHITECTURE "Apply sessions").</summary>
    public static async Task PrepareSessionAsync(MySqlConnection target, string sourceSqlMode, CancellationToken ct)
    {
        var modes = sourceSqlMode.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (!modes.Contains("NO_AUTO_VALUE_ON_ZERO", StringComparer.OrdinalIgnoreCase))
        {
            modes.Add("NO_AUTO_VALUE_ON_ZERO");
        }

        // STRICT modes would reject zero dates the source accepted; the source's own modes decide, plus NO_AUTO_VALUE_ON_ZERO
        // so a 0 in an AUTO_INCREMENT column stays 0.
        await target.ExecuteAsync(
            $"SET SESSION sql_mode = {target.Quoter.String(string.Join(",", modes))}, time_zone = '+00:00', foreign_key_checks = 0, innodb_lock_wait_timeout = 20", ct).ConfigureAwait(false);
        // Row applies are by primary key; READ COMMITTED avoids gap locks that would only add contention.
        await target.ExecuteAsync("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", ct).ConfigureAwait(false);
    }

    /// <summary>Opens the fenced transaction if none is open: lock the stream row, check epoch, position and state.</summary>
    public async Task BeginAsync(CancellationToken ct)
    {
        if (InTransaction)
        {
            return;
        }

        await _target.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        InTransaction = true;
        StreamRecord row;
        try
        {
            row = await _store.LockAsync(_target, Stream.Id, ct).ConfigureAwait(false);
        }
        catch
        {
            await RollbackAsync().ConfigureAwait(false);
            throw;
        }

        if (row.OwnerEpoch != Stream.OwnerEpoch)
        {
            await RollbackAsync().ConfigureAwait(false);
            throw new FencedOutException($"Stream {Stream.Id} was taken over: owner epoch is {row.OwnerEpoch}, this owner has {Stream.OwnerEpoch}.");
        }

        if (row.Position != Position)
        {
            await RollbackAsync().ConfigureAwait(false);
            throw new FencedOutException($"Stream {Stream.Id} is at position {row.Position?.Encode() ?? "(none)"}, not {Position?.Encode() ?? "(none)"} where this owner left it.");
        }

        if (row.State is not (StreamState.Running or StreamState.Copying))
        {
            await RollbackAsync().ConfigureAwait(false);
            throw new StreamStoppedException(row.State, row.Message);
        }

        Stream = row;
        PendingRows = 0;
    }

    /// <summary>Commits the open transaction (or a position-only one) with the new position.</summary>
    public async Task CommitAsync(GtidPosition? position, long transactionTimestamp, string? extraSet = null, CancellationToken ct = default, string? faultArea = null)
    {
        faultArea ??= FaultArea;
        await BeginAsync(ct).ConfigureAwait(false);
        await FlushAsync(ct).ConfigureAwait(false);
        var set = $"pos = {_target.Quoter.String(position?.Encode() ?? string.Empty)}, time_updated = {StreamStore.Now()}";
        if (transactionTimestamp > 0)
        {
            set += $", transaction_timestamp = {transactionTimestamp}";
        }

        if (extraSet is not null)
        {
            set += ", " + extraSet;
        }

        try
        {
            await _target.ExecuteAsync($"UPDATE {_store.StreamsTable} SET {set} WHERE id = {Stream.Id}", ct).ConfigureAwait(false);
            FaultPoints.Hit(faultArea + ".before-commit");
            await _target.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
        }
        catch
        {
            await RollbackAsync().ConfigureAwait(false);
            throw;
        }

        InTransaction = false;
        Position = position;
        TotalRows += PendingRows;
        PendingRows = 0;
        FaultPoints.Hit(faultArea + ".after-commit");
    }

    /// <summary>Records a heartbeat (the stream had applied everything the source had) in its own fenced transaction.</summary>
    public Task HeartbeatAsync(CancellationToken ct) =>
        CommitAsync(Position, 0, $"time_heartbeat = {StreamStore.Now()}", ct, "apply.heartbeat");

    public async Task RollbackAsync()
    {
        _pendingInsert = null;
        _pendingInsertTable = null;
        ClearBlock();
        PendingRows = 0;
        if (InTransaction)
        {
            InTransaction = false;
            await StreamStore.RollbackQuietlyAsync(_target).ConfigureAwait(false);
        }
    }

    /// <summary>Executes a statement inside the fenced transaction (used by the copy for its batched INSERTs).</summary>
    public async Task ExecuteInTransactionAsync(ReadOnlyMemory<byte> sql, long rows, CancellationToken ct)
    {
        await BeginAsync(ct).ConfigureAwait(false);
        await FlushAsync(ct).ConfigureAwait(false); // keep the order of earlier batched changes
        await _target.ExecuteAsync(sql, ct).ConfigureAwait(false);
        PendingRows += rows;
    }

    /// <summary>Drops cached table schemas (after a DDL changed them).</summary>
    public void ForgetTables() => _tables.Clear();

    public async Task<TableContext> TableAsync(string table, CancellationToken ct)
    {
        if (!_tables.TryGetValue(table, out var context))
        {
            var rule = Stream.Filter.Find(table) ?? throw new ArgumentException($"Table '{table}' is not in stream {Stream.Id}'s filter.");
            var schema = await TableSchema.LoadAsync(_target, Stream.TargetDb, rule.Table, ct).ConfigureAwait(false);
            if (schema.PrimaryKey.Count == 0)
            {
                throw new TerminalReplicationException($"Target table {Stream.TargetDb}.{rule.Table} has no primary key; rows cannot be applied by key.");
            }

            context = new TableContext(schema, rule.KeyRangeFilter is null ? null : new RowRouter(rule.KeyRangeFilter, schema));
            _tables[table] = context;
        }

        return context;
    }

    /// <summary>
    /// Applies one ROWS event: each change is filtered by the key range, and while the table is being copied by the
    /// copied range (compared in SQL with the column collations), then written by primary key.
    /// </summary>
    public async Task ApplyRowsAsync(RowsEvent rows, CancellationToken ct)
    {
        var table = await TableAsync(rows.Table.Table, ct).ConfigureAwait(false);
        var progress = CopyProgress is not null && CopyProgress.TryGetValue(table.Schema.Name, out var p) ? p : null;
        if (progress is { NotStarted: true })
        {
            return; // the copy will read the table's rows from a later snapshot
        }

        var map = table.MapFor(rows.Table);
        var changes = new List<(MySqlValue[]? Before, MySqlValue[]? After)>(rows.Rows.Count);
        foreach (var change in rows.Rows)
        {
            changes.Add((change.Before is null ? null : map.Align(change.Before), change.After is null ? null : map.Align(change.After)));
        }

        bool[]? beforeCopied = null;
        bool[]? afterCopied = null;
        if (progress is { Done: false, LastPk: { } lastPk })
        {
            (beforeCopied, afterCopied) = await CompareWithLastPkAsync(table.Schema, changes, lastPk, ct).ConfigureAwait(false);
        }

        await BeginAsync(ct).ConfigureAwait(false);
        for (var i = 0; i < changes.Count; i++)
        {
            var (before, after) = changes[i];
            var beforeIn = before is not null && (table.Router?.InRange(before) ?? true) && (beforeCopied?[i] ?? true);
            var afterIn = after is not null && (table.Router?.InRange(after) ?? true) && (afterCopied?[i] ?? true);
            switch (rows.Kind)
            {
                case RowsEventKind.Insert when afterIn:
                    await InsertAsync(table, after!, ct).ConfigureAwait(false);
                    break;
                case RowsEventKind.Delete when beforeIn:
                    await DeleteAsync(table, before!, ct).ConfigureAwait(false);
                    break;
                case RowsEventKind.Update when beforeIn && afterIn:
                    await UpdateAsync(table, before!, after!, ct).ConfigureAwait(false);
                    break;
                case RowsEventKind.Update when beforeIn:
                    // The row left this shard's key range (or the copied range): it is no longer ours.
                    await DeleteAsync(table, before!, ct).ConfigureAwait(false);
                    break;
                case RowsEventKind.Update when afterIn:
                    await InsertAsync(table, after!, ct).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>Sends any batched INSERT.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        await QueuePendingInsertAsync(ct).ConfigureAwait(false);
        await SendBlockAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Ends the batched INSERT and queues it behind the changes before it (order is the source's).</summary>
    private async Task QueuePendingInsertAsync(CancellationToken ct)
    {
        var statement = _pendingInsert?.Finish();
        _pendingInsert = null;
        _pendingInsertTable = null;
        if (statement is not null)
        {
            await QueueAsync(statement, null, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends a change now (no compound statements, or too big for a block) or appends it to the current block. A
    /// DELETE carries <paramref name="deleteMessage"/>: the divergence to report when it finds no row.
    /// </summary>
    private async Task QueueAsync(ReadOnlyMemory<byte> statement, Func<string>? deleteMessage, CancellationToken ct)
    {
        if (!_compound || statement.Length > _blockBudget / 2)
        {
            await SendBlockAsync(ct).ConfigureAwait(false);
            RoundTrips++;
            var ok = await _target.ExecuteAsync(statement, ct).ConfigureAwait(false);
            if (deleteMessage is not null && ok.AffectedRows == 0)
            {
                throw new TerminalReplicationException(deleteMessage());
            }

            return;
        }

        if (_block.Length + statement.Length + 160 > _blockBudget)
        {
            await SendBlockAsync(ct).ConfigureAwait(false);
        }

        if (_blockStatements == 0)
        {
            _block.Append("BEGIN NOT ATOMIC\n"u8);
        }

        _block.Append(statement.Span);
        _block.Append(";\n"u8);
        if (deleteMessage is not null)
        {
            _block.Append($"IF ROW_COUNT() = 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{DeleteSignalPrefix}{_blockDeletes.Count}'; END IF;\n");
            _blockDeletes.Add(deleteMessage);
        }

        _blockStatements++;
    }

    private async Task SendBlockAsync(CancellationToken ct)
    {
        if (_blockStatements == 0)
        {
            return;
        }

        _block.Append("END"u8);
        try
        {
            RoundTrips++;
            await _target.ExecuteAsync(_block.Memory, ct).ConfigureAwait(false);
        }
        catch (MySqlException e) when (e.ErrorNumber == 1644 /* ER_SIGNAL_EXCEPTION */ && e.Message.Contains(DeleteSignalPrefix, StringComparison.Ordinal))
        {
            var at = e.Message.IndexOf(DeleteSignalPrefix, StringComparison.Ordinal) + DeleteSignalPrefix.Length;
            var digits = new string(e.Message.Skip(at).TakeWhile(char.IsAsciiDigit).ToArray());
            var message = int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n < _blockDeletes.Count
                ? _blockDeletes[n]()
                : e.Message;
            throw new TerminalReplicationException(message, e);
        }
        finally
        {
            ClearBlock();
        }
    }

    private void ClearBlock()
    {
        _block.Clear();
        _blockDeletes.Clear();
        _blockStatements = 0;
    }

    private async Task InsertAsync(TableContext table, MySqlValue[] row, CancellationToken ct)
    {
        if (_pendingInsertTable != table)
        {
            await QueuePendingInsertAsync(ct).ConfigureAwait(false);
            _pendingInsert = table.NewInsert(_target.Quoter, Math.Min(_statementBudget, _compound ? _blockBudget / 2 : _statementBudget));
            _pendingInsertTable = table;
        }

        var values = new MySqlValue[table.Schema.Writable.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = row[table.Schema.Writable[i]];
        }

        if (Stream.Options.SourceTimeZone is not null)
        {
            // CONVERT_TZ cannot be expressed through the batched builder's literal styles; the row goes alone.
            await QueuePendingInsertAsync(ct).ConfigureAwait(false);
            _sql.Clear();
            _sql.Append("INSERT INTO "u8);
            _sql.Append(table.Schema.QualifiedName);
            _sql.Append(" ("u8);
            _sql.Append(string.Join(",", table.Schema.Writable.Select(i => SqlQuoter.Identifier(table.Schema.Columns[i].Name))));
            _sql.Append(") VALUES ("u8);
            for (var i = 0; i < values.Length; i++)
            {
                if (i > 0)
                {
                    _sql.Append(","u8);
                }

                table.Schema.Columns[table.Schema.Writable[i]].AppendValue(_sql, values[i], _target.Quoter, Stream.Options.SourceTimeZone);
            }

            _sql.Append(")"u8);
            await QueueAsync(_sql.Memory, null, ct).ConfigureAwait(false);
            PendingRows++;
            return;
        }

        if (_pendingInsert!.AddRow(values) is { } full)
        {
            await QueueAsync(full, null, ct).ConfigureAwait(false);
        }

        PendingRows++;
    }

    private async Task UpdateAsync(TableContext table, MySqlValue[] before, MySqlValue[] after, CancellationToken ct)
    {
        await QueuePendingInsertAsync(ct).ConfigureAwait(false);
        var schema = table.Schema;
        _sql.Clear();
        _sql.Append("UPDATE "u8);
        _sql.Append(schema.QualifiedName);
        _sql.Append(" SET "u8);
        var first = true;
        foreach (var i in schema.Writable)
        {
            if (!first)
            {
                _sql.Append(", "u8);
            }

            first = false;
            _sql.Append(SqlQuoter.Identifier(schema.Columns[i].Name));
            _sql.Append(" = "u8);
            schema.Columns[i].AppendValue(_sql, after[i], _target.Quoter, Stream.Options.SourceTimeZone);
        }

        AppendWherePk(schema, before);
        await ExecuteChangeAsync(schema, "UPDATE", before, ct).ConfigureAwait(false);
    }

    private async Task DeleteAsync(TableContext table, MySqlValue[] before, CancellationToken ct)
    {
        await QueuePendingInsertAsync(ct).ConfigureAwait(false);
        _sql.Clear();
        _sql.Append("DELETE FROM "u8);
        _sql.Append(table.Schema.QualifiedName);
        AppendWherePk(table.Schema, before);
        await ExecuteChangeAsync(table.Schema, "DELETE", before, ct).ConfigureAwait(false);
    }

    private async Task ExecuteChangeAsync(TableSchema schema, string what, MySqlValue[] before, CancellationToken ct)
    {
        // A delete of a row the target does not have means source and target diverged; applying on would hide it.
        Func<string>? divergence = what == "DELETE"
            ? () => $"{what} of {schema.Name} row with primary key ({string.Join(", ", schema.PrimaryKey.Select(i => before[i].ToString()))}) found no row on the target: source and target have diverged."
            : null;
        await QueueAsync(_sql.Memory, divergence, ct).ConfigureAwait(false);
        PendingRows++;
    }

    private void AppendWherePk(TableSchema schema, MySqlValue[] row)
    {
        _sql.Append(" WHERE "u8);
        for (var k = 0; k < schema.PrimaryKey.Count; k++)
        {
            if (k > 0)
            {
                _sql.Append(" AND "u8);
            }

            var column = schema.Columns[schema.PrimaryKey[k]];
            _sql.Append(SqlQuoter.Identifier(column.Name));
            _sql.Append(" = "u8);
            column.AppendValue(_sql, row[schema.PrimaryKey[k]], _target.Quoter, Stream.Options.SourceTimeZone);
        }
    }

    /// <summary>One query answers, for every image, whether its key is within the copied range (key &lt;= lastpk).</summary>
    private async Task<(bool[] Before, bool[] After)> CompareWithLastPkAsync(
        TableSchema schema, List<(MySqlValue[]? Before, MySqlValue[]? After)> changes, IReadOnlyList<MySqlValue> lastPk, CancellationToken ct)
    {
        var before = new bool[changes.Count];
        var after = new bool[changes.Count];
        var sql = new ByteBuilder(1024);
        sql.Append("SELECT "u8);
        var slots = new List<(int Row, bool IsAfter)>();
        for (var i = 0; i < changes.Count; i++)
        {
            foreach (var (image, isAfter) in new[] { (changes[i].Before, false), (changes[i].After, true) })
            {
                if (image is null)
                {
                    continue;
                }

                if (slots.Count > 0)
                {
                    sql.Append(", "u8);
                }

                sql.Append("("u8);
                AppendTuple(sql, schema, image);
                sql.Append(") <= ("u8);
                AppendTuple(sql, schema, lastPk, fromKey: true);
                sql.Append(")"u8);
                slots.Add((i, isAfter));
            }
        }

        if (slots.Count == 0)
        {
            return (before, after);
        }

        await using var r = await _target.QueryAsync(sql.Memory, ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false))
        {
            throw new ReplicationException("The lastpk comparison returned no row.");
        }

        for (var s = 0; s < slots.Count; s++)
        {
            var yes = r.GetString(s) == "1";
            if (slots[s].IsAfter)
            {
                after[slots[s].Row] = yes;
            }
            else
            {
                before[slots[s].Row] = yes;
            }
        }

        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
        }

        return (before, after);
    }

    private void AppendTuple(ByteBuilder sql, TableSchema schema, IReadOnlyList<MySqlValue> values, bool fromKey = false)
    {
        for (var k = 0; k < schema.PrimaryKey.Count; k++)
        {
            if (k > 0)
            {
                sql.Append(", "u8);
            }

            var column = schema.Columns[schema.PrimaryKey[k]];
            column.AppendComparable(sql, fromKey ? values[k] : values[schema.PrimaryKey[k]], _target.Quoter);
        }
    }

    /// <summary>A target table with its routing and the column maps of the source table versions seen in the binlog.</summary>
    public sealed class TableContext(TableSchema schema, RowRouter? router)
    {
        private readonly Dictionary<string, ColumnMap> _maps = new(StringComparer.Ordinal);

        public TableSchema Schema { get; } = schema;

        public RowRouter? Router { get; } = router;

        public InsertStatementBuilder NewInsert(SqlQuoter quoter, int budget) => new(
            InsertVerb.Insert, Schema.Database, Schema.Name, Schema.Writable.Select(i => Schema.Columns[i].Name).ToList(), budget, quoter,
            Schema.Writable.Select(i => Schema.Columns[i].Style).ToList());

        public ColumnMap MapFor(TableMap map)
        {
            if (!map.HasColumnNames)
            {
                throw new TerminalReplicationException(
                    $"The binlog has no column names for {map.Schema}.{map.Table}; set binlog_row_metadata=FULL on the source so rows can be matched to the target by name.");
            }

            var key = string.Join("\u0001", map.Columns.Select(c => c.Name));
            if (!_maps.TryGetValue(key, out var columnMap))
            {
                var indexes = new int[Schema.Columns.Count];
                Array.Fill(indexes, -1);
                foreach (var column in map.Columns)
                {
                    var target = Schema.IndexOf(column.Name!);
                    if (target is null)
                    {
                        throw new TerminalReplicationException(
                            $"Column '{column.Name}' of source table {map.Schema}.{map.Table} does not exist on target {Schema.Database}.{Schema.Name}.");
                    }

                    indexes[target.Value] = column.Index;
                }

                foreach (var i in Schema.Writable.Concat(Schema.PrimaryKey))
                {
                    if (indexes[i] < 0)
                    {
                        throw new TerminalReplicationException(
                            $"Target column {Schema.Name}.{Schema.Columns[i].Name} has no source column in the binlog of {map.Schema}.{map.Table}.");
                    }
                }

                columnMap = new ColumnMap(indexes);
                _maps[key] = columnMap;
            }

            return columnMap;
        }
    }

    /// <summary>Where each target column's value is in a binlog row image.</summary>
    public sealed class ColumnMap(int[] sourceIndexes)
    {
        public MySqlValue[] Align(MySqlValue[] image)
        {
            var row = new MySqlValue[sourceIndexes.Length];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = sourceIndexes[i] >= 0 ? image[sourceIndexes[i]] : MySqlValue.Null;
            }

            return row;
        }
    }
}

/// <summary>The stream is no longer Running/Copying (an operator or activity stopped, froze or errored it).</summary>
public sealed class StreamStoppedException(StreamState state, string message)
    : ReplicationException($"The stream is {state}{(string.IsNullOrEmpty(message) ? "" : ": " + message)}.")
{
    public StreamState State { get; } = state;
}
