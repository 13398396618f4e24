using Durable.MySql;
using Durable.MySql.Sql;
using TableContext = Durable.Replication.StreamApplier.TableContext;

namespace Durable.Replication;

/// <summary>
/// Writes each row change by primary key as a statement of its own (no compound statements: MySQL): consecutive
/// inserts into one table share a multi-row INSERT, every UPDATE and DELETE is one statement; all go through the block
/// pipeline in the source's order. The caller counts the rows.
/// </summary>
internal sealed class RowByRowWriter
{
    private readonly MySqlConnection _target;
    private readonly BlockPipeline _pipeline;
    private readonly int _statementBudget;
    private readonly string? _sourceTimeZone;
    private readonly ByteBuilder _sql = new(4096);
    private InsertStatementBuilder? _pendingInsert;
    private TableContext? _pendingInsertTable;

    public RowByRowWriter(MySqlConnection target, BlockPipeline pipeline, int statementBudget, string? sourceTimeZone)
    {
        _target = target;
        _pipeline = pipeline;
        _statementBudget = statementBudget;
        _sourceTimeZone = sourceTimeZone;
    }

    /// <summary>Drops the batched INSERT of a rolled-back transaction.</summary>
    public void Clear()
    {
        _pendingInsert = null;
        _pendingInsertTable = null;
    }

    /// <summary>Ends the batched INSERT and queues it behind the changes before it (order is the source's).</summary>
    public async Task QueuePendingInsertAsync(CancellationToken ct)
    {
        var statement = _pendingInsert?.Finish();
        _pendingInsert = null;
        _pendingInsertTable = null;
        if (statement is not null)
        {
            await _pipeline.QueueAsync(statement, null, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Adds the row to its table's batched INSERT (ending the batch of another table first).</summary>
    public async Task InsertAsync(TableContext table, MySqlValue[] row, CancellationToken ct)
    {
        if (_pendingInsertTable != table)
        {
            await QueuePendingInsertAsync(ct).ConfigureAwait(false);
            _pendingInsert = table.NewInsert(_target.Quoter, Math.Min(_statementBudget, _pipeline.Compound ? _pipeline.BlockBudget / 2 : _statementBudget));
            _pendingInsertTable = table;
        }

        var values = new MySqlValue[table.Schema.Writable.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = row[table.Schema.Writable[i]];
        }

        if (_pendingInsert!.AddRow(values) is { } full)
        {
            await _pipeline.QueueAsync(full, null, ct).ConfigureAwait(false);
        }
    }

    /// <summary>An UPDATE of the row by its old primary key.</summary>
    public async Task UpdateAsync(TableContext table, MySqlValue[] before, MySqlValue[] after, CancellationToken ct)
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
            schema.Columns[i].AppendValue(_sql, after[i], _target.Quoter, _sourceTimeZone);
        }

        AppendWherePk(schema, before);
        await ExecuteChangeAsync(schema, "UPDATE", before, ct).ConfigureAwait(false);
    }

    /// <summary>A DELETE of the row by primary key, which must find it.</summary>
    public async Task DeleteAsync(TableContext table, MySqlValue[] before, CancellationToken ct)
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
        await _pipeline.QueueAsync(_sql.Memory, divergence, ct).ConfigureAwait(false);
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
            column.AppendValue(_sql, row[schema.PrimaryKey[k]], _target.Quoter, _sourceTimeZone);
        }
    }
}
