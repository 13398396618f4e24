using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Durable.MySql.Binlog;
using Durable.MySql.Protocol;

namespace Durable.MySql;

/// <summary>
/// A server-side prepared statement (COM_STMT_PREPARE). Parameters are sent in the binary protocol, so values never
/// pass through SQL text; result rows arrive as binary rows and are rendered into the same SELECT-text
/// <see cref="MySqlValue"/>s as text result sets. Dispose to deallocate it on the server (COM_STMT_CLOSE).
/// </summary>
public sealed class MySqlPreparedStatement : IAsyncDisposable
{
    private readonly MySqlConnection _connection;
    private bool _closed;

    internal MySqlPreparedStatement(MySqlConnection connection, uint id, int parameterCount, IReadOnlyList<MySqlColumn> columns)
    {
        _connection = connection;
        StatementId = id;
        ParameterCount = parameterCount;
        Columns = columns;
    }

    public uint StatementId { get; }

    public int ParameterCount { get; }

    /// <summary>The result columns the server announced at prepare time (empty for statements without rows).</summary>
    public IReadOnlyList<MySqlColumn> Columns { get; }

    /// <summary>Executes with the given parameter values (null, integers, floating point, decimal, bool, string, byte[], DateTime, TimeSpan).</summary>
    public async ValueTask<MySqlDataReader> ExecuteReaderAsync(IReadOnlyList<object?> parameters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ObjectDisposedException.ThrowIf(_closed, this);
        if (parameters.Count != ParameterCount)
        {
            throw new ArgumentException($"The statement has {ParameterCount} parameters (?) but {parameters.Count} values were given.", nameof(parameters));
        }

        var payload = new PayloadWriter(256);
        payload.WriteByte((byte)CommandKind.StmtExecute);
        payload.WriteUInt32(StatementId);
        payload.WriteByte(0);     // no cursor
        payload.WriteUInt32(1);   // iteration count
        if (ParameterCount > 0)
        {
            var nulls = new byte[(ParameterCount + 7) / 8];
            for (var i = 0; i < ParameterCount; i++)
            {
                if (parameters[i] is null or DBNull)
                {
                    nulls[i / 8] |= (byte)(1 << (i % 8));
                }
            }

            payload.WriteBytes(nulls);
            payload.WriteByte(1); // types follow
            foreach (var p in parameters)
            {
                var (type, unsigned) = ParameterType(p);
                payload.WriteByte((byte)type);
                payload.WriteByte(unsigned ? (byte)0x80 : (byte)0);
            }

            foreach (var p in parameters)
            {
                WriteParameter(payload, p);
            }
        }

        return await _connection.ExecutePreparedAsync(payload, cancellationToken).ConfigureAwait(false);
    }

