using System.Globalization;
using System.Text;
using Durable.MySql;
using Durable.MySql.Protocol;
using Durable.Routing;

namespace Durable.Gateway.Sharding;

/// <summary>
/// Writes a row the shards answered in the text protocol as a binary-protocol row (what a COM_STMT_EXECUTE client
/// reads): the 0x00 header, the NULL bitmap (offset 2), then each value in its column type's binary form. The text of
/// every type but FLOAT carries its exact value (integers, DOUBLE in its shortest round-trip form, DECIMAL, temporal
/// values and strings); MariaDB prints FLOAT with six significant digits, so a FLOAT column is refused rather than
/// answered with a rounded value (see <see cref="CheckColumns"/>).
/// </summary>
internal sealed class BinaryRows
{
    private readonly MySqlColumn[] _columns;

    public BinaryRows(IReadOnlyList<byte[]> columnDefinitions, int visible)
    {
        _columns = [.. columnDefinitions.Take(visible).Select(c => MySqlColumn.Parse(c))];
    }

    /// <summary>
    /// Refuses result columns whose text is not their exact value (FLOAT), before anything is written to the client.
    /// </summary>
    public static void CheckColumns(IEnumerable<MySqlColumn> columns)
    {
        foreach (var column in columns)
        {
            if (column.Type == ColumnType.Float)
            {
                throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000",
                    $"a prepared statement on a sharded keyspace returning FLOAT column '{column.Name}' is not supported through the gateway: the shards' text for FLOAT is rounded to six digits, so the exact value cannot be returned; select CAST({column.Name} AS DOUBLE), or send the statement as a plain query (COM_QUERY); see docs/gateway-sharding.md");
            }
        }
    }

    public void CheckColumns() => CheckColumns(_columns);

    /// <summary>Writes one row's binary form to <paramref name="w"/> (the text values of its visible columns; null is SQL NULL).</summary>
    public void Write(PayloadWriter w, byte[]?[] row)
    {
        w.WriteByte(0x00);
        var bitmap = new byte[(_columns.Length + 7 + 2) / 8];
        for (var i = 0; i < _columns.Length; i++)
        {
            if (row[i] is null)
            {
                var bit = i + 2;
                bitmap[bit / 8] |= (byte)(1 << (bit % 8));
            }
        }

        w.WriteBytes(bitmap);
        for (var i = 0; i < _columns.Length; i++)
        {
            if (row[i] is { } value)
            {
                WriteValue(w, _columns[i], value);
            }
        }
    }

    private static void WriteValue(PayloadWriter w, MySqlColumn column, byte[] value)
    {
        switch (column.Type)
        {
            case ColumnType.Tiny:
                w.WriteByte(column.IsUnsigned ? (byte)ParseUnsigned(value, column) : (byte)(sbyte)ParseSigned(value, column));
                break;
            case ColumnType.Short or ColumnType.Year:
                w.WriteUInt16(column.IsUnsigned || column.Type == ColumnType.Year ? (ushort)ParseUnsigned(value, column) : (ushort)(short)ParseSigned(value, column));
                break;
            case ColumnType.Long or ColumnType.Int24:
                w.WriteUInt32(column.IsUnsigned ? (uint)ParseUnsigned(value, column) : (uint)(int)ParseSigned(value, column));
                break;
            case ColumnType.LongLong:
                w.WriteUInt64(column.IsUnsigned ? ParseUnsigned(value, column) : (ulong)ParseSigned(value, column));
                break;
            case ColumnType.Double:
                w.WriteUInt64((ulong)BitConverter.DoubleToInt64Bits(double.Parse(Text(value), NumberStyles.Float, CultureInfo.InvariantCulture)));
                break;
            case ColumnType.Float:
                CheckColumns([column]);
                break;
            case ColumnType.Date or ColumnType.NewDate or ColumnType.DateTime or ColumnType.Timestamp or ColumnType.DateTime2 or ColumnType.Timestamp2:
                WriteDateTime(w, Text(value), column);
                break;
            case ColumnType.Time or ColumnType.Time2:
                WriteTime(w, Text(value), column);
                break;
            default:
                w.WriteLengthEncodedBytes(value);
                break;
        }
    }

    private static string Text(byte[] value) => Encoding.ASCII.GetString(value);

    private static long ParseSigned(byte[] value, MySqlColumn column) =>
        long.TryParse(Text(value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw Unreadable(value, column);

    private static ulong ParseUnsigned(byte[] value, MySqlColumn column) =>
        ulong.TryParse(Text(value), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw Unreadable(value, column);

    private static MySqlException Unreadable(byte[] value, MySqlColumn column) =>
        PayloadReader.Malformed($"a shard answered '{Text(value)}' for {column.Type} column '{column.Name}'");

    /// <summary>'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' as the binary DATE/DATETIME form: 0, 4, 7 or 11 bytes after the length.</summary>
    private static void WriteDateTime(PayloadWriter w, string text, MySqlColumn column)
    {
        if (text.Length < 10 || text[4] != '-' || text[7] != '-')
        {
            throw Unreadable(Encoding.ASCII.GetBytes(text), column);
        }

        var year = Number(text, 0, 4);
        var month = Number(text, 5, 2);
        var day = Number(text, 8, 2);
        int hour = 0, minute = 0, second = 0, micro = 0;
        if (text.Length >= 19)
        {
            hour = Number(text, 11, 2);
            minute = Number(text, 14, 2);
            second = Number(text, 17, 2);
            micro = text.Length > 20 ? Fraction(text, 20) : 0;
        }

        var length = micro != 0 ? 11 : hour + minute + second != 0 ? 7 : year + month + day != 0 ? 4 : 0;
        w.WriteByte((byte)length);
        if (length >= 4)
        {
            w.WriteUInt16((ushort)year);
            w.WriteByte((byte)month);
            w.WriteByte((byte)day);
        }

        if (length >= 7)
        {
            w.WriteByte((byte)hour);
            w.WriteByte((byte)minute);
            w.WriteByte((byte)second);
        }

        if (length == 11)
        {
            w.WriteUInt32((uint)micro);
        }
    }

    /// <summary>'[-]H:MM:SS[.ffffff]' (hours up to 838) as the binary TIME form: 0, 8 or 12 bytes after the length.</summary>
    private static void WriteTime(PayloadWriter w, string text, MySqlColumn column)
    {
        var negative = text.StartsWith('-');
        var body = negative ? text[1..] : text;
        var parts = body.Split(':');
        if (parts.Length != 3 || parts[2].Length < 2)
        {
            throw Unreadable(Encoding.ASCII.GetBytes(text), column);
        }

        var hours = Number(parts[0], 0, parts[0].Length);
        var minute = Number(parts[1], 0, 2);
        var second = Number(parts[2], 0, 2);
        var micro = parts[2].Length > 3 ? Fraction(parts[2], 3) : 0;
        if (hours + minute + second + micro == 0)
        {
            w.WriteByte(0);
            return;
        }

        w.WriteByte((byte)(micro != 0 ? 12 : 8));
        w.WriteByte((byte)(negative ? 1 : 0));
        w.WriteUInt32((uint)(hours / 24));
        w.WriteByte((byte)(hours % 24));
        w.WriteByte((byte)minute);
        w.WriteByte((byte)second);
        if (micro != 0)
        {
            w.WriteUInt32((uint)micro);
        }
    }

    private static int Number(string text, int start, int length) => int.Parse(text.AsSpan(start, length), NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>The digits after the point as microseconds (padded to six places).</summary>
    private static int Fraction(string text, int start)
    {
        var digits = text[start..];
        return digits.Length == 0 ? 0 : int.Parse(digits.PadRight(6, '0')[..6], NumberStyles.None, CultureInfo.InvariantCulture);
    }
}
