using System.Runtime.CompilerServices;
using System.Text;

namespace Durable.MySql.Binlog;

/// <summary>
/// Converting column bytes from their charset to the UTF-8 a utf8mb4 session receives from SELECT. Row images carry
/// values in the column's own charset; UTF-8 family and binary columns need nothing, latin1 (MySQL's latin1 is
/// Windows-1252 with the five undefined bytes mapped to C1 controls) is converted here. Other single- and multi-byte
/// charsets are passed through unchanged (documented limitation).
/// </summary>
public static class Charsets
{
    private static readonly char[] Latin1High =
    [
        '\u20AC', '\u0081', '\u201A', '\u0192', '\u201E', '\u2026', '\u2020', '\u2021', '\u02C6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008D', '\u017D', '\u008F',
        '\u0090', '\u2018', '\u2019', '\u201C', '\u201D', '\u2022', '\u2013', '\u2014', '\u02DC', '\u2122', '\u0161', '\u203A', '\u0153', '\u009D', '\u017E', '\u0178',
    ];

    /// <summary>Collation ids of latin1 in MySQL and MariaDB.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsLatin1(int collation) => collation is 5 or 8 or 15 or 31 or 47 or 48 or 49 or 94;

    /// <summary>True when <paramref name="bytes"/> need converting (non-ASCII bytes in a latin1 column).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NeedsConversion(int? collation, ReadOnlySpan<byte> bytes) =>
        collation is { } c && IsLatin1(c) && bytes.IndexOfAnyInRange((byte)0x80, (byte)0xFF) >= 0;

    public static byte[] Latin1ToUtf8(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            chars[i] = b is >= 0x80 and <= 0x9F ? Latin1High[b - 0x80] : (char)b;
        }

        return Encoding.UTF8.GetBytes(chars);
    }
}
