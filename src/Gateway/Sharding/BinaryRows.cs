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
        Span<byte> bitmap = stackalloc byte[(_columns.Length + 7 + 2) / 8]; // at most 513 bytes (4096 columns)
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
                w.WriteUInt64((ulong)BitConverter.DoubleToInt64Bits(double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw Unreadable(value, column)));
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

    // Numbers are parsed from the UTF-8 text itself: no string per value.
    private static long ParseSigned(byte[] value, MySqlColumn column) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw Unreadable(value, column);

    private static ulong ParseUnsigned(byte[] value, MySqlColumn column) =>
        ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw Unreadable(value, column);

    private static MySqlException Unreadable(byte[] value, MySqlColumn column) =>
        PayloadReader.Malformed($"a shard answered '{Text(value)}' for {column.Type} column '{column.Name}'");

    /// <summary>'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' in the binary DATE/DATETIME form.</summary>
    private static void WriteDateTime(PayloadWriter w, string text, MySqlColumn column)
    {
        if (text.Length < 10 || text[4] != '-' || text[7] != '-')
        {
            throw Unreadable(Encoding.ASCII.GetBytes(text), column);
        }

        var hasTime = text.Length >= 19;
        BinaryTemporal.WriteDateTime(w, new BinaryDateTime(
            Number(text, 0, 4), Number(text, 5, 2), Number(text, 8, 2),
            hasTime ? Number(text, 11, 2) : 0, hasTime ? Number(text, 14, 2) : 0, hasTime ? Number(text, 17, 2) : 0,
            text.Length > 20 ? Fraction(text, 20) : 0));
    }

    /// <summary>'[-]H:MM:SS[.ffffff]' (hours up to 838) in the binary TIME form.</summary>
    private static void WriteTime(PayloadWriter w, string text, MySqlColumn column)
    {
        var negative = text.StartsWith('-');
        var parts = (negative ? text[1..] : text).Split(':');
        if (parts.Length != 3 || parts[2].Length < 2)
        {
            throw Unreadable(Encoding.ASCII.GetBytes(text), column);
        }

        BinaryTemporal.WriteTime(w, new BinaryTime(negative, Number(parts[0], 0, parts[0].Length), Number(parts[1], 0, 2), Number(parts[2], 0, 2),
            parts[2].Length > 3 ? Fraction(parts[2], 3) : 0));
    }

    private static int Number(string text, int start, int length) => int.Parse(text.AsSpan(start, length), NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>The digits after the point as microseconds (padded to six places).</summary>
    private static int Fraction(string text, int start)
    {
        var digits = text[start..];
        return digits.Length == 0 ? 0 : int.Parse(digits.PadRight(6, '0')[..6], NumberStyles.None, CultureInfo.InvariantCulture);
    }
}
