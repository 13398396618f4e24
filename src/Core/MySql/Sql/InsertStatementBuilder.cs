using System.Text;

namespace Durable.MySql.Sql;

/// <summary>
/// Rows gathered into parts of bounded size (a multi-row INSERT, or the content of a LOAD DATA upload): AddRow returns
/// the finished previous part when the row did not fit in it; Finish returns the last one.
/// </summary>
public interface IRowPartBuilder
{
    /// <summary>Rows in the part being built.</summary>
    int PendingRows { get; }

    byte[]? AddRow(ReadOnlySpan<MySqlValue> values);

    byte[]? Finish();
}

/// <summary>INSERT, INSERT IGNORE or REPLACE.</summary>
public enum InsertVerb
{
    Insert,
    InsertIgnore,
    Replace,
}

/// <summary>How a column's <see cref="MySqlValue"/> text is written as a literal.</summary>
public enum LiteralStyle
{
    /// <summary>Numbers (integers, DECIMAL, FLOAT/DOUBLE, YEAR): the text as is.</summary>
    Number,

    /// <summary>Text in the connection charset: a quoted, escaped string.</summary>
    String,

    /// <summary>Bytes (binary strings, BLOB, BIT, GEOMETRY): X'hex'.</summary>
    Binary,
}

/// <summary>
/// Builds multi-row INSERT/REPLACE statements as UTF-8 bytes, each as full as a byte budget allows, so a copy of many
/// rows costs few round trips and no statement exceeds max_allowed_packet. A single row larger than the budget is sent
/// alone (the budget cannot be met; the server's max_allowed_packet is the real limit).
/// </summary>
public sealed class InsertStatementBuilder : IRowPartBuilder
{
    private readonly ByteBuilder _statement;
    private readonly ByteBuilder _row = new(256);
    private readonly byte[] _prefix;
    private readonly byte[] _suffix;
    private readonly SqlQuoter _quoter;
    private readonly LiteralStyle[] _styles;
    private readonly (byte[] Before, byte[] After)?[] _wraps;
    private readonly int _budget;

    public InsertStatementBuilder(
        InsertVerb verb,
        string? schema,
        string table,
        IReadOnlyList<string> columns,
        int maxStatementBytes,
        SqlQuoter quoter,
        IReadOnlyList<LiteralStyle>? styles = null,
        string? suffix = null,
        IReadOnlyList<string?>? expressions = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0)
        {
            throw new ArgumentException("An INSERT needs at least one column.", nameof(columns));
        }

        if (styles is not null && styles.Count != columns.Count)
        {
            throw new ArgumentException($"{styles.Count} literal styles were given for {columns.Count} columns.", nameof(styles));
        }

        var head = new StringBuilder();
        head.Append(verb switch { InsertVerb.Insert => "INSERT INTO ", InsertVerb.InsertIgnore => "INSERT IGNORE INTO ", _ => "REPLACE INTO " });
        head.Append(schema is null ? SqlQuoter.Identifier(table) : SqlQuoter.QualifiedName(schema, table));
        head.Append(" (").AppendJoin(",", columns.Select(SqlQuoter.Identifier)).Append(") VALUES ");
        _prefix = Encoding.UTF8.GetBytes(head.ToString());
        _suffix = suffix is null ? [] : Encoding.UTF8.GetBytes(" " + suffix);
        if (maxStatementBytes < _prefix.Length + _suffix.Length + 16)
        {
            throw new ArgumentOutOfRangeException(nameof(maxStatementBytes), maxStatementBytes,
                $"The statement budget must leave room for rows after the {_prefix.Length}-byte INSERT prefix.");
        }

