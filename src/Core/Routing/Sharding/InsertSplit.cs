using Durable.Topology;
using System.Text;
using Durable.Core.Vindexes;

namespace Durable.Routing.Sharding;

/// <summary>
/// An INSERT (or REPLACE) on a sharded table, as vtgate plans it: <c>INSERT [IGNORE] INTO t (cols) VALUES (...), ...
/// [ON DUPLICATE KEY UPDATE ...]</c>. Rows whose auto-increment column is absent or NULL get the sequence's values (all
/// at once, before anything else, since that column is often the vindex column), then each row goes to the shard of
/// its primary vindex value: one text per shard with that shard's rows, in their order.
/// </summary>
internal sealed class InsertSplit
{
    private readonly ShardSql _q;
    private readonly ShardMap _map;
    private readonly string _table;
    private readonly IReadOnlyList<VindexValue>? _parameters;
    private readonly List<string> _columns = [];
    private readonly List<List<(int Start, int End)>> _rows = [];
    private int _columnsEnd;   // token after the column list's ')'
    private int _columnsClose; // the column list's ')'
    private int _suffix;       // first token after the rows (ON DUPLICATE KEY UPDATE), or Count
    private int _autoColumn = -1;
    private readonly List<int> _needValues = [];

    public InsertSplit(ShardSql q, ShardMap map, string table, IReadOnlyList<VindexValue>? parameters)
    {
        _q = q;
        _map = map;
        _table = table;
        _parameters = parameters;
        Parse();
    }

    /// <summary>The table's auto-increment sequence, when some rows need values from it.</summary>
    public AutoIncrement? AutoIncrement { get; private set; }

    /// <summary>How many values the sequence must give (one per row whose auto-increment column is absent or NULL).</summary>
    public int ValuesNeeded => _needValues.Count;

    private void Parse()
    {
        var q = _q;
        var i = 1;
        while (i < q.Count && (q.Is(i, SqlKeyword.Ignore) || q.Is(i, SqlKeyword.LowPriority) || q.Is(i, SqlKeyword.HighPriority) || q.Is(i, SqlKeyword.Delayed)))
        {
            i++;
        }

        if (q.Is(i, SqlKeyword.Into))
        {
            i++;
        }

        // The table name, possibly qualified and aliased by the router (`t2` AS `t`).
        i++;
        while (q.IsKind(i, SqlTokenKind.Dot))
        {
            i += 2;
        }

        if (q.Is(i, SqlKeyword.As))
        {
            i += 2;
        }

        if (!q.IsKind(i, SqlTokenKind.LeftParen) || q.Is(i + 1, SqlKeyword.Select))
        {
            throw q.Is(i, SqlKeyword.Set)
                ? ShardingErrors.Refused($"INSERT INTO {_table} ... SET", "write the row as INSERT INTO t (columns) VALUES (...)")
                : ShardingErrors.Refused($"an INSERT into {_table} without a column list (or INSERT ... SELECT)",
                    "name the columns, INSERT INTO t (columns) VALUES (...), so the gateway can find the vindex column of each row");
        }

        _columnsEnd = q.AfterGroup(i);
        _columnsClose = _columnsEnd - 1;
        foreach (var (s, e) in q.SplitTop(i + 1, _columnsClose))
        {
            _columns.Add(q.ColumnName(s, e) ?? throw SqlErrors.Syntax(q.Sql, q.Tokens[s].Start, "a column name was expected"));
        }

        i = _columnsEnd;
        if (!(q.Is(i, SqlKeyword.Values) || q.Is(i, SqlKeyword.Value)))
        {
            throw ShardingErrors.Refused($"INSERT INTO {_table} (...) {(i < q.Count ? q.Text(i) : "")}", "only INSERT ... VALUES is routed on sharded tables (not INSERT ... SELECT)");
        }

        i++;
        while (q.IsKind(i, SqlTokenKind.LeftParen))
        {
            var end = q.AfterGroup(i);
            var values = q.SplitTop(i + 1, end - 1);
            if (values.Count != _columns.Count)
            {
                throw new GatewaySqlException(1136, "21S01", $"Column count doesn't match value count at row {_rows.Count + 1}: {_columns.Count} columns, {values.Count} values");
            }

            _rows.Add(values);
            i = end;
            if (q.IsKind(i, SqlTokenKind.Comma))
            {
                i++;
            }
        }

        _suffix = i;
        if (i < q.Count && !q.Is(i, SqlKeyword.On))
        {
            throw SqlErrors.Syntax(q.Sql, q.Tokens[i].Start, "ON DUPLICATE KEY UPDATE or the end of the statement was expected after the rows");
        }

        var (_, vindexColumn) = _map.PrimaryVindex(_table);
        if (i < q.Count)
        {
            CheckDuplicateUpdate(i, vindexColumn);
        }

        var auto = _map.AutoIncrement(_table);
        if (auto is not null)
        {
            _autoColumn = _columns.FindIndex(c => c.Equals(auto.Column, StringComparison.OrdinalIgnoreCase));
            for (var r = 0; r < _rows.Count; r++)
            {
                if (_autoColumn < 0 || SqlLiteral.Read(q, _rows[r][_autoColumn].Start, _rows[r][_autoColumn].End, _parameters) is { Kind: VindexValueKind.Null })
                {
                    _needValues.Add(r);
                }
            }

            AutoIncrement = _needValues.Count > 0 ? auto : null;
        }
    }

