using System.Buffers;
using System.Text;

namespace Durable.MySql.Sql;

/// <summary>
/// Rows as the content of a LOAD DATA LOCAL INFILE upload, in parts of a bounded size: tab-separated fields, one row
/// per line, backslash escapes, \N for NULL. The server parses this much more cheaply than the literals of a
/// multi-row INSERT (no statement parse, no item per value), which is what a bulk copy is bound by.
/// Values are text-protocol values (as a text SELECT returns them, in the connection's utf8mb4): numbers and
/// temporals as text, strings as utf8mb4 text, which the server converts to each column's charset. Columns an INSERT
/// writes as a binary literal (binary strings, BIT, geometry) travel as hex and are stored through UNHEX, so their
/// bytes never meet the file's charset.
/// </summary>
public sealed class LoadDataBuilder : IRowPartBuilder
{
    /// <summary>The name the statement gives its file; the connection sends the content only for this name.</summary>
    public const string FileName = "durable-rows.tsv";

    // Field bytes that must be escaped: the escape itself, the separators, NUL and \r (kept off the line ends).
    private static readonly SearchValues<byte> Special = SearchValues.Create("\\\t\n\r\0"u8);

    private readonly ByteBuilder _content;
    private readonly int _budget;
    private readonly ByteBuilder _row = new(256);
    private readonly bool[] _hex;

    /// <param name="expressions">Per column, null or an SQL expression of the loaded value <c>{0}</c> to store instead
    /// (e.g. <c>CONVERT_TZ({0}, 'Europe/Paris', '+00:00')</c>); it is applied in the statement's SET clause.</param>
    public LoadDataBuilder(string schema, string table, IReadOnlyList<string> columns, IReadOnlyList<LiteralStyle> styles, int maxContentBytes, IReadOnlyList<string?>? expressions = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(styles);
        if (columns.Count == 0)
        {
            throw new ArgumentException("LOAD DATA needs at least one column.", nameof(columns));
        }

        if (styles.Count != columns.Count)
        {
            throw new ArgumentException($"{styles.Count} literal styles were given for {columns.Count} columns.", nameof(styles));
        }

        if (maxContentBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(maxContentBytes), maxContentBytes, "The content budget must be at least 1024 bytes.");
        }

        InsertStatementBuilder.SplitExpressions(expressions, columns.Count, "{0}"); // validates: one {0} each

        // The separators are hex literals so the statement means the same under NO_BACKSLASH_ESCAPES.
        var sql = new StringBuilder("LOAD DATA LOCAL INFILE '").Append(FileName).Append("' INTO TABLE ")
            .Append(SqlQuoter.QualifiedName(schema, table))
            .Append(" CHARACTER SET utf8mb4 FIELDS TERMINATED BY X'09' ESCAPED BY X'5C' LINES TERMINATED BY X'0A' (")
            .AppendJoin(",", columns.Select((c, i) => NeedsSet(i) ? "@h" + i : SqlQuoter.Identifier(c))).Append(')');
        var sets = columns.Select((c, i) => (c, i)).Where(p => NeedsSet(p.i)).Select(p =>
        {
            var value = styles[p.i] == LiteralStyle.Binary ? $"UNHEX(@h{p.i})" : $"@h{p.i}";
            return $"{SqlQuoter.Identifier(p.c)} = " + (expressions?[p.i] is { } e ? e.Replace("{0}", value, StringComparison.Ordinal) : value);
        }).ToList();
        if (sets.Count > 0)
        {
            sql.Append(" SET ").AppendJoin(", ", sets);
        }

        bool NeedsSet(int i) => styles[i] == LiteralStyle.Binary || expressions?[i] is not null;

        _hex = styles.Select(s => s == LiteralStyle.Binary).ToArray();
        Statement = Encoding.UTF8.GetBytes(sql.ToString());
        ColumnCount = columns.Count;
        _budget = maxContentBytes;
        _content = new ByteBuilder(Math.Min(maxContentBytes, 1 << 20));
    }

    /// <summary>The LOAD DATA LOCAL INFILE statement to run with each part.</summary>
    public ReadOnlyMemory<byte> Statement { get; }

    public int ColumnCount { get; }

    /// <summary>Rows in the part being built.</summary>
    public int PendingRows { get; private set; }

    /// <summary>Adds a row; returns the finished previous part when this row did not fit in it.</summary>
    public byte[]? AddRow(ReadOnlySpan<MySqlValue> values)
    {
        if (values.Length != ColumnCount)
        {
            throw new ArgumentException($"The row has {values.Length} values but the LOAD DATA names {ColumnCount} columns.");
        }

        _row.Clear();
        for (var i = 0; i < values.Length; i++)
        {
            if (i > 0)
            {
                _row.Append((byte)'\t');
            }

            var v = values[i];
            if (v.IsNull)
            {
                _row.Append("\\N"u8);
                continue;
            }

            if (_hex[i])
            {
                // UNHEX('') is '' (an empty binary string), and \N stays NULL.
                _row.AppendHex(v.Span);
            }
            else
            {
                AppendEscaped(_row, v.Span);
            }
        }

        _row.Append((byte)'\n');
        byte[]? finished = null;
        if (PendingRows > 0 && _content.Length + _row.Length > _budget)
        {
            finished = Finish();
        }

        _content.Append(_row.Memory.Span);
        PendingRows++;
        return finished;
    }

    /// <summary>The part with the rows added since the last one was returned, or null when there are none.</summary>
    public byte[]? Finish()
    {
        if (PendingRows == 0)
        {
            return null;
        }

        var result = _content.Memory.ToArray();
        _content.Clear();
        PendingRows = 0;
        return result;
    }

    internal static void AppendEscaped(ByteBuilder target, ReadOnlySpan<byte> value)
    {
        while (true)
        {
            var at = value.IndexOfAny(Special);
            if (at < 0)
            {
                target.Append(value);
                return;
            }

            target.Append(value[..at]);
            target.Append((byte)'\\');
            target.Append(value[at] switch
            {
                (byte)'\t' => (byte)'t',
                (byte)'\n' => (byte)'n',
                (byte)'\r' => (byte)'r',
                0 => (byte)'0',
                var b => b,
            });
            value = value[(at + 1)..];
        }
    }
}
