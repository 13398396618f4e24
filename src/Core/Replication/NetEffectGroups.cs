using Durable.MySql;
using Durable.MySql.Sql;
using TableContext = Durable.Replication.StreamApplier.TableContext;

namespace Durable.Replication;

/// <summary>
/// The open transaction's row changes folded per table into their net effect per primary key (<see cref="KeyedChanges"/>),
/// and the statements that write each group through the block pipeline, with the divergence checks that the one
/// statement per row change had.
/// </summary>
internal sealed class NetEffectGroups
{
    // MariaDB: row changes are compacted to their net effect per primary key before they are written (see
    // KeyedChanges): the rows the source had before the changes are checked to be there and deleted with one
    // statement, the rows it has after them inserted with multi-row INSERTs. A few statements per table per group
    // instead of one per row change; that per-statement work was most of the target's apply time. Groups are bounded
    // (GroupBudget bytes of keys and rows) so memory stays flat in transaction size.
    private readonly List<TableContext> _groupTables = [];
    private long _groupBytes;
    private readonly int _groupBudget;
    private readonly MySqlConnection _target;
    private readonly BlockPipeline _pipeline;
    private readonly string? _sourceTimeZone;
    private readonly ByteBuilder _sql = new(4096);

    public NetEffectGroups(MySqlConnection target, BlockPipeline pipeline, string? sourceTimeZone)
    {
        _target = target;
        _pipeline = pipeline;
        _sourceTimeZone = sourceTimeZone;
        _groupBudget = pipeline.BlockBudget / 4;
    }

    /// <summary>The groups hold their budget of keys and rows: write them before tracking more.</summary>
    public bool Full => _groupBytes >= _groupBudget;

    /// <summary>
    /// Folds one row change into its table's group: <paramref name="before"/> is the row the change removes (a DELETE,
    /// an UPDATE's old row), <paramref name="after"/> the row it leaves (an INSERT, an UPDATE's new row). A change
    /// that the target could not apply one by one either (a second insert of a key, a change of a row already gone)
    /// is the divergence it would have been.
    /// </summary>
    public void Track(TableContext table, MySqlValue[]? before, MySqlValue[]? after)
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
    public async Task EmitAsync(CancellationToken ct)
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
            if (!schema.HasSecondaryUniqueKey && _sourceTimeZone is null)
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
                await _pipeline.QueueAsync(_sql.Memory, () => MissingRowMessageAsync(schema, existed), checkIsInStatement: true, ct).ConfigureAwait(false);
                _sql.Clear();
                _sql.Append("DELETE FROM "u8);
                _sql.Append(schema.QualifiedNameBytes);
                AppendKeys(schema, existed);
                await _pipeline.QueueAsync(_sql.Memory, null, checkIsInStatement: false, ct).ConfigureAwait(false);
            }

            InsertStatementBuilder? insert = null;
            foreach (var entry in group.Order)
            {
                if (entry.Final is not { } row)
                {
                    continue;
                }

                insert ??= table.Insert(_target.Quoter, _pipeline.BlockBudget / 2);
                if (insert.AddRow(Writable(schema, row)) is { } full)
                {
                    await _pipeline.QueueAsync(full, null, ct).ConfigureAwait(false);
                }
            }

            if (insert?.Finish() is { } last)
            {
                await _pipeline.QueueAsync(last, null, ct).ConfigureAwait(false);
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
            await _pipeline.QueueAsync(SavepointGroup, null, ct).ConfigureAwait(false);
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
            await _pipeline.QueueAsync(_sql.Memory, missing, checkIsInStatement: true, ct).ConfigureAwait(false);
        }

        var stay = existed.Count - gone.Count;
        if (stay > 0)
        {
            await _pipeline.QueueAsync(ResetFound, null, ct).ConfigureAwait(false);
            var upsert = table.Upsert(_target.Quoter, _pipeline.BlockBudget / 2);
            foreach (var entry in existed)
            {
                if (entry.Final is { } row && upsert.AddRow(Writable(schema, row)) is { } full)
                {
                    await _pipeline.QueueAsync(full, null, ct).ConfigureAwait(false);
                }
            }

            if (upsert.Finish() is { } last)
            {
                await _pipeline.QueueAsync(last, null, ct).ConfigureAwait(false);
            }

            _sql.Clear();
            _sql.Append("IF @durable_found"u8);
            AppendMissingRowSignal(stay);
            await _pipeline.QueueAsync(_sql.Memory, missing, checkIsInStatement: true, ct).ConfigureAwait(false);
        }

        InsertStatementBuilder? insert = null;
        foreach (var entry in group.Order)
        {
            if (!entry.Existed && entry.Final is { } row)
            {
                insert ??= table.Insert(_target.Quoter, _pipeline.BlockBudget / 2);
                if (insert.AddRow(Writable(schema, row)) is { } full)
                {
                    await _pipeline.QueueAsync(full, null, ct).ConfigureAwait(false);
                }
            }
        }

        if (insert?.Finish() is { } lastInsert)
        {
            await _pipeline.QueueAsync(lastInsert, null, ct).ConfigureAwait(false);
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
        _sql.Append(BlockPipeline.DeleteSignalPrefix);
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

                schema.Columns[key[0]].AppendValue(_sql, entries[e].KeyImage[key[0]], _target.Quoter, _sourceTimeZone);
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
                schema.Columns[key[k]].AppendValue(_sql, entries[e].KeyImage[key[k]], _target.Quoter, _sourceTimeZone);
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

    /// <summary>Drops the groups of a rolled-back transaction.</summary>
    public void Clear()
    {
        foreach (var table in _groupTables)
        {
            table.Changes = null;
        }

        _groupTables.Clear();
        _groupBytes = 0;
    }
}
