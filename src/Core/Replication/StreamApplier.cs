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

    /// <summary>Largest statement (and LOAD DATA packet) sent: the copy budget's, within the target's max_allowed_packet.</summary>
    public int StatementBudget => _statementBudget;
    private InsertStatementBuilder? _pendingInsert;
    private TableContext? _pendingInsertTable;

    // MariaDB: consecutive row changes go to the server as one anonymous compound statement (BEGIN NOT ATOMIC ...
    // END), many UPDATE/DELETE/INSERT statements per round trip, in their source order. A DELETE that finds no row
    // SIGNALs (keeping the divergence check); the signal names an entry of _blockDeletes, which holds the full message.
    //
    // Blocks are pipelined: a full block is sent and, while the target executes it, the next one is built from the
    // following binlog events (two buffers, at most one block in flight, so the order of changes is the source's).
    // Everything else this applier sends on the connection (BEGIN, the lastpk query, the position update, COMMIT,
    // rollback) first waits for the block in flight, so its errors surface before the transaction can commit.
    private readonly bool _compound;
    private readonly int _blockBudget;
    private ByteBuilder _block = new(64 * 1024);
    private List<Func<Task<string>>> _blockDeletes = [];
    private ByteBuilder _spareBlock = new(64 * 1024);
    private List<Func<Task<string>>> _spareDeletes = [];

    // MariaDB: row changes are compacted to their net effect per primary key before they are written (see
    // KeyedChanges): the rows the source had before the changes are checked to be there and deleted with one
    // statement, the rows it has after them inserted with multi-row INSERTs. A few statements per table per group
    // instead of one per row change; that per-statement work was most of the target's apply time. Groups are bounded
    // (GroupBudget bytes of keys and rows) so memory stays flat in transaction size.
    private readonly List<TableContext> _groupTables = [];
    private long _groupBytes;
    private readonly int _groupBudget;
    private Task? _inFlight;
    private int _blockStatements;
    private const string DeleteSignalPrefix = "durable: no row for delete #";
    private static readonly byte[] DeleteSignalHead = System.Text.Encoding.UTF8.GetBytes($"IF ROW_COUNT() = 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{DeleteSignalPrefix}");

    // The column map of the last table map seen: every transaction repeats its table map, usually for the same table.
    private TableMap? _lastTableMap;
    private TableContext? _lastTableMapContext;
    private ColumnMap? _lastColumnMap;

    public StreamApplier(MySqlConnection target, StreamStore store, StreamRecord stream, int statementBudget = 4 << 20, bool? compoundStatements = null)
    {
        _target = target;
        _store = store;
        Stream = stream;
        Position = stream.Position;
        _statementBudget = statementBudget;
        _compound = compoundStatements ?? target.IsMariaDb;
        // Small enough that a batch (one target transaction) spans several blocks, so building overlaps executing;
        // large enough that a round trip carries hundreds of row changes.
        _blockBudget = Math.Clamp(statementBudget, 4096, 256 << 10);
        _groupBudget = _blockBudget / 4;
    }

    /// <summary>Round trips that carried row changes (compound blocks and single statements), for tests and profiling.</summary>
    public long RoundTrips { get; private set; }

    /// <summary>Time per apply phase (shared with the replicator that feeds this applier).</summary>
    public ApplyProfile Profile { get; set; } = new();

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

        var started = ApplyProfile.Now();
        try
        {
            await BeginFencedAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            Profile.BeginTicks += ApplyProfile.Since(started);
        }
    }

    private async Task BeginFencedAsync(CancellationToken ct)
    {
        await AwaitInFlightAsync().ConfigureAwait(false);
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

        var started = ApplyProfile.Now();
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
        finally
        {
            Profile.CommitTicks += ApplyProfile.Since(started);
        }

        Profile.Commits++;

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
        ClearGroups();
        PendingRows = 0;
        try
        {
            await AwaitInFlightAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The block in flight failed too; the transaction is rolled back below either way, and the caller is
            // already handling the error that made it roll back.
        }

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

    /// <summary>
    /// Loads a LOAD DATA LOCAL INFILE part inside the fenced transaction (the copy's fast path). The server treats LOCAL
    /// rows as IGNORE does (a duplicate key or a value that does not fit is a warning, and the row is skipped or cut),
    /// so anything but exactly <paramref name="rows"/> rows written without a warning fails the part, and the caller
    /// rolls the transaction back: a load never silently differs from what an INSERT would have written.
    /// </summary>
    public async Task LoadInTransactionAsync(ReadOnlyMemory<byte> statement, byte[] content, long rows, CancellationToken ct)
    {
        await BeginAsync(ct).ConfigureAwait(false);
        await FlushAsync(ct).ConfigureAwait(false);
        var ok = await _target.LoadLocalDataAsync(statement, LoadDataBuilder.FileName, content, _statementBudget, ct).ConfigureAwait(false);
        if (ok.Warnings > 0 || (long)ok.AffectedRows != rows)
        {
            var warnings = new List<string>();
            await using (var r = await _target.QueryAsync("SHOW WARNINGS LIMIT 5", ct).ConfigureAwait(false))
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    warnings.Add($"{r.GetString(0)} {r.GetString(1)}: {r.GetString(2)}");
                }
            }

            throw new TerminalReplicationException(
                $"Stream {Stream.Id}: loading {rows} copied rows wrote {ok.AffectedRows} with {ok.Warnings} warnings ({ok.Info}); " +
                $"the chunk was rolled back. {(warnings.Count > 0 ? "First warnings: " + string.Join("; ", warnings) : "")}".TrimEnd());
        }

        PendingRows += rows;
    }

    /// <summary>Drops cached table schemas (after a DDL changed them).</summary>
    public void ForgetTables()
    {
        _tables.Clear();
        (_lastTableMap, _lastTableMapContext, _lastColumnMap) = (null, null, null);
    }

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

            context = new TableContext(schema, rule.KeyRangeFilter is null ? null : new RowRouter(rule.KeyRangeFilter, schema), Stream.Options.SourceTimeZone);
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
        // SQL build time is what this call spends outside round trips and the fenced begin.
        var started = ApplyProfile.Now();
        var waited = Profile.WaitTicks + Profile.BeginTicks;
        try
        {
            await ApplyRowsCoreAsync(rows, ct).ConfigureAwait(false);
        }
        finally
        {
            Profile.BuildTicks += ApplyProfile.Since(started) - (Profile.WaitTicks + Profile.BeginTicks - waited);
            Profile.RowEvents++;
            Profile.Rows += rows.Rows.Count;
        }
    }

    private async Task ApplyRowsCoreAsync(RowsEvent rows, CancellationToken ct)
    {
        var table = await TableAsync(rows.Table.Table, ct).ConfigureAwait(false);
        var progress = CopyProgress is not null && CopyProgress.TryGetValue(table.Schema.Name, out var p) ? p : null;
        if (progress is { NotStarted: true })
        {
            return; // the copy will read the table's rows from a later snapshot
        }

        ColumnMap map;
        if (ReferenceEquals(rows.Table, _lastTableMap) && ReferenceEquals(table, _lastTableMapContext))
        {
            map = _lastColumnMap!;
        }
        else
        {
            map = table.MapFor(rows.Table);
            (_lastTableMap, _lastTableMapContext, _lastColumnMap) = (rows.Table, table, map);
        }

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
            if (_compound)
            {
                var (b, a) = rows.Kind switch
                {
                    RowsEventKind.Insert => (null, afterIn ? after : null),
                    RowsEventKind.Delete => (beforeIn ? before : null, null),
                    _ => (beforeIn ? before : null, afterIn ? after : null),
                };
                if (b is not null || a is not null)
                {
                    Track(table, b, a);
                    PendingRows++;
                    if (_groupBytes >= _groupBudget)
                    {
                        await EmitGroupsAsync(ct).ConfigureAwait(false);
                    }
                }

                continue;
            }

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

    /// <summary>Sends every change not sent yet and waits until the target has run them.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        await EmitGroupsAsync(ct).ConfigureAwait(false);
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
    private Task QueueAsync(ReadOnlyMemory<byte> statement, Func<string>? deleteMessage, CancellationToken ct) =>
        QueueAsync(statement, deleteMessage is null ? null : () => Task.FromResult(deleteMessage()), checkIsInStatement: false, ct);

    /// <summary>
    /// As above; with <paramref name="checkIsInStatement"/> the statement is the head of a check, "IF ... THEN SIGNAL
    /// ... MESSAGE_TEXT = '&lt;DeleteSignalPrefix&gt;", which this method ends with the index of
    /// <paramref name="deleteMessage"/> in the block it lands in (known only once it is placed) and "'; END IF".
    /// </summary>
    private async Task QueueAsync(ReadOnlyMemory<byte> statement, Func<Task<string>>? deleteMessage, bool checkIsInStatement, CancellationToken ct)
    {
        if (checkIsInStatement && (!_compound || statement.Length > _blockBudget / 2))
        {
            // Alone (a top-level IF, which MariaDB runs outside stored programs too): its SIGNAL is message 0 of its own.
            await SendBlockAsync(ct).ConfigureAwait(false);
            // In a compound statement of its own: the check may follow the statement it checks ("DELETE ...; IF ...").
            var alone = new ByteBuilder(statement.Length + 48);
            alone.Append("BEGIN NOT ATOMIC\n"u8);
            alone.Append(statement.Span);
            alone.Append("0'; END IF;\nEND"u8);
            List<Func<Task<string>>> messages = [deleteMessage!];
            RoundTrips++;
            Profile.RoundTrips++;
            _inFlight = ExecuteBlockAsync(alone, messages, ct);
            await AwaitInFlightAsync().ConfigureAwait(false);
            return;
        }

        if (!_compound || statement.Length > _blockBudget / 2)
        {
            await SendBlockAsync(ct).ConfigureAwait(false);
            RoundTrips++;
            Profile.RoundTrips++;
            Profile.BytesSent += statement.Length;
            var started = ApplyProfile.Now();
            Durable.MySql.Protocol.OkPacket ok;
            try
            {
                ok = await _target.ExecuteAsync(statement, ct).ConfigureAwait(false);
            }
            finally
            {
                var took = ApplyProfile.Since(started);
                Profile.SendTicks += took;
                Profile.WaitTicks += took;
            }

            if (deleteMessage is not null && !checkIsInStatement && ok.AffectedRows == 0)
            {
                throw new TerminalReplicationException(await deleteMessage().ConfigureAwait(false));
            }

            return;
        }

        if (_block.Length + statement.Length + 160 > _blockBudget)
        {
            await SendBlockAsync(ct, wait: false).ConfigureAwait(false);
        }

        if (_blockStatements == 0)
        {
            _block.Append("BEGIN NOT ATOMIC\n"u8);
        }

        _block.Append(statement.Span);
        Span<byte> digits = stackalloc byte[12];
        if (deleteMessage is not null && checkIsInStatement)
        {
            _blockDeletes.Count.TryFormat(digits, out var written, default, System.Globalization.CultureInfo.InvariantCulture);
            _block.Append(digits[..written]);
            _block.Append("'; END IF;\n"u8);
            _blockDeletes.Add(deleteMessage);
        }
        else if (deleteMessage is not null)
        {
            _block.Append(";\n"u8);
            _block.Append(DeleteSignalHead);
            _blockDeletes.Count.TryFormat(digits, out var written, default, System.Globalization.CultureInfo.InvariantCulture);
            _block.Append(digits[..written]);
            _block.Append("'; END IF;\n"u8);
            _blockDeletes.Add(deleteMessage);
        }
        else
        {
            _block.Append(";\n"u8);
        }

        _blockStatements++;
    }

    /// <summary>
    /// Ends the current block and sends it. With <paramref name="wait"/> false the block stays in flight while the
    /// caller builds the next one (the previous block in flight is awaited first: at most one at a time).
    /// </summary>
    private async Task SendBlockAsync(CancellationToken ct, bool wait = true)
    {
        if (_blockStatements == 0)
        {
            if (wait)
            {
                await AwaitInFlightAsync().ConfigureAwait(false);
            }

            return;
        }

        _block.Append("END"u8);
        await AwaitInFlightAsync().ConfigureAwait(false);
        var sent = _block;
        var sentDeletes = _blockDeletes;
        (_block, _blockDeletes) = (_spareBlock, _spareDeletes);
        (_spareBlock, _spareDeletes) = (sent, sentDeletes);
        _blockStatements = 0;
        RoundTrips++;
        Profile.RoundTrips++;
        Profile.BytesSent += sent.Length;
        _inFlight = ExecuteBlockAsync(sent, sentDeletes, ct);
        if (wait)
        {
            await AwaitInFlightAsync().ConfigureAwait(false);
        }
    }

    private async Task ExecuteBlockAsync(ByteBuilder block, List<Func<Task<string>>> deletes, CancellationToken ct)
    {
        var started = ApplyProfile.Now();
        try
        {
            await _target.ExecuteAsync(block.Memory, ct).ConfigureAwait(false);
        }
        catch (MySqlException e) when (e.ErrorNumber == 1644 /* ER_SIGNAL_EXCEPTION */ && e.Message.Contains(DeleteSignalPrefix, StringComparison.Ordinal))
        {
            var at = e.Message.IndexOf(DeleteSignalPrefix, StringComparison.Ordinal) + DeleteSignalPrefix.Length;
            var digits = new string(e.Message.Skip(at).TakeWhile(char.IsAsciiDigit).ToArray());
            // The block stopped at the SIGNAL and the connection is free: a message may look at the target (which
            // rows of a group were missing) before the caller rolls the transaction back.
            var message = int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n < deletes.Count
                ? await deletes[n]().ConfigureAwait(false)
                : e.Message;
            throw new TerminalReplicationException(message, e);
        }
        finally
        {
            Profile.SendTicks += ApplyProfile.Since(started);
            block.Clear();
            deletes.Clear();
        }
    }

    /// <summary>Waits for the block in flight, if any (its failure is thrown here).</summary>
    private async Task AwaitInFlightAsync()
    {
        if (_inFlight is not { } inFlight)
        {
            return;
        }

        _inFlight = null;
        var started = ApplyProfile.Now();
        try
        {
            await inFlight.ConfigureAwait(false);
        }
        finally
        {
            Profile.WaitTicks += ApplyProfile.Since(started);
        }
    }

    /// <summary>
    /// Folds one row change into its table's group: <paramref name="before"/> is the row the change removes (a DELETE,
    /// an UPDATE's old row), <paramref name="after"/> the row it leaves (an INSERT, an UPDATE's new row). A change
    /// that the target could not apply one by one either (a second insert of a key, a change of a row already gone)
    /// is the divergence it would have been.
    /// </summary>
    private void Track(TableContext table, MySqlValue[]? before, MySqlValue[]? after)
    {
        var group = table.Changes;
        if (group is null)
        {
            group = table.Changes = new KeyedChanges();
            _groupTables.Add(table);
        }

        var schema = table.Schema;
        var op = before is null ? "INSERT" : after is null ? "DELETE" : "UPDATE";
        if (before is not null)
        {
            var key = KeyedChanges.Key(schema, before);
            var sameKey = after is not null && KeyedChanges.Key(schema, after).AsSpan().SequenceEqual(key);
            if (!group.ByKey.TryGetValue(key, out var entry))
            {
                entry = new KeyedChanges.Entry(before, Existed: true, op);
                group.ByKey.Add(key, entry);
                group.Order.Add(entry);
                _groupBytes += key.Length + 64;
            }
            else if (entry.Final is null)
            {
                throw new TerminalReplicationException($"{op} of {schema.Name} row with primary key ({KeyedChanges.Describe(schema, before)}) found no row on the target: source and target have diverged.");
            }

            entry.Final = null;
            if (sameKey)
            {
                entry.Final = after;
                _groupBytes += KeyedChanges.Size(after!);
                return;
            }
        }

        if (after is not null)
        {
            var key = KeyedChanges.Key(schema, after);
            if (!group.ByKey.TryGetValue(key, out var entry))
            {
                entry = new KeyedChanges.Entry(after, Existed: false, op);
                group.ByKey.Add(key, entry);
                group.Order.Add(entry);
                _groupBytes += key.Length + 64;
            }
            else if (entry.Final is not null)
            {
                throw new TerminalReplicationException($"{op} of {schema.Name} row with primary key ({KeyedChanges.Describe(schema, after)}) would duplicate a row the target already has: source and target have diverged.");
            }

            entry.Final = after;
            _groupBytes += KeyedChanges.Size(after);
        }
    }

    /// <summary>
    /// Writes every table group as: a check that the rows expected before the changes are all there (a SIGNAL naming
    /// the group otherwise), one DELETE of them, then multi-row INSERTs of the rows left after the changes. Deleting
    /// every touched row before inserting any keeps unique keys satisfied whatever order the source changed them in
    /// (the rows present at each step are a subset of the source's state at the group's end).
    /// A table whose only unique key is its primary key cannot have such swaps: there the DELETE takes only the rows
    /// the group leaves gone, and rows that existed and stay are written as INSERT ... ON DUPLICATE KEY UPDATE, which
    /// the server does as an update in place (clustered record and only the secondary entries whose columns changed)
    /// instead of a delete plus a re-insert of the record and every index entry. The check before still proves each of
    /// them is there, so the upsert never inserts; rows new to the group stay plain INSERTs, so a key the target
    /// already holds is still the duplicate-key error it was.
    /// </summary>
    private async Task EmitGroupsAsync(CancellationToken ct)
    {
        if (_groupTables.Count == 0)
        {
            return;
        }

        var tables = _groupTables.ToArray();
        _groupTables.Clear();
        _groupBytes = 0;
        foreach (var table in tables)
        {
            var group = table.Changes!;
            table.Changes = null;
            var schema = table.Schema;
            var existed = group.Order.Where(e => e.Existed).ToList();
            // A stream with a source time zone keeps the delete-all path (the in-place path was never checked with
            // converted values).
            if (!schema.HasSecondaryUniqueKey && Stream.Options.SourceTimeZone is null)
            {
                await EmitInPlaceAsync(table, group, existed, ct).ConfigureAwait(false);
                continue;
            }

            if (existed.Count > 0)
            {
                _sql.Clear();
                _sql.Append("IF (SELECT COUNT(*) FROM "u8);
                _sql.Append(schema.QualifiedNameBytes);
                AppendKeys(schema, existed);
                _sql.Append(")"u8);
                AppendMissingRowSignal(existed.Count);
                await QueueAsync(_sql.Memory, () => MissingRowMessageAsync(schema, existed), checkIsInStatement: true, ct).ConfigureAwait(false);
                _sql.Clear();
                _sql.Append("DELETE FROM "u8);
                _sql.Append(schema.QualifiedNameBytes);
                AppendKeys(schema, existed);
                await QueueAsync(_sql.Memory, null, checkIsInStatement: false, ct).ConfigureAwait(false);
            }

            InsertStatementBuilder? insert = null;
            foreach (var entry in group.Order)
            {
                if (entry.Final is not { } row)
                {
                    continue;
                }

                insert ??= table.Insert(_target.Quoter, _blockBudget / 2);
                if (insert.AddRow(Writable(schema, row)) is { } full)
                {
                    await QueueAsync(full, null, ct).ConfigureAwait(false);
                }
            }

            if (insert?.Finish() is { } last)
            {
                await QueueAsync(last, null, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A group of a table whose only unique key is its primary key (no unique-value swaps possible): rows the group
    /// leaves gone are deleted, rows that existed and stay are upserted in place, new rows inserted. The divergence
    /// check rides on the writes instead of a separate existence query (which cost about a fifth of the target's
    /// time): the DELETE must report exactly as many rows as it names, and the upsert counts in a session variable the
    /// rows it found already there (its update clause runs once per existing row, changed or not) and must count every
    /// one; a missing row would have been inserted. On either SIGNAL the message first rolls back to the savepoint
    /// taken before the group, so it names the missing row from what the target had, and the caller then rolls the
    /// whole batch back. New rows stay plain INSERTs, so a key the target already holds is the duplicate-key error.
    /// </summary>
    private async Task EmitInPlaceAsync(TableContext table, KeyedChanges group, List<KeyedChanges.Entry> existed, CancellationToken ct)
    {
        var schema = table.Schema;
        Func<Task<string>> missing = () => MissingRowMessageAsync(schema, existed, rollBackGroup: true);
        var gone = existed.Where(e => e.Final is null).ToList();
        if (existed.Count > 0)
        {
            await QueueAsync(SavepointGroup, null, ct).ConfigureAwait(false);
        }

        if (gone.Count > 0)
        {
            // One statement with its check: ROW_COUNT() must see this DELETE, so a block boundary cannot fall between.
            _sql.Clear();
            _sql.Append("DELETE FROM "u8);
            _sql.Append(schema.QualifiedNameBytes);
            AppendKeys(schema, gone);
            _sql.Append(";\nIF ROW_COUNT()"u8);
            AppendMissingRowSignal(gone.Count);
            await QueueAsync(_sql.Memory, missing, checkIsInStatement: true, ct).ConfigureAwait(false);
        }

        var stay = existed.Count - gone.Count;
        if (stay > 0)
        {
            await QueueAsync(ResetFound, null, ct).ConfigureAwait(false);
            var upsert = table.Upsert(_target.Quoter, _blockBudget / 2);
            foreach (var entry in existed)
            {
                if (entry.Final is { } row && upsert.AddRow(Writable(schema, row)) is { } full)
                {
                    await QueueAsync(full, null, ct).ConfigureAwait(false);
                }
            }

            if (upsert.Finish() is { } last)
            {
                await QueueAsync(last, null, ct).ConfigureAwait(false);
            }

            _sql.Clear();
            _sql.Append("IF @durable_found"u8);
            AppendMissingRowSignal(stay);
            await QueueAsync(_sql.Memory, missing, checkIsInStatement: true, ct).ConfigureAwait(false);
        }

        InsertStatementBuilder? insert = null;
        foreach (var entry in group.Order)
        {
            if (!entry.Existed && entry.Final is { } row)
            {
                insert ??= table.Insert(_target.Quoter, _blockBudget / 2);
                if (insert.AddRow(Writable(schema, row)) is { } full)
                {
                    await QueueAsync(full, null, ct).ConfigureAwait(false);
                }
            }
        }

        if (insert?.Finish() is { } lastInsert)
        {
            await QueueAsync(lastInsert, null, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Appends " &lt;&gt; expected THEN SIGNAL ... MESSAGE_TEXT = '&lt;prefix&gt;" after the counted expression of a divergence
    /// check; the caller's queued statement ends the message and the IF.
    /// </summary>
    private void AppendMissingRowSignal(int expected)
    {
        _sql.Append(" <> "u8);
        _sql.Append(expected.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _sql.Append(" THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '"u8);
        _sql.Append(DeleteSignalPrefix);
    }

    private static readonly byte[] SavepointGroup = "SAVEPOINT durable_group"u8.ToArray();
    private static readonly byte[] ResetFound = "SET @durable_found = 0"u8.ToArray();

    private static MySqlValue[] Writable(TableSchema schema, MySqlValue[] row)
    {
        var values = new MySqlValue[schema.Writable.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = row[schema.Writable[i]];
        }

        return values;
    }

    /// <summary>" WHERE pk IN (...)", or for a composite key "(a = x AND b = y) OR ..." (both are ranges on the key).</summary>
    private void AppendKeys(TableSchema schema, List<KeyedChanges.Entry> entries)
    {
        _sql.Append(" WHERE "u8);
        var key = schema.PrimaryKey;
        if (key.Count == 1)
        {
            _sql.Append(schema.QuotedNames[key[0]]);
            _sql.Append(" IN ("u8);
            for (var e = 0; e < entries.Count; e++)
            {
                if (e > 0)
                {
                    _sql.Append(","u8);
                }

                schema.Columns[key[0]].AppendValue(_sql, entries[e].KeyImage[key[0]], _target.Quoter, Stream.Options.SourceTimeZone);
            }

            _sql.Append(")"u8);
            return;
        }

        for (var e = 0; e < entries.Count; e++)
        {
            _sql.Append(e > 0 ? " OR ("u8 : "("u8);
            for (var k = 0; k < key.Count; k++)
            {
                if (k > 0)
                {
                    _sql.Append(" AND "u8);
                }

                _sql.Append(schema.QuotedNames[key[k]]);
                _sql.Append(" = "u8);
                schema.Columns[key[k]].AppendValue(_sql, entries[e].KeyImage[key[k]], _target.Quoter, Stream.Options.SourceTimeZone);
            }

            _sql.Append(")"u8);
        }
    }

    /// <summary>Which expected row was missing (the group's check failed; its DELETE has not run), in the source's order.</summary>
    private async Task<string> MissingRowMessageAsync(TableSchema schema, List<KeyedChanges.Entry> existed, bool rollBackGroup = false)
    {
        var present = new HashSet<byte[]>(KeyedChanges.KeyComparer.Instance);
        try
        {
            if (rollBackGroup)
            {
                // The group's writes ran before its check failed (an upsert may have inserted the missing row): look
                // at the target as it was before the group. The caller rolls the whole transaction back afterwards.
                await _target.ExecuteAsync("ROLLBACK TO SAVEPOINT durable_group").ConfigureAwait(false);
            }

            _sql.Clear();
            _sql.Append("SELECT "u8);
            for (var k = 0; k < schema.PrimaryKey.Count; k++)
            {
                if (k > 0)
                {
                    _sql.Append(", "u8);
                }

                _sql.Append(schema.QuotedNames[schema.PrimaryKey[k]]);
            }

            _sql.Append(" FROM "u8);
            _sql.Append(schema.QualifiedNameBytes);
            AppendKeys(schema, existed);
            await using var r = await _target.QueryAsync(_sql.Memory).ConfigureAwait(false);
            while (await r.ReadAsync().ConfigureAwait(false))
            {
                var row = new MySqlValue[schema.Columns.Count];
                for (var k = 0; k < schema.PrimaryKey.Count; k++)
                {
                    row[schema.PrimaryKey[k]] = r.GetRow()[k].ToOwned();
                }

                present.Add(KeyedChanges.Key(schema, row));
            }
        }
        catch (MySqlException)
        {
            // Only the message gets less precise; the divergence stands.
        }

        var missing = existed.FirstOrDefault(e => !present.Contains(KeyedChanges.Key(schema, e.KeyImage)));
        return missing is null
            ? $"Rows of {schema.Name} that the source changed were not all on the target: source and target have diverged."
            : $"{missing.FirstOp} of {schema.Name} row with primary key ({KeyedChanges.Describe(schema, missing.KeyImage)}) found no row on the target: source and target have diverged.";
    }

    private void ClearGroups()
    {
        foreach (var table in _groupTables)
        {
            table.Changes = null;
        }

        _groupTables.Clear();
        _groupBytes = 0;
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
        _sql.Append(schema.QualifiedNameBytes);
        _sql.Append(" SET "u8);
        // Every column, changed or not: a column left out of SET would get ON UPDATE CURRENT_TIMESTAMP from the target.
        var first = true;
        foreach (var i in schema.Writable)
        {
            if (!first)
            {
                _sql.Append(", "u8);
            }

            first = false;
            _sql.Append(schema.QuotedNames[i]);
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
        _sql.Append(table.Schema.QualifiedNameBytes);
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
            _sql.Append(schema.QuotedNames[schema.PrimaryKey[k]]);
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
        if (CompareIntegerKeys(schema, changes, lastPk, before, after))
        {
            return (before, after);
        }

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

        await AwaitInFlightAsync().ConfigureAwait(false);
        var started = ApplyProfile.Now();
        Profile.RoundTrips++;
        await using var r = await _target.QueryAsync(sql.Memory, ct).ConfigureAwait(false);
        var took = ApplyProfile.Since(started);
        Profile.SendTicks += took;
        Profile.WaitTicks += took;
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

    /// <summary>
    /// The lastpk comparison without a query when every key column is an integer type: integers have no collation,
    /// so comparing their values as numbers is exactly what the server would do. False (nothing filled in) for any
    /// other key, which is compared in SQL with its collation.
    /// </summary>
    internal static bool CompareIntegerKeys(TableSchema schema, List<(MySqlValue[]? Before, MySqlValue[]? After)> changes, IReadOnlyList<MySqlValue> lastPk, bool[] before, bool[] after)
    {
        var key = schema.PrimaryKey;
        if (lastPk.Count != key.Count)
        {
            return false;
        }

        var last = new Int128[key.Count];
        for (var k = 0; k < key.Count; k++)
        {
            if (!schema.Columns[key[k]].IsInteger || !TryParseInteger(lastPk[k], out last[k]))
            {
                return false;
            }
        }

        for (var i = 0; i < changes.Count; i++)
        {
            if (changes[i].Before is { } b)
            {
                if (AtOrBelow(b) is not { } yes)
                {
                    return false;
                }

                before[i] = yes;
            }

            if (changes[i].After is { } a)
            {
                if (AtOrBelow(a) is not { } yes)
                {
                    return false;
                }

                after[i] = yes;
            }
        }

        return true;

        // (key) <= (lastpk), compared as SQL compares row constructors: column by column, the first difference decides.
        bool? AtOrBelow(MySqlValue[] image)
        {
            for (var k = 0; k < key.Count; k++)
            {
                if (!TryParseInteger(image[key[k]], out var v))
                {
                    return null;
                }

                if (v != last[k])
                {
                    return v < last[k];
                }
            }

            return true;
        }
    }

    private static bool TryParseInteger(MySqlValue value, out Int128 result)
    {
        result = default;
        return !value.IsNull && Int128.TryParse(value.Span, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out result);
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
    /// <param name="sourceTimeZone">--source-time-zone: DATETIME values are written through CONVERT_TZ to UTC.</param>
    public sealed class TableContext(TableSchema schema, RowRouter? router, string? sourceTimeZone = null)
    {
        private readonly Dictionary<string, ColumnMap> _maps = new(StringComparer.Ordinal);

        /// <summary>The row changes of this table not written yet (MariaDB compaction), null when there are none.</summary>
        internal KeyedChanges? Changes { get; set; }

        public TableSchema Schema { get; } = schema;

        public RowRouter? Router { get; } = router;

        private InsertStatementBuilder? _insert;
        private InsertStatementBuilder? _upsert;

        public InsertStatementBuilder NewInsert(SqlQuoter quoter, int budget, string? suffix = null) => new(
            InsertVerb.Insert, Schema.Database, Schema.Name, WritableNames, budget, quoter, WritableStyles, suffix, ValueExpressions(quoter));

        /// <summary>The written columns, in order.</summary>
        public IReadOnlyList<string> WritableNames => Schema.Writable.Select(i => Schema.Columns[i].Name).ToList();

        /// <summary>How each written column's value is written as a literal.</summary>
        public IReadOnlyList<LiteralStyle> WritableStyles => Schema.Writable.Select(i => Schema.Columns[i].Style).ToList();

        /// <summary>
        /// Per written column, the expression its value is stored through, or null: with a source time zone, DATETIME
        /// (which has no zone) goes through CONVERT_TZ from the source's wall clock to UTC; TIMESTAMP is UTC already.
        /// </summary>
        public IReadOnlyList<string?>? ValueExpressions(SqlQuoter quoter) => sourceTimeZone is null
            ? null
            : Schema.Writable.Select(i => string.Equals(Schema.Columns[i].DataType, "datetime", StringComparison.OrdinalIgnoreCase)
                ? $"CONVERT_TZ({{0}}, {quoter.String(sourceTimeZone)}, '+00:00')" : null).ToList();

        /// <summary>
        /// The group writer's multi-row INSERT, made once per table (its buffer is too large to make per group). Rows a
        /// failed group left in it are dropped: that group's transaction was rolled back.
        /// </summary>
        internal InsertStatementBuilder Insert(SqlQuoter quoter, int budget)
        {
            _insert ??= NewInsert(quoter, budget);
            _insert.Finish();
            return _insert;
        }

        /// <summary>
        /// The group writer's in-place upsert: "ON DUPLICATE KEY UPDATE c = VALUES(c)" for every written column outside
        /// the key (the key's own first column when it has no other, so the clause is never empty). The first
        /// assignment also counts the rows found in @durable_found (its update clause runs once per existing row);
        /// both branches of its IF are the column's own value, so the column's type is kept whatever it is.
        /// </summary>
        internal InsertStatementBuilder Upsert(SqlQuoter quoter, int budget)
        {
            if (_upsert is null)
            {
                var set = Schema.Writable.Where(i => !Schema.PrimaryKey.Contains(i)).DefaultIfEmpty(Schema.PrimaryKey[0])
                    .Select(i => SqlQuoter.Identifier(Schema.Columns[i].Name))
                    .Select((c, n) => n == 0
                        ? $"{c} = IF(@durable_found := @durable_found + 1, VALUES({c}), VALUES({c}))"
                        : $"{c} = VALUES({c})");
                _upsert = NewInsert(quoter, budget, "ON DUPLICATE KEY UPDATE " + string.Join(", ", set));
            }

            _upsert.Finish();
            return _upsert;
        }

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

/// <summary>
/// The net effect of a run of row changes on one table, per primary key (exact bytes: the bytes the source wrote, so
/// keys equal under a collation are still told apart, as the source's rows are): whether the row existed before the
/// run (its first change removed or changed it) and the row it leaves (null: gone). Entries keep first-change order.
/// </summary>
internal sealed class KeyedChanges
{
    public Dictionary<byte[], Entry> ByKey { get; } = new(KeyComparer.Instance);

    public List<Entry> Order { get; } = [];

    /// <param name="KeyImage">A row image holding the key (the first image that named it).</param>
    /// <param name="Existed">The first change of the key removed or changed a row: the target must have it.</param>
    /// <param name="FirstOp">That change (for the divergence message).</param>
    public sealed record Entry(MySqlValue[] KeyImage, bool Existed, string FirstOp)
    {
        public MySqlValue[]? Final { get; set; }
    }

    /// <summary>The key's column values as one byte string: per column a null flag, a length and the bytes.</summary>
    public static byte[] Key(TableSchema schema, MySqlValue[] row)
    {
        var size = 0;
        foreach (var k in schema.PrimaryKey)
        {
            size += 5 + row[k].Span.Length;
        }

        var key = new byte[size];
        var at = 0;
        foreach (var k in schema.PrimaryKey)
        {
            var v = row[k];
            key[at] = v.IsNull ? (byte)1 : (byte)0;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(key.AsSpan(at + 1), v.Span.Length);
            v.Span.CopyTo(key.AsSpan(at + 5));
            at += 5 + v.Span.Length;
        }

        return key;
    }

    public static long Size(MySqlValue[] row)
    {
        long size = 16;
        foreach (var v in row)
        {
            size += v.Span.Length + 8;
        }

        return size;
    }

    public static string Describe(TableSchema schema, MySqlValue[] row) => string.Join(", ", schema.PrimaryKey.Select(i => row[i].ToString()));

    public sealed class KeyComparer : IEqualityComparer<byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key)
        {
            var hash = new HashCode();
            hash.AddBytes(key);
            return hash.ToHashCode();
        }
    }
}
