using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Durable.MySql.Protocol;

namespace Durable.MySql.Binlog;

/// <summary>
/// MySQL's binary JSON (the JSON column type in row events) rendered as the text SELECT returns
/// (<c>{"a": 1, "b": [true, null]}</c>). Experimental: MariaDB stores JSON as text, so this path is only exercised
/// with crafted values until a MySQL server can be tested.
/// </summary>
public static class MySqlJson
{
    private const int MaxDepth = 100;

    public static string ToText(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0)
        {
            return "null"; // an empty JSON value is how MySQL writes a JSON NULL-equivalent in some partial updates
        }

        var sb = new StringBuilder();
        WriteValue(sb, data[0], data[1..], 0);
        return sb.ToString();
    }

    private static void WriteValue(StringBuilder sb, byte type, ReadOnlySpan<byte> data, int depth)
    {
        if (depth > MaxDepth)
        {
            throw PayloadReader.Malformed("binary JSON nested deeper than 100 levels");
        }

        switch (type)
        {
            case 0x00: WriteContainer(sb, data, isObject: true, large: false, depth); break;
            case 0x01: WriteContainer(sb, data, isObject: true, large: true, depth); break;
            case 0x02: WriteContainer(sb, data, isObject: false, large: false, depth); break;
            case 0x03: WriteContainer(sb, data, isObject: false, large: true, depth); break;
            case 0x04:
                Need(data, 1);
                sb.Append(data[0] switch
                {
                    0 => "null",
                    1 => "true",
                    2 => "false",
                    _ => throw PayloadReader.Malformed($"binary JSON literal {data[0]}"),
                });
                break;
            case 0x05: Need(data, 2); sb.Append(BinaryPrimitives.ReadInt16LittleEndian(data)); break;
            case 0x06: Need(data, 2); sb.Append(BinaryPrimitives.ReadUInt16LittleEndian(data)); break;
            case 0x07: Need(data, 4); sb.Append(BinaryPrimitives.ReadInt32LittleEndian(data)); break;
            case 0x08: Need(data, 4); sb.Append(BinaryPrimitives.ReadUInt32LittleEndian(data)); break;
            case 0x09: Need(data, 8); sb.Append(BinaryPrimitives.ReadInt64LittleEndian(data)); break;
            case 0x0A: Need(data, 8); sb.Append(BinaryPrimitives.ReadUInt64LittleEndian(data)); break;
            case 0x0B:
            {
                Need(data, 8);
                var d = BinaryPrimitives.ReadDoubleLittleEndian(data);
                var text = TextFormat.Double(d);
                sb.Append(text.Contains('.', StringComparison.Ordinal) || text.Contains('e', StringComparison.Ordinal) ? text : text + ".0");
                break;
            }

            case 0x0C:
            {
                var (length, used) = ReadVarLength(data);
                Need(data, used + length);
                WriteString(sb, Encoding.UTF8.GetString(data.Slice(used, length)));
                break;
            }

            case 0x0F:
            {
                Need(data, 1);
                var fieldType = data[0];
                var (length, used) = ReadVarLength(data[1..]);
                Need(data, 1 + used + length);
                var payload = data.Slice(1 + used, length);
                if (fieldType == (byte)ColumnType.NewDecimal && payload.Length >= 2)
                {
                    sb.Append(TextFormat.Decimal(payload[2..], payload[0], payload[1]));
                }
                else
                {
                    WriteString(sb, $"base64:type{fieldType}:{Convert.ToBase64String(payload)}");
                }

                break;
            }

            default:
                throw PayloadReader.Malformed($"binary JSON value type 0x{type:X2}");
        }
    }

    private static void WriteContainer(StringBuilder sb, ReadOnlySpan<byte> data, bool isObject, bool large, int depth)
    {
        var w = large ? 4 : 2;
        Need(data, 2 * w);
        var count = (int)ReadOffset(data, large);
        var size = (int)ReadOffset(data[w..], large);
        if (size > data.Length || count < 0)
        {
            throw PayloadReader.Malformed($"binary JSON container of {size} bytes in {data.Length}");
        }

        var keyEntrySize = w + 2;
        var valueEntrySize = 1 + w;
        var header = 2 * w;
        var valuesStart = header + (isObject ? count * keyEntrySize : 0);
        Need(data, valuesStart + (count * valueEntrySize));
        sb.Append(isObject ? '{' : '[');
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            if (isObject)
            {
                var entry = data[(header + (i * keyEntrySize))..];
                var keyOffset = (int)ReadOffset(entry, large);
                var keyLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[w..]);
                Need(data, keyOffset + keyLength);
                WriteString(sb, Encoding.UTF8.GetString(data.Slice(keyOffset, keyLength)));
                sb.Append(": ");
            }

            var valueEntry = data[(valuesStart + (i * valueEntrySize))..];
            var valueType = valueEntry[0];
            var inline = valueType is 0x04 or 0x05 or 0x06 || (large && valueType is 0x07 or 0x08);
            if (inline)
            {
                WriteValue(sb, valueType, valueEntry.Slice(1, w), depth + 1);
            }
            else
            {
                var offset = (int)ReadOffset(valueEntry[1..], large);
                if (offset >= data.Length)
                {
                    throw PayloadReader.Malformed($"binary JSON value offset {offset} beyond {data.Length} bytes");
                }

                WriteValue(sb, valueType, data[offset..], depth + 1);
            }
        }

        sb.Append(isObject ? '}' : ']');
    }

    private static uint ReadOffset(ReadOnlySpan<byte> data, bool large) =>
        large ? BinaryPrimitives.ReadUInt32LittleEndian(data) : BinaryPrimitives.ReadUInt16LittleEndian(data);

    private static (int Length, int Used) ReadVarLength(ReadOnlySpan<byte> data)
    {
        var length = 0;
        for (var i = 0; i < 5; i++)
        {
            Need(data, i + 1);
            var b = data[i];
            length |= (b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                return (length, i + 1);
            }
        }

        throw PayloadReader.Malformed("binary JSON string length longer than 5 bytes");
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (ch < 0x20)
                    {
                        sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(ch);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    private static void Need(ReadOnlySpan<byte> data, int count)
    {
        if (count < 0 || data.Length < count)
        {
            throw PayloadReader.Malformed($"binary JSON value truncated: needs {count} bytes, {data.Length} left");
        }
    }
}