    public async Task<OkPacket> ExecuteAsync(IReadOnlyList<object?> parameters, CancellationToken cancellationToken = default)
    {
        var reader = await ExecuteReaderAsync(parameters, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
            }

            return reader.Completion;
        }
    }

    private static (ColumnType Type, bool Unsigned) ParameterType(object? p) => p switch
    {
        null or DBNull => (ColumnType.Null, false),
        bool or sbyte or short or int or long => (ColumnType.LongLong, false),
        byte or ushort or uint or ulong => (ColumnType.LongLong, true),
        float or double => (ColumnType.Double, false),
        decimal => (ColumnType.NewDecimal, false),
        byte[] or ReadOnlyMemory<byte> => (ColumnType.Blob, false),
        string or DateTime or DateOnly or TimeSpan or Guid => (ColumnType.VarString, false),
        MySqlValue v => (v.IsNull ? ColumnType.Null : ColumnType.Blob, false),
        _ => throw new ArgumentException($"Cannot send a {p.GetType().Name} ({p}) as a statement parameter; use string, number, bool, DateTime, TimeSpan, Guid or byte[]."),
    };

    private static void WriteParameter(PayloadWriter w, object? p)
    {
        switch (p)
        {
            case null or DBNull:
                break;
            case bool b: w.WriteUInt64(b ? 1UL : 0UL); break;
            case sbyte or short or int or long: w.WriteUInt64((ulong)Convert.ToInt64(p, CultureInfo.InvariantCulture)); break;
            case byte or ushort or uint or ulong: w.WriteUInt64(Convert.ToUInt64(p, CultureInfo.InvariantCulture)); break;
            case float f: w.WriteUInt64((ulong)BitConverter.DoubleToInt64Bits(f)); break;
            case double d: w.WriteUInt64((ulong)BitConverter.DoubleToInt64Bits(d)); break;
            case decimal m: w.WriteLengthEncodedBytes(Encoding.ASCII.GetBytes(m.ToString(CultureInfo.InvariantCulture))); break;
            case byte[] bytes: w.WriteLengthEncodedBytes(bytes); break;
            case ReadOnlyMemory<byte> memory: w.WriteLengthEncodedBytes(memory.Span); break;
            case MySqlValue v: w.WriteLengthEncodedBytes(v.Span); break;
            case string s: w.WriteLengthEncodedBytes(Encoding.UTF8.GetBytes(s)); break;
            case DateTime dt: w.WriteLengthEncodedBytes(Encoding.ASCII.GetBytes(dt.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture))); break;
            case DateOnly d: w.WriteLengthEncodedBytes(Encoding.ASCII.GetBytes(d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))); break;
            case TimeSpan t: w.WriteLengthEncodedBytes(Encoding.ASCII.GetBytes(Sql.SqlQuoter.Standard.Literal(t).Trim('\''))); break;
            case Guid g: w.WriteLengthEncodedBytes(Encoding.ASCII.GetBytes(g.ToString())); break;
        }
    }

    /// <summary>Renders one binary-protocol row into SELECT-text values.</summary>
    internal static void DecodeBinaryRow(ReadOnlySpan<byte> row, IReadOnlyList<MySqlColumn> columns, MySqlValue[] values)
    {
        var r = new PayloadReader(row);
        if (r.ReadByte() != 0)
        {
            throw PayloadReader.Malformed("binary row without its 0x00 header");
        }

        var nulls = r.ReadBytes((columns.Count + 7 + 2) / 8);
        for (var i = 0; i < columns.Count; i++)
        {
            var bit = i + 2;
            if ((nulls[bit / 8] & (1 << (bit % 8))) != 0)
            {
                values[i] = MySqlValue.Null;
                continue;
            }

            var c = columns[i];
            values[i] = c.Type switch
            {
                ColumnType.Tiny => Text(c.IsUnsigned ? r.ReadByte().ToString(CultureInfo.InvariantCulture) : ((sbyte)r.ReadByte()).ToString(CultureInfo.InvariantCulture)),
                ColumnType.Short => Text(c.IsUnsigned ? r.ReadUInt16().ToString(CultureInfo.InvariantCulture) : ((short)r.ReadUInt16()).ToString(CultureInfo.InvariantCulture)),
                ColumnType.Year => Text(r.ReadUInt16().ToString("0000", CultureInfo.InvariantCulture)),
                ColumnType.Int24 or ColumnType.Long => Text(c.IsUnsigned ? r.ReadUInt32().ToString(CultureInfo.InvariantCulture) : ((int)r.ReadUInt32()).ToString(CultureInfo.InvariantCulture)),
                ColumnType.LongLong => Text(c.IsUnsigned ? r.ReadUInt64().ToString(CultureInfo.InvariantCulture) : ((long)r.ReadUInt64()).ToString(CultureInfo.InvariantCulture)),
                ColumnType.Float => Text(FixedOrShortest(BitConverter.Int32BitsToSingle((int)r.ReadUInt32()), c.Decimals, isFloat: true)),
                ColumnType.Double => Text(FixedOrShortest(BitConverter.Int64BitsToDouble((long)r.ReadUInt64()), c.Decimals, isFloat: false)),
                ColumnType.Date or ColumnType.NewDate or ColumnType.DateTime or ColumnType.Timestamp or ColumnType.DateTime2 or ColumnType.Timestamp2 => Text(DateTimeText(ref r, c)),
                ColumnType.Time or ColumnType.Time2 => Text(TimeText(ref r, c.Decimals)),
                _ => MySqlValue.FromBytes(r.ReadLengthEncodedBytes().ToArray()),
            };
        }
    }

    private static MySqlValue Text(string s) => MySqlValue.FromBytes(Encoding.ASCII.GetBytes(s));

    private static string FixedOrShortest(double value, byte decimals, bool isFloat) =>
        decimals < 31 ? TextFormat.FixedDecimals(value, decimals) : isFloat ? TextFormat.Float((float)value) : TextFormat.Double(value);

    private static string DateTimeText(ref PayloadReader r, MySqlColumn c)
    {
        var v = BinaryTemporal.ReadDateTime(ref r);
        var date = string.Create(CultureInfo.InvariantCulture, $"{v.Year:0000}-{v.Month:00}-{v.Day:00}");
        if (c.Type is ColumnType.Date or ColumnType.NewDate)
        {
            return date;
        }

        var fsp = c.Decimals <= 6 ? c.Decimals : 0;
        return date + string.Create(CultureInfo.InvariantCulture, $" {v.Hour:00}:{v.Minute:00}:{v.Second:00}") + TextFormat.Fraction(v.Microsecond, fsp);
    }

    private static string TimeText(ref PayloadReader r, byte decimals)
    {
        var v = BinaryTemporal.ReadTime(ref r);
        var fsp = decimals <= 6 ? decimals : 0;
        return string.Create(CultureInfo.InvariantCulture, $"{(v.Negative ? "-" : string.Empty)}{v.Hours:00}:{v.Minute:00}:{v.Second:00}") + TextFormat.Fraction(v.Microsecond, fsp);
    }

    public async ValueTask DisposeAsync()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        if (_connection.IsUsable)
        {
            var payload = new PayloadWriter(8);
            payload.WriteByte((byte)CommandKind.StmtClose);
            payload.WriteUInt32(StatementId);
            await _connection.SendWithoutResponseAsync(payload).ConfigureAwait(false);
        }
    }
}
