using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Durable.MySql;

/// <summary>
/// One column value in the form a SELECT returns it over the text protocol: NULL, or the bytes of its text
/// rendering ("-128", "1.50", "2024-01-31 12:00:00.000001", raw bytes for BLOB/BINARY/BIT/GEOMETRY, the string of an
/// ENUM...). Both the result set reader and the binlog row decoder produce this representation, so a row read by
/// SELECT and the same row decoded from a binlog event compare equal byte for byte, and a value can be written back
/// as a literal without knowing where it came from. Values from a <see cref="MySqlDataReader"/> point into the
/// connection's read buffer and are valid until the next row is read; call <see cref="ToOwned"/> to keep one.
/// </summary>
public readonly struct MySqlValue : IEquatable<MySqlValue>
{
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly bool _notNull;

    private MySqlValue(ReadOnlyMemory<byte> bytes, bool notNull)
    {
        _bytes = bytes;
        _notNull = notNull;
    }

    public static MySqlValue Null => default;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static MySqlValue FromBytes(ReadOnlyMemory<byte> bytes) => new(bytes, true);

    public static MySqlValue FromString(string text) => new(Encoding.UTF8.GetBytes(text), true);

    public bool IsNull => !_notNull;

    /// <summary>The text-protocol bytes; empty for NULL (check <see cref="IsNull"/>).</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    public ReadOnlySpan<byte> Span => _bytes.Span;

    public MySqlValue ToOwned() => IsNull ? Null : new MySqlValue(_bytes.ToArray(), true);

    public string? AsString() => IsNull ? null : Encoding.UTF8.GetString(_bytes.Span);

    public byte[]? AsBytes() => IsNull ? null : _bytes.ToArray();

    public long AsInt64() =>
        Utf8Parser.TryParse(NotNull(), out long v, out var used) && used == _bytes.Length ? v : throw Invalid("a signed 64-bit integer");

    public ulong AsUInt64() =>
        Utf8Parser.TryParse(NotNull(), out ulong v, out var used) && used == _bytes.Length ? v : throw Invalid("an unsigned 64-bit integer");

    public int AsInt32() =>
        Utf8Parser.TryParse(NotNull(), out int v, out var used) && used == _bytes.Length ? v : throw Invalid("a 32-bit integer");

    public decimal AsDecimal() =>
        decimal.TryParse(Encoding.ASCII.GetString(NotNull()), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw Invalid("a decimal");

    public double AsDouble() =>
        double.TryParse(Encoding.ASCII.GetString(NotNull()), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw Invalid("a double");

    /// <summary>A DATE/DATETIME/TIMESTAMP value; zero dates ("0000-00-00") have no DateTime and are rejected.</summary>
    public DateTime AsDateTime()
    {
        var s = Encoding.ASCII.GetString(NotNull());
        string[] formats = ["yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFF"];
        return DateTime.TryParseExact(s, formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var v)
            ? v
            : throw Invalid("a date/time (zero dates such as 0000-00-00 have no DateTime)");
    }

    public bool Equals(MySqlValue other) =>
        IsNull == other.IsNull && _bytes.Span.SequenceEqual(other._bytes.Span);

    public override bool Equals(object? obj) => obj is MySqlValue v && Equals(v);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(IsNull);
        h.AddBytes(_bytes.Span);
        return h.ToHashCode();
    }

    public static bool operator ==(MySqlValue a, MySqlValue b) => a.Equals(b);

    public static bool operator !=(MySqlValue a, MySqlValue b) => !a.Equals(b);

    /// <summary>Readable form for messages and test failures: NULL, the text, or X'hex' for non-UTF-8 bytes.</summary>
    public override string ToString()
    {
        if (IsNull)
        {
            return "NULL";
        }

        var span = _bytes.Span;
        if (span.Length > 200)
        {
            return $"<{span.Length} bytes, sha256 {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(span))[..16]}>";
        }

        return System.Text.Unicode.Utf8.IsValid(span) && !span.Contains((byte)0) ? Encoding.UTF8.GetString(span) : "X'" + Convert.ToHexString(span) + "'";
    }

    private ReadOnlySpan<byte> NotNull() =>
        IsNull ? throw new InvalidOperationException("The value is NULL; check IsNull before converting it.") : _bytes.Span;

    private FormatException Invalid(string what) => new($"The value {this} is not {what}.");
}
