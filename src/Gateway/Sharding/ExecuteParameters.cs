using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Durable.MySql;
using Durable.MySql.Protocol;
using Durable.MySql.Sql;
using Durable.Routing;

namespace Durable.Gateway.Sharding;

/// <summary>
/// The values a COM_STMT_EXECUTE binds, read from the binary protocol and written as SQL literals, for a prepared
/// statement on a sharded keyspace (planned and run as its text with the values in place, <see cref="Durable.Routing.Sharding.PreparedText"/>).
/// Each literal means what the bound value means to the server:
/// <list type="bullet">
/// <item>integers as digits (unsigned when the type says so), DOUBLE and FLOAT as their exact double value with an
/// exponent (a DOUBLE literal, not a DECIMAL one), DECIMAL as its digits;</item>
/// <item>strings as a quoted literal when they are UTF-8 (the gateway's connection character set) with no backslash or
/// control character, written so that it reads the same with and without NO_BACKSLASH_ESCAPES; other text as
/// <c>_utf8mb4 X'..'</c> and bytes that are not UTF-8 as <c>X'..'</c> (a binary string, as a BLOB value is);</item>
/// <item>DATE, DATETIME and TIMESTAMP as 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]', TIME as '[-]H:MM:SS[.ffffff]';</item>
/// <item>values sent before the execute with COM_STMT_SEND_LONG_DATA as their concatenated parts.</item>
/// </list>
/// </summary>
internal static class ExecuteParameters
{
    /// <param name="payload">The COM_STMT_EXECUTE packet (command byte first).</param>
    /// <param name="count">The statement's parameter count.</param>
    /// <param name="types">2 bytes per parameter: type, then 0x80 when unsigned (the last types the client sent).</param>
    /// <param name="longData">COM_STMT_SEND_LONG_DATA parts since the last execute: parameter id (2 bytes), then data.</param>
    public static IReadOnlyList<string> Read(ReadOnlySpan<byte> payload, int count, ReadOnlySpan<byte> types, IReadOnlyList<byte[]> longData)
    {
        var literals = new string[count];
        if (count == 0)
        {
            return literals;
        }

        var nullBitmap = payload.Slice(1 + 4 + 1 + 4, (count + 7) / 8);
        var boundOffset = 1 + 4 + 1 + 4 + nullBitmap.Length;
        var valuesOffset = boundOffset + 1 + (payload[boundOffset] == 1 ? 2 * count : 0);
        var reader = new PayloadReader(payload[valuesOffset..]);
        var sent = LongDataByParameter(longData);
        for (var i = 0; i < count; i++)
        {
            var type = (ColumnType)types[2 * i];
            var unsigned = (types[2 * i + 1] & 0x80) != 0;
            if ((nullBitmap[i / 8] & (1 << (i % 8))) != 0)
            {
                literals[i] = "NULL";
            }
            else if (sent.TryGetValue(i, out var data))
            {
                literals[i] = Bytes(data.ToArray(), type);
            }
            else
            {
                literals[i] = ReadValue(ref reader, type, unsigned, i);
            }
        }

        return literals;
    }

    private static Dictionary<int, MemoryStream> LongDataByParameter(IReadOnlyList<byte[]> parts)
    {
        var sent = new Dictionary<int, MemoryStream>();
        foreach (var part in parts)
        {
            if (part.Length < 2)
            {
                continue;
            }

            var parameter = BinaryPrimitives.ReadUInt16LittleEndian(part);
            if (!sent.TryGetValue(parameter, out var data))
            {
                sent[parameter] = data = new MemoryStream();
            }

            data.Write(part, 2, part.Length - 2);
        }

        return sent;
    }

