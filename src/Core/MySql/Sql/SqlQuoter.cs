using System.Globalization;
using System.Text;

namespace Durable.MySql.Sql;

/// <summary>
/// Quoting of identifiers and literals for SQL text. Every part of the project builds SQL through this type, never
/// by pasting values. String literals depend on the session's NO_BACKSLASH_ESCAPES mode (a connection exposes the
/// right quoter as <see cref="MySqlConnection.Quoter"/>); the escaping used in standard mode also happens to be the
/// only one that is safe in both modes for strings without backslashes.
/// </summary>
public sealed class SqlQuoter
{
    public static readonly SqlQuoter Standard = new(noBackslashEscapes: false);
    public static readonly SqlQuoter NoBackslashEscapes = new(noBackslashEscapes: true);

    private SqlQuoter(bool noBackslashEscapes) => UsesNoBackslashEscapes = noBackslashEscapes;

    public bool UsesNoBackslashEscapes { get; }

    /// <summary>`name` with embedded backticks doubled. Rejects empty names, NUL, and names over 256 characters.</summary>
    public static string Identifier(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            throw new ArgumentException("An SQL identifier cannot be empty; give a table, column or schema name.", nameof(name));
        }

        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The SQL identifier '{name.Replace("\0", "\\0", StringComparison.Ordinal)}' contains a NUL character, which MySQL identifiers cannot hold.", nameof(name));
        }

        if (name.Length > 256)
        {
            throw new ArgumentException($"The SQL identifier '{name[..32]}...' is {name.Length} characters long; MySQL allows at most 64 (256 for aliases).", nameof(name));
        }

        return "`" + name.Replace("`", "``", StringComparison.Ordinal) + "`";
    }

    /// <summary>`schema`.`table`.</summary>
    public static string QualifiedName(string schema, string table) => Identifier(schema) + "." + Identifier(table);

    /// <summary>A string literal: 'text' escaped for this quoter's mode.</summary>
    public string String(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var sb = new StringBuilder(value.Length + 2);
        sb.Append('\'');
        foreach (var ch in value)
        {
            if (UsesNoBackslashEscapes)
            {
                sb.Append(ch == '\'' ? "''" : ch);
                continue;
            }

            switch (ch)
            {
                case '\0': sb.Append("\\0"); break;
                case '\'': sb.Append("\\'"); break;
                case '"': sb.Append("\\\""); break;
                case '\b': sb.Append("\\b"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\x1A': sb.Append("\\Z"); break;
                case '\\': sb.Append("\\\\"); break;
                default: sb.Append(ch); break;
            }
        }

        return sb.Append('\'').ToString();
    }

    /// <summary>A binary literal X'hex' (X'' for an empty value): exact bytes, no charset conversion, no escaping issues.</summary>
    public static string Binary(ReadOnlySpan<byte> value) => "X'" + Convert.ToHexString(value) + "'";

    /// <summary>
    /// A literal for a .NET value: NULL, numbers in invariant culture, booleans as 1/0, DateTime as
    /// 'yyyy-MM-dd HH:mm:ss.ffffff', byte arrays as X'..', strings quoted. Other types are rejected.
    /// </summary>
    public string Literal(object? value) => value switch
    {
        null or DBNull => "NULL",
        string s => String(s),
        byte[] b => Binary(b),
        ReadOnlyMemory<byte> m => Binary(m.Span),
        bool b => b ? "1" : "0",
        sbyte or byte or short or ushort or int or uint or long or ulong => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        decimal d => d.ToString(CultureInfo.InvariantCulture),
        double d when double.IsFinite(d) => d.ToString("R", CultureInfo.InvariantCulture),
        float f when float.IsFinite(f) => f.ToString("R", CultureInfo.InvariantCulture),
        DateTime dt => "'" + dt.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "'",
        DateOnly d => "'" + d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "'",
        TimeSpan t => "'" + FormatTime(t) + "'",
        Guid g => String(g.ToString()),
        MySqlValue v => v.IsNull ? "NULL" : Binary(v.Span),
        _ => throw new ArgumentException($"Cannot write a {value.GetType().Name} value ({value}) as an SQL literal; use string, number, bool, DateTime, TimeSpan, Guid or byte[].", nameof(value)),
    };

    private static string FormatTime(TimeSpan t)
    {
        var sign = t < TimeSpan.Zero ? "-" : string.Empty;
        t = t.Duration();
        return string.Create(CultureInfo.InvariantCulture, $"{sign}{(long)t.TotalHours:00}:{t.Minutes:00}:{t.Seconds:00}.{t.Ticks % TimeSpan.TicksPerSecond / 10:000000}");
    }

    /// <summary>Appends a string literal for raw UTF-8 bytes (escaped for this mode) to a byte buffer.</summary>
    public void AppendStringLiteral(ByteBuilder sql, ReadOnlySpan<byte> utf8)
    {
        sql.Append((byte)'\'');
        foreach (var b in utf8)
        {
            if (UsesNoBackslashEscapes)
            {
                if (b == '\'')
                {
                    sql.Append((byte)'\'');
                }

                sql.Append(b);
                continue;
            }

            switch (b)
            {
                case 0: sql.Append((byte)'\\'); sql.Append((byte)'0'); break;
                case (byte)'\'': sql.Append((byte)'\\'); sql.Append((byte)'\''); break;
                case (byte)'"': sql.Append((byte)'\\'); sql.Append((byte)'"'); break;
                case (byte)'\n': sql.Append((byte)'\\'); sql.Append((byte)'n'); break;
                case (byte)'\r': sql.Append((byte)'\\'); sql.Append((byte)'r'); break;
                case 0x1A: sql.Append((byte)'\\'); sql.Append((byte)'Z'); break;
                case (byte)'\\': sql.Append((byte)'\\'); sql.Append((byte)'\\'); break;
                default: sql.Append(b); break;
            }
        }

        sql.Append((byte)'\'');
    }

    /// <summary>Appends X'hex' for raw bytes.</summary>
    public static void AppendBinaryLiteral(ByteBuilder sql, ReadOnlySpan<byte> bytes)
    {
        sql.Append((byte)'X');
        sql.Append((byte)'\'');
        sql.AppendHex(bytes);
        sql.Append((byte)'\'');
    }
}