        _budget = maxStatementBytes;
        _quoter = quoter;
        _styles = styles?.ToArray() ?? Enumerable.Repeat(LiteralStyle.String, columns.Count).ToArray();
        _wraps = SplitExpressions(expressions, columns.Count, "{0}");
        _statement = new ByteBuilder(Math.Min(maxStatementBytes, 1 << 20));
        ColumnCount = columns.Count;
    }

    public int ColumnCount { get; }

    /// <summary>Rows in the statement being built.</summary>
    public int PendingRows { get; private set; }

    /// <summary>Adds a row of values; returns the finished previous statement when this row did not fit in it.</summary>
    public byte[]? AddRow(ReadOnlySpan<MySqlValue> values)
    {
        CheckCount(values.Length);
        _row.Clear();
        _row.Append((byte)'(');
        for (var i = 0; i < values.Length; i++)
        {
            if (i > 0)
            {
                _row.Append((byte)',');
            }

            var v = values[i];
            if (v.IsNull)
            {
                _row.Append("NULL"u8);
                continue;
            }

            var wrap = _wraps[i];
            if (wrap is { } w)
            {
                _row.Append(w.Before);
            }

            switch (_styles[i])
            {
                case LiteralStyle.Number: _row.Append(v.Span); break;
                case LiteralStyle.Binary: SqlQuoter.AppendBinaryLiteral(_row, v.Span); break;
                default: _quoter.AppendStringLiteral(_row, v.Span); break;
            }

            if (wrap is { } w2)
            {
                _row.Append(w2.After);
            }
        }

        _row.Append((byte)')');
        return Push();
    }

    /// <summary>Adds a row of .NET values written with <see cref="SqlQuoter.Literal"/>.</summary>
    public byte[]? AddRow(IReadOnlyList<object?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        CheckCount(values.Count);
        _row.Clear();
        _row.Append((byte)'(');
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                _row.Append((byte)',');
            }

            _row.Append(_quoter.Literal(values[i]));
        }

        _row.Append((byte)')');
        return Push();
    }

    /// <summary>The statement with the rows added since the last one was returned, or null when there are none.</summary>
    public byte[]? Finish()
    {
        if (PendingRows == 0)
        {
            return null;
        }

        _statement.Append(_suffix);
        var result = _statement.ToArray();
        _statement.Clear();
        PendingRows = 0;
        return result;
    }

    private byte[]? Push()
    {
        byte[]? finished = null;
        if (PendingRows > 0 && _statement.Length + 1 + _row.Length + _suffix.Length > _budget)
        {
            finished = Finish();
        }

        if (PendingRows == 0)
        {
            _statement.Append(_prefix);
        }
        else
        {
            _statement.Append((byte)',');
        }

        _statement.Append(_row.Memory.Span);
        PendingRows++;
        return finished;
    }

    private void CheckCount(int count)
    {
        if (count != ColumnCount)
        {
            throw new ArgumentException($"The row has {count} values but the INSERT names {ColumnCount} columns.");
        }
    }

    /// <summary>
    /// Per-column SQL expressions around a value (null: the value alone), each holding <paramref name="placeholder"/>
    /// once, e.g. <c>CONVERT_TZ({0}, 'Europe/Paris', '+00:00')</c>; split into the bytes before and after the value.
    /// </summary>
    internal static (byte[] Before, byte[] After)?[] SplitExpressions(IReadOnlyList<string?>? expressions, int columns, string placeholder)
    {
        if (expressions is null)
        {
            return new (byte[], byte[])?[columns];
        }

        if (expressions.Count != columns)
        {
            throw new ArgumentException($"{expressions.Count} column expressions were given for {columns} columns.", nameof(expressions));
        }

        return expressions.Select((e, i) =>
        {
            if (e is null)
            {
                return ((byte[], byte[])?)null;
            }

            var at = e.IndexOf(placeholder, StringComparison.Ordinal);
            if (at < 0 || e.IndexOf(placeholder, at + placeholder.Length, StringComparison.Ordinal) >= 0)
            {
                throw new ArgumentException($"The expression for column {i + 1} ('{e}') must hold {placeholder} exactly once.", nameof(expressions));
            }

            return (Encoding.UTF8.GetBytes(e[..at]), Encoding.UTF8.GetBytes(e[(at + placeholder.Length)..]));
        }).ToArray();
    }

    /// <summary>The literal style a result-set column needs.</summary>
    public static LiteralStyle StyleFor(MySqlColumn column) => StyleFor(column.Type, column.IsBinary);

    public static LiteralStyle StyleFor(ColumnType type, bool binaryCharset) => type switch
    {
        ColumnType.Tiny or ColumnType.Short or ColumnType.Int24 or ColumnType.Long or ColumnType.LongLong or
            ColumnType.Decimal or ColumnType.NewDecimal or ColumnType.Float or ColumnType.Double or ColumnType.Year => LiteralStyle.Number,
        ColumnType.Bit or ColumnType.Geometry => LiteralStyle.Binary,
        ColumnType.Date or ColumnType.NewDate or ColumnType.Time or ColumnType.Time2 or ColumnType.DateTime or ColumnType.DateTime2 or
            ColumnType.Timestamp or ColumnType.Timestamp2 or ColumnType.Enum or ColumnType.Set or ColumnType.Json => LiteralStyle.String,
        _ => binaryCharset ? LiteralStyle.Binary : LiteralStyle.String,
    };
}