    private void CheckDuplicateUpdate(int on, string vindexColumn)
    {
        var q = _q;
        for (var i = on; i < q.Count; i++)
        {
            if (q.Tokens[i].Kind == SqlTokenKind.Operator && q.Text(i) == "=" && q.Tokens[i - 1].IsName
                && q.Tokens[i - 1].Name(q.Sql).Equals(vindexColumn, StringComparison.OrdinalIgnoreCase)
                && (i - 2 < on || q.Tokens[i - 2].Kind is SqlTokenKind.Comma or SqlTokenKind.Dot || q.Is(i - 2, SqlKeyword.Update)))
            {
                throw ShardingErrors.Refused($"ON DUPLICATE KEY UPDATE assigning {_table}.{vindexColumn}", "it is the primary vindex column, and moving a row between shards is not supported");
            }
        }
    }

    /// <summary>The per-shard texts, with the sequence's values from <paramref name="first"/> filled in.</summary>
    public List<ShardQuery> Split(long? first)
    {
        var q = _q;
        var (vindex, vindexColumn) = _map.PrimaryVindex(_table);
        var vindexIndex = _columns.FindIndex(c => c.Equals(vindexColumn, StringComparison.OrdinalIgnoreCase));
        var addColumn = _autoColumn < 0 && _needValues.Count > 0;
        if (vindexIndex < 0 && !(addColumn && AutoIncrement!.Column.Equals(vindexColumn, StringComparison.OrdinalIgnoreCase)))
        {
            throw ShardingErrors.Refused($"an INSERT into {_table} without its primary vindex column {vindexColumn}", "every row must give it (or have it filled from the table's sequence)");
        }

        var filled = new Dictionary<int, long>();
        for (var k = 0; k < _needValues.Count; k++)
        {
            filled[_needValues[k]] = (first ?? throw new InvalidOperationException("the sequence's values were not reserved")) + k;
        }

        var byShard = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var r = 0; r < _rows.Count; r++)
        {
            var row = _rows[r];
            string shard;
            if (vindexIndex >= 0 && !(vindexIndex == _autoColumn && filled.ContainsKey(r)))
            {
                var (s, e) = row[vindexIndex];
                var value = SqlLiteral.Read(q, s, e, _parameters)
                            ?? throw ShardingErrors.Refused($"the value {q.Text(s, e)} of {_table}.{vindexColumn} in row {r + 1}", "the primary vindex column's value must be a literal (a number or a quoted string)");
                if (value.Kind == VindexValueKind.Null)
                {
                    throw ShardingErrors.Unmappable(_table, vindexColumn, "NULL", vindex.Type, "a row's primary vindex column cannot be NULL");
                }

                shard = _map.ShardOf(vindex, value, _table, vindexColumn, q.Text(s, e));
            }
            else
            {
                shard = _map.ShardOf(vindex, VindexValue.FromInt64(filled[r]), _table, vindexColumn, SqlLiteral.Integer(filled[r]));
            }

            var text = new StringBuilder("(");
            for (var c = 0; c < row.Count; c++)
            {
                if (c > 0)
                {
                    text.Append(", ");
                }

                text.Append(c == _autoColumn && filled.TryGetValue(r, out var v) ? SqlLiteral.Integer(v) : q.Text(row[c].Start, row[c].End));
            }

            if (addColumn)
            {
                text.Append(", ").Append(SqlLiteral.Integer(filled[r]));
            }

            text.Append(')');
            if (!byShard.TryGetValue(shard, out var rows))
            {
                byShard[shard] = rows = [];
            }

            rows.Add(text.ToString());
        }

        // Head: everything up to the column list's ')', the filled column added; then the rows; then the suffix.
        var head = q.Sql[..q.Tokens[_columnsClose].Start] + (addColumn ? ", " + TableRoute.Quote(AutoIncrement!.Column) : string.Empty) + ") VALUES ";
        var suffix = _suffix < q.Count ? " " + q.Sql[q.Tokens[_suffix].Start..q.Tokens[q.Count - 1].End] : string.Empty;
        return [.. _map.Shards.Where(byShard.ContainsKey).Select(s => new ShardQuery(s, head + string.Join(", ", byShard[s]) + suffix))];
    }
}
