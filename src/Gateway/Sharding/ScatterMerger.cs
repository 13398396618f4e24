using System.Globalization;
using System.Text;
using Durable.MySql;
using Durable.MySql.Protocol;
using Durable.Routing.Sharding;

namespace Durable.Gateway.Sharding;

/// <summary>
/// Combines the shards' result sets of a scatter SELECT as <see cref="ScatterMerge"/> says: groups aggregated
/// (COUNT summed, SUM added, MIN/MAX by the column's order), rows sorted by their keys (text by its WEIGHT_STRING
/// column, numbers as numbers, binary and temporal values by bytes; NULL first, as MySQL sorts), OFFSET skipped and
/// LIMIT cut, the hidden columns stripped; then written to the client in the text protocol, or in the binary protocol
/// for a prepared statement's execute (<see cref="BinaryRows"/>).
/// </summary>
internal sealed class ScatterMerger
{
    private readonly ScatterMerge _merge;
    private readonly List<byte[]> _columns;
    private readonly int _total;
    private readonly int _visible;
    private readonly BinaryRows? _binary;
    private readonly Comparison[] _kinds; // per column, from its definition: read once, used by every comparison

    /// <param name="binary">Rows go to a COM_STMT_EXECUTE client: written in the binary protocol.</param>
    public ScatterMerger(ScatterMerge merge, List<byte[]> columns, bool binary = false)
    {
        _merge = merge;
        _columns = columns;
        _total = columns.Count;
        _visible = _total - merge.HiddenColumns;
        _kinds = [.. columns.Select(c => KindOf(MySqlColumn.Parse(c)))];
        if (binary)
        {
            _binary = new BinaryRows(columns, _visible);
            _binary.CheckColumns(); // before anything is written: a refusal is the whole answer
        }
    }

    private enum Comparison
    {
        Bytes,
        Number,
        Weight,
    }

    public void Write(IReadOnlyList<ShardAnswer> answers, ClientPacketWriter client, bool deprecateEof, ServerStatus status)
    {
        var rows = new List<byte[]?[]>();
        foreach (var answer in answers)
        {
            rows.AddRange(answer.Rows);
        }

        if (_merge.Grouped)
        {
            rows = Aggregate(rows);
        }

        var order = _merge.Order.Count > 0 ? _merge.Order : _merge.Grouped ? _merge.GroupKeys : [];
        if (order.Count > 0)
        {
            var indexed = rows.Select((r, i) => (Row: r, Index: i)).ToList();
            indexed.Sort((a, b) =>
            {
                foreach (var key in order)
                {
                    var c = Compare(a.Row, b.Row, key.Column, key.WeightColumn);
                    if (c != 0)
                    {
                        return key.Descending ? -c : c;
                    }
                }

                return a.Index.CompareTo(b.Index);
            });
            rows = [.. indexed.Select(x => x.Row)];
        }

        IEnumerable<byte[]?[]> result = rows;
        if (_merge.Offset > 0)
        {
            result = result.Skip((int)Math.Min(_merge.Offset, int.MaxValue));
        }

        if (_merge.Limit is { } limit)
        {
            result = result.Take((int)Math.Min(limit, int.MaxValue));
        }

        WriteResult(result, client, deprecateEof, status);
    }

    private void WriteResult(IEnumerable<byte[]?[]> rows, ClientPacketWriter client, bool deprecateEof, ServerStatus status)
    {
        var w = client.Scratch();
        w.WriteLengthEncoded((ulong)_visible);
        client.WriteScratch();
        for (var i = 0; i < _visible; i++)
        {
            client.WritePacket(_columns[i]);
        }

        if (!deprecateEof)
        {
            client.WriteEof(status);
        }

        foreach (var row in rows)
        {
            w = client.Scratch();
            if (_binary is not null)
            {
                _binary.Write(w, row);
                client.WriteScratch();
                continue;
            }

            for (var i = 0; i < _visible; i++)
            {
                if (row[i] is { } value)
                {
                    w.WriteLengthEncodedBytes(value);
                }
                else
                {
                    w.WriteByte(0xFB);
                }
            }

            client.WriteScratch();
        }

        client.WriteEnd(deprecateEof, status);
    }

    private int Index(int column) => column >= 0 ? column : _visible + ~column;

