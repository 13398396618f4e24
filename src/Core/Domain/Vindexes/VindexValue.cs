using System.Globalization;
using System.Text;

namespace Durable.Core.Vindexes;

/// <summary>What kind of SQL value a vindex column holds; vindexes treat integers, text and NULL differently.</summary>
public enum VindexValueKind
{
    Null,
    Int64,
    UInt64,
    Float,
    Decimal,
    Text,
    Binary,
}

/// <summary>
/// One column value as a vindex sees it: its kind and its MySQL text representation bytes (what Vitess calls
/// <c>Value.ToBytes()</c>): integer 1 is the ASCII bytes "1", a VARCHAR is its UTF-8 bytes, NULL is empty.
/// </summary>
public sealed class VindexValue
{
    private readonly byte[] _bytes;

    private VindexValue(VindexValueKind kind, byte[] bytes)
    {
        Kind = kind;
        _bytes = bytes;
    }

    public static VindexValue Null { get; } = new(VindexValueKind.Null, []);

    public VindexValueKind Kind { get; }

    public ReadOnlySpan<byte> Bytes => _bytes;

    public static VindexValue FromInt64(long value) =>
        new(VindexValueKind.Int64, Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture)));

    public static VindexValue FromUInt64(ulong value) =>
        new(VindexValueKind.UInt64, Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture)));

    /// <summary>A DOUBLE/FLOAT value; its text is the shortest round-trip form.</summary>
    public static VindexValue FromDouble(double value) =>
        new(VindexValueKind.Float, Encoding.ASCII.GetBytes(value.ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>A DECIMAL value given as MySQL prints it (e.g. "12.50").</summary>
    public static VindexValue FromDecimalText(string text) => new(VindexValueKind.Decimal, Encoding.ASCII.GetBytes(text));

    public static VindexValue FromText(string text) => new(VindexValueKind.Text, Encoding.UTF8.GetBytes(text));

    /// <summary>Text whose bytes are already in hand (e.g. from a row event); they are not re-encoded.</summary>
    public static VindexValue FromTextBytes(ReadOnlySpan<byte> utf8) => new(VindexValueKind.Text, utf8.ToArray());

    public static VindexValue FromBinary(ReadOnlySpan<byte> bytes) => new(VindexValueKind.Binary, bytes.ToArray());

    /// <summary>
    /// The value as an unsigned 64-bit key, as Vitess's <c>ToUint64</c> casts it for the numeric vindexes: integers and
    /// integer text parse, a negative number or anything else has no key. With <paramref name="wrapSigned"/> (what the
    /// <c>hash</c> vindex does for signed integer columns) a negative INT64 wraps instead: −1 becomes 2^64−1.
    /// </summary>
    public bool TryGetUInt64(out ulong value, bool wrapSigned = false)
    {
        value = 0;
        if (Kind is not (VindexValueKind.Int64 or VindexValueKind.UInt64 or VindexValueKind.Text or VindexValueKind.Binary))
        {
            return false;
        }

        var text = Encoding.ASCII.GetString(_bytes).Trim();
        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        if (wrapSigned && Kind == VindexValueKind.Int64
            && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var signed))
        {
            value = unchecked((ulong)signed);
            return true;
        }

        return false;
    }

    public override string ToString() => Kind == VindexValueKind.Null
        ? "NULL"
        : Kind is VindexValueKind.Binary ? "0x" + Convert.ToHexStringLower(_bytes) : Encoding.UTF8.GetString(_bytes);
}