    private static string ReadValue(ref PayloadReader r, ColumnType type, bool unsigned, int index)
    {
        switch (type)
        {
            case ColumnType.Tiny:
                var tiny = r.ReadByte();
                return unsigned ? Integer(tiny) : Integer((sbyte)tiny);
            case ColumnType.Short or ColumnType.Year:
                var small = r.ReadUInt16();
                return unsigned ? Integer(small) : Integer((short)small);
            case ColumnType.Long or ColumnType.Int24:
                var word = r.ReadUInt32();
                return unsigned ? Integer(word) : Integer((int)word);
            case ColumnType.LongLong:
                var big = r.ReadUInt64();
                return unsigned ? big.ToString(CultureInfo.InvariantCulture) : Integer((long)big);
            case ColumnType.Float:
                return Real(BitConverter.Int32BitsToSingle((int)r.ReadUInt32()), index);
            case ColumnType.Double:
                return Real(BitConverter.Int64BitsToDouble((long)r.ReadUInt64()), index);
            case ColumnType.Date or ColumnType.DateTime or ColumnType.Timestamp or ColumnType.NewDate:
                return DateTime(ref r, type);
            case ColumnType.Time:
                return Time(ref r);
            case ColumnType.Null:
                return "NULL";
            default:
                // Strings, blobs, DECIMAL, JSON, BIT, ENUM, SET, GEOMETRY: length-encoded bytes.
                return Bytes(r.ReadLengthEncodedBytes().ToArray(), type);
        }
    }

    private static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Real(double value, int index)
    {
        if (!double.IsFinite(value))
        {
            throw new GatewaySqlException(1210, "HY000", $"Incorrect arguments to mysqld_stmt_execute: parameter {index + 1} is {value}, which is not a number MariaDB stores");
        }

        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('E', StringComparison.Ordinal) ? text : text + "E0";
    }

    private static string Bytes(byte[] value, ColumnType type)
    {
        if (type is ColumnType.Decimal or ColumnType.NewDecimal && IsDecimalText(value))
        {
            return Encoding.ASCII.GetString(value);
        }

        if (!System.Text.Unicode.Utf8.IsValid(value))
        {
            return SqlQuoter.Binary(value);
        }

        // Quote doubling only (the NO_BACKSLASH_ESCAPES quoter): with no backslash or control character in the text,
        // the literal reads the same under either sql_mode.
        var text = Encoding.UTF8.GetString(value);
        return IsPlain(text) ? SqlQuoter.NoBackslashEscapes.String(text) : "_utf8mb4 " + SqlQuoter.Binary(value);
    }

    /// <summary>Text that reads the same as a quoted literal whatever the sql_mode: no backslash, no control characters.</summary>
    private static bool IsPlain(string text)
    {
        foreach (var c in text)
        {
            if (c == '\\' || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsDecimalText(byte[] value)
    {
        if (value.Length == 0)
        {
            return false;
        }

        int digits = 0, points = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var b = value[i];
            if (b is >= (byte)'0' and <= (byte)'9')
            {
                digits++;
            }
            else if (b == '.')
            {
                points++;
            }
            else if (!(i == 0 && b is (byte)'-' or (byte)'+'))
            {
                return false;
            }
        }

        return digits > 0 && points <= 1;
    }

    private static string DateTime(ref PayloadReader r, ColumnType type)
    {
        var v = BinaryTemporal.ReadDateTime(ref r);
        var date = string.Create(CultureInfo.InvariantCulture, $"{v.Year:0000}-{v.Month:00}-{v.Day:00}");
        if (type == ColumnType.Date && v.Hour + v.Minute + v.Second + v.Microsecond == 0)
        {
            return "'" + date + "'";
        }

        var time = string.Create(CultureInfo.InvariantCulture, $"{v.Hour:00}:{v.Minute:00}:{v.Second:00}");
        return v.Microsecond == 0 ? $"'{date} {time}'" : string.Create(CultureInfo.InvariantCulture, $"'{date} {time}.{v.Microsecond:000000}'");
    }

    private static string Time(ref PayloadReader r)
    {
        var v = BinaryTemporal.ReadTime(ref r);
        var text = string.Create(CultureInfo.InvariantCulture, $"{(v.Negative ? "-" : string.Empty)}{v.Hours:00}:{v.Minute:00}:{v.Second:00}");
        return v.Microsecond == 0 ? $"'{text}'" : string.Create(CultureInfo.InvariantCulture, $"'{text}.{v.Microsecond:000000}'");
    }
}