    /// <summary>One row per group (the first row's values), its aggregates combined over the group's rows.</summary>
    private List<byte[]?[]> Aggregate(List<byte[]?[]> rows)
    {
        var groups = new Dictionary<string, byte[]?[]>(StringComparer.Ordinal);
        var ordered = new List<byte[]?[]>();
        foreach (var row in rows)
        {
            var key = GroupKey(row);
            if (!groups.TryGetValue(key, out var group))
            {
                group = (byte[]?[])row.Clone();
                groups[key] = group;
                ordered.Add(group);
                continue;
            }

            foreach (var aggregate in _merge.Aggregates)
            {
                Combine(group, row, aggregate);
            }
        }

        return ordered;
    }

    private string GroupKey(byte[]?[] row)
    {
        var key = new StringBuilder();
        foreach (var k in _merge.GroupKeys)
        {
            var kind = _kinds[Index(k.Column)];
            var value = kind == Comparison.Weight && k.WeightColumn is { } wc ? row[Index(wc)] : row[Index(k.Column)];
            key.Append(value is null ? "N" : "V" + Convert.ToHexString(kind == Comparison.Number ? Encoding.ASCII.GetBytes(NormalNumber(value)) : value)).Append('|');
        }

        return key.ToString();
    }

    private void Combine(byte[]?[] group, byte[]?[] row, MergeAggregate aggregate)
    {
        var i = Index(aggregate.Column);
        var mine = group[i];
        var theirs = row[i];
        switch (aggregate.Kind)
        {
            case AggregateKind.Count or AggregateKind.Sum:
                if (theirs is null)
                {
                    return;
                }

                group[i] = mine is null ? theirs : Add(mine, theirs);
                return;
            default:
                if (theirs is null)
                {
                    return;
                }

                var c = mine is null ? 1 : Compare(row, group, aggregate.Column, aggregate.WeightColumn);
                if (mine is null || (aggregate.Kind == AggregateKind.Min ? c < 0 : c > 0))
                {
                    group[i] = theirs;
                    if (aggregate.WeightColumn is { } wc)
                    {
                        group[Index(wc)] = row[Index(wc)];
                    }
                }

                return;
        }
    }

    private static byte[] Add(byte[] a, byte[] b)
    {
        var x = Encoding.ASCII.GetString(a);
        var y = Encoding.ASCII.GetString(b);
        if (decimal.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out var dx) && decimal.TryParse(y, NumberStyles.Float, CultureInfo.InvariantCulture, out var dy)
            && !x.Contains('e', StringComparison.OrdinalIgnoreCase) && !y.Contains('e', StringComparison.OrdinalIgnoreCase))
        {
            return Encoding.ASCII.GetBytes((dx + dy).ToString(CultureInfo.InvariantCulture));
        }

        var sum = double.Parse(x, CultureInfo.InvariantCulture) + double.Parse(y, CultureInfo.InvariantCulture);
        return Encoding.ASCII.GetBytes(sum.ToString("R", CultureInfo.InvariantCulture));
    }

    private int Compare(byte[]?[] a, byte[]?[] b, int column, int? weightColumn)
    {
        var i = Index(column);
        var kind = _kinds[i];
        byte[]? x, y;
        if (kind == Comparison.Weight && weightColumn is { } wc)
        {
            x = a[Index(wc)] ?? a[i];
            y = b[Index(wc)] ?? b[i];
        }
        else
        {
            x = a[i];
            y = b[i];
        }

        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        if (kind == Comparison.Number)
        {
            // Parsed from the UTF-8 text itself: no string per comparison.
            if (decimal.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out var dx) && decimal.TryParse(y, NumberStyles.Float, CultureInfo.InvariantCulture, out var dy))
            {
                return dx.CompareTo(dy);
            }

            return double.Parse(x, NumberStyles.Float, CultureInfo.InvariantCulture).CompareTo(double.Parse(y, NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        return x.AsSpan().SequenceCompareTo(y);
    }

    private static string NormalNumber(byte[] value)
    {
        var text = Encoding.ASCII.GetString(value);
        return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? (d / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture) : text;
    }

    /// <summary>How a column's values compare, from its definition: numbers, non-binary text (by weight), else bytes.</summary>
    private static Comparison KindOf(MySqlColumn column) => column.Type switch
    {
        ColumnType.Decimal or ColumnType.NewDecimal or ColumnType.Tiny or ColumnType.Short or ColumnType.Long or ColumnType.Float or ColumnType.Double
            or ColumnType.LongLong or ColumnType.Int24 or ColumnType.Year => Comparison.Number,
        ColumnType.VarChar or ColumnType.VarString or ColumnType.String or ColumnType.TinyBlob or ColumnType.MediumBlob or ColumnType.LongBlob or ColumnType.Blob
            or ColumnType.Enum or ColumnType.Set when !column.IsBinary => Comparison.Weight,
        _ => Comparison.Bytes,
    };
}
