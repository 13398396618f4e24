using System.Globalization;
using System.Text;
using CoreKeyRange = Durable.Core.KeyRanges.KeyRange;
using Durable.Core.Vindexes;
using Durable.MySql;

namespace Durable.Replication;

/// <summary>
/// Decides whether a row belongs to the target shard: maps its vindex column through the target keyspace's primary
/// vindex and checks the keyspace id against the shard's key range. A value the vindex cannot map (e.g. a negative
/// number for hash) belongs to no shard.
/// </summary>
public sealed class RowRouter
{
    private readonly IVindex _vindex;
    private readonly int _column;
    private readonly ColumnInfo _info;
    private readonly CoreKeyRange _range;

    public RowRouter(KeyRangeFilter filter, TableSchema table)
    {
        ArgumentNullException.ThrowIfNull(filter);
        filter.Validate(table.Name);
        _vindex = VindexFactory.Create(filter.VindexType, filter.VindexType);
        _column = table.IndexOf(filter.Columns[0])
            ?? throw new TerminalReplicationException($"Table {table.Name} has no column '{filter.Columns[0]}' named by its key-range filter.");
        _info = table.Columns[_column];
        _range = CoreKeyRange.ParseShard(filter.KeyRange);
    }

    public CoreKeyRange Range => _range;

    /// <summary>True when the row (values aligned with the table's columns) maps into the key range.</summary>
    public bool InRange(ReadOnlySpan<MySqlValue> row)
    {
        var id = _vindex.Map(ToVindexValue(_info, row[_column]));
        return id is not null && _range.Contains(id);
    }

    public static VindexValue ToVindexValue(ColumnInfo column, MySqlValue value)
    {
        if (value.IsNull)
        {
            return VindexValue.Null;
        }

        switch (column.Style)
        {
            case Durable.MySql.Sql.LiteralStyle.Binary:
                return VindexValue.FromBinary(value.Span);
            case Durable.MySql.Sql.LiteralStyle.Number:
                var text = Encoding.ASCII.GetString(value.Span);
                switch (column.DataType.ToLowerInvariant())
                {
                    case "decimal" or "numeric":
                        return VindexValue.FromDecimalText(text);
                    case "float" or "double" or "real":
                        return VindexValue.FromDouble(double.Parse(text, CultureInfo.InvariantCulture));
                    default:
                        return column.Unsigned
                            ? VindexValue.FromUInt64(ulong.Parse(text, CultureInfo.InvariantCulture))
                            : VindexValue.FromInt64(long.Parse(text, CultureInfo.InvariantCulture));
                }

            default:
                return VindexValue.FromTextBytes(value.Span);
        }
    }
}