/// <summary>A growable byte buffer for building SQL text as UTF-8 without intermediate strings.</summary>
public sealed class ByteBuilder
{
    private byte[] _buffer;

    public ByteBuilder(int capacity = 1024) => _buffer = new byte[Math.Max(16, capacity)];

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public void Clear() => Length = 0;

    public void Truncate(int length) => Length = length;

    public void Append(byte b)
    {
        if (Length == _buffer.Length)
        {
            Grow(1);
        }

        _buffer[Length++] = b;
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (Length + bytes.Length > _buffer.Length)
        {
            Grow(bytes.Length);
        }

        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void Append(string text)
    {
        var count = Encoding.UTF8.GetByteCount(text);
        if (Length + count > _buffer.Length)
        {
            Grow(count);
        }

        Length += Encoding.UTF8.GetBytes(text, _buffer.AsSpan(Length));
    }

    /// <summary>Appends <paramref name="bytes"/> as upper-case hex digits.</summary>
    public void AppendHex(ReadOnlySpan<byte> bytes)
    {
        var count = bytes.Length * 2;
        if (Length + count > _buffer.Length)
        {
            Grow(count);
        }

        Convert.TryToHexString(bytes, _buffer.AsSpan(Length, count), out var written);
        Length += written;
    }

    public byte[] ToArray() => _buffer.AsSpan(0, Length).ToArray();

    public override string ToString() => Encoding.UTF8.GetString(_buffer, 0, Length);

    private void Grow(int extra) => Array.Resize(ref _buffer, (int)Math.Min(Math.Max(_buffer.Length * 2L, (long)Length + extra), Array.MaxLength));
}
