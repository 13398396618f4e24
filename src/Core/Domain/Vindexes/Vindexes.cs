using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Durable.Core.Vindexes;

/// <summary>A vindex input it cannot map (e.g. invalid UTF-8 for a unicode vindex, a keyspace id of the wrong size).</summary>
public sealed class VindexException(string message) : Exception(message);

/// <summary>
/// Maps a column value to a keyspace id, as a Vitess functional vindex does. <see cref="Map"/> returns null when the
/// value maps to no keyspace id at all (Vitess's DestinationNone: such a row belongs to no shard).
/// </summary>
public interface IVindex
{
    /// <summary>The name the VSchema gives this vindex (e.g. <c>hash</c>, <c>xxhash_customer</c>).</summary>
    string Name { get; }

    /// <summary>The vindex type (<c>hash</c>, <c>xxhash</c>, ...).</summary>
    string Type { get; }

    /// <summary>Unique vindexes map a value to at most one keyspace id; only they can drive <c>in_keyrange</c>.</summary>
    bool IsUnique { get; }

    int Cost { get; }

    byte[]? Map(VindexValue value);
}

/// <summary>A vindex whose keyspace id can be turned back into the column value.</summary>
public interface IReversibleVindex : IVindex
{
    VindexValue ReverseMap(ReadOnlySpan<byte> keyspaceId);
}

/// <summary>
/// <c>hash</c>: DES-encrypt (all-zero key) the big-endian uint64 value. Signed integer columns wrap (−1 hashes as
/// 2^64−1); unsigned and text values must be non-negative integers, anything else maps to no shard. Reversible.
/// </summary>
public sealed class HashVindex(string name) : IReversibleVindex
{
    // The all-zero key is a DES weak key: encryption is its own inverse, which Vitess relies on for ReverseMap.
    private static readonly DesBlockCipher Cipher = new(new byte[8]);

    public string Name { get; } = name;

    public string Type => "hash";

    public bool IsUnique => true;

    public int Cost => 1;

    public static byte[] Hash(ulong value)
    {
        var keyspaceId = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(keyspaceId, Cipher.Encrypt(value));
        return keyspaceId;
    }

    public static ulong Unhash(ReadOnlySpan<byte> keyspaceId)
    {
        if (keyspaceId.Length != 8)
        {
            throw new VindexException($"hash: a keyspace id is 8 bytes; got {keyspaceId.Length} (0x{Convert.ToHexStringLower(keyspaceId)}).");
        }

        return Cipher.Decrypt(BinaryPrimitives.ReadUInt64BigEndian(keyspaceId));
    }

    public byte[]? Map(VindexValue value) => value.TryGetUInt64(out var number, wrapSigned: true) ? Hash(number) : null;

    public VindexValue ReverseMap(ReadOnlySpan<byte> keyspaceId) => VindexValue.FromUInt64(Unhash(keyspaceId));
}

/// <summary><c>xxhash</c>: XXH64 (seed 0) of the value's text bytes, written little-endian. Not reversible.</summary>
public sealed class XxHashVindex(string name) : IVindex
{
    public string Name { get; } = name;

    public string Type => "xxhash";

    public bool IsUnique => true;

    public int Cost => 1;

    public byte[]? Map(VindexValue value)
    {
        var keyspaceId = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(keyspaceId, XxHash64.Hash(value.Bytes));
        return keyspaceId;
    }
}

/// <summary><c>binary_md5</c>: MD5 of the value's bytes, exactly as stored (case and trailing spaces count).</summary>
public sealed class BinaryMd5Vindex(string name) : IVindex
{
    public string Name { get; } = name;

    public string Type => "binary_md5";

    public bool IsUnique => true;

    public int Cost => 1;

    public byte[]? Map(VindexValue value) => MD5.HashData(value.Bytes);
}

/// <summary><c>numeric</c>: the big-endian uint64 value itself (negative values map to no shard). Reversible; cost 0.</summary>
public sealed class NumericVindex(string name) : IReversibleVindex
{
    public string Name { get; } = name;

    public string Type => "numeric";

    public bool IsUnique => true;

    public int Cost => 0;

    public byte[]? Map(VindexValue value)
    {
        if (!value.TryGetUInt64(out var number))
        {
            return null;
        }

        var keyspaceId = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(keyspaceId, number);
        return keyspaceId;
    }

    public VindexValue ReverseMap(ReadOnlySpan<byte> keyspaceId) => keyspaceId.Length == 8
        ? VindexValue.FromUInt64(BinaryPrimitives.ReadUInt64BigEndian(keyspaceId))
        : throw new VindexException($"numeric: a keyspace id is 8 bytes; got {keyspaceId.Length}.");
}

/// <summary><c>binary</c>: the value's bytes are the keyspace id. Reversible.</summary>
public sealed class BinaryVindex(string name) : IReversibleVindex
{
    public string Name { get; } = name;

    public string Type => "binary";

    public bool IsUnique => true;

    public int Cost => 0;

    public byte[]? Map(VindexValue value) => value.Bytes.ToArray();

    public VindexValue ReverseMap(ReadOnlySpan<byte> keyspaceId) => VindexValue.FromBinary(keyspaceId);
}

/// <summary><c>reverse_bits</c>: the uint64 value with its 64 bits in reverse order, big-endian. Reversible.</summary>
public sealed class ReverseBitsVindex(string name) : IReversibleVindex
{
    public string Name { get; } = name;

    public string Type => "reverse_bits";

    public bool IsUnique => true;

    public int Cost => 1;

    public byte[]? Map(VindexValue value)
    {
        if (!value.TryGetUInt64(out var number))
        {
            return null;
        }

        var keyspaceId = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(keyspaceId, Reverse(number));
        return keyspaceId;
    }

    public VindexValue ReverseMap(ReadOnlySpan<byte> keyspaceId) => keyspaceId.Length == 8
        ? VindexValue.FromUInt64(Reverse(BinaryPrimitives.ReadUInt64BigEndian(keyspaceId)))
        : throw new VindexException($"reverse_bits: a keyspace id is 8 bytes; got {keyspaceId.Length}.");

    private static ulong Reverse(ulong value)
    {
        ulong result = 0;
        for (var i = 0; i < 64; i++)
        {
            result = (result << 1) | (value & 1);
            value >>= 1;
        }

        return result;
    }
}

/// <summary>
/// <c>unicode_loose_md5</c>: MD5 of the value's level-1 (base letter) collation key after trailing spaces are
/// removed, so "Test", "TEST", "Tést" and "Test " share a keyspace id. Vitess takes the key from golang.org/x/text
/// (English, Loose); Durable carries those weights for U+0009–U+000D, U+0020–U+007E, U+00A0–U+024F and the combining
/// marks U+0300–U+036F (less U+00B7, which contracts with L), and refuses any other character with an error naming
/// it rather than guess a key that could route a row to the wrong shard.
/// </summary>
public sealed class UnicodeLooseMd5Vindex(string name) : IVindex
{
    public string Name { get; } = name;

    public string Type => "unicode_loose_md5";

    public bool IsUnique => true;

    public int Cost => 1;

    public byte[]? Map(VindexValue value) => MD5.HashData(UnicodeLooseWeights.Key(value.Bytes));
}

/// <summary>
/// <c>unicode_loose_xxhash</c>: like <c>unicode_loose_md5</c> (same key, same supported characters), hashed with XXH64
/// (seed 0) and written little-endian.
/// </summary>
public sealed class UnicodeLooseXxHashVindex(string name) : IVindex
{
    public string Name { get; } = name;

    public string Type => "unicode_loose_xxhash";

    public bool IsUnique => true;

    public int Cost => 1;

    public byte[]? Map(VindexValue value)
    {
        var keyspaceId = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(keyspaceId, XxHash64.Hash(UnicodeLooseWeights.Key(value.Bytes)));
        return keyspaceId;
    }
}

internal static partial class UnicodeLooseWeights
{
    private static readonly Dictionary<int, ushort[]> ByCodePoint = Table.ToDictionary(e => e.CodePoint, e => e.Weights);

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static byte[] Key(ReadOnlySpan<byte> utf8)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(utf8);
        }
        catch (DecoderFallbackException)
        {
            throw new VindexException($"unicode_loose vindexes: cannot normalize a value containing invalid UTF-8 (0x{Convert.ToHexStringLower(utf8)}).");
        }

        // MySQL ignores trailing spaces in PAD SPACE comparisons, and Vitess trims them before taking the key.
        text = text.TrimEnd(' ');
        var key = new List<byte>(text.Length * 2);
        foreach (var rune in text.EnumerateRunes())
        {
            if (!ByCodePoint.TryGetValue(rune.Value, out var weights))
            {
                throw new VindexException(
                    $"unicode_loose vindexes: character U+{rune.Value:X4} in '{text}' is outside the supported set " +
                    "(U+0009-U+000D, U+0020-U+007E, U+00A0-U+024F except U+00B7, U+0300-U+036F); its Vitess collation weight is not known here.");
            }

            foreach (var weight in weights)
            {
                key.Add((byte)(weight >> 8));
                key.Add((byte)weight);
            }
        }

        return [.. key];
    }
}

/// <summary>Creates vindexes by their VSchema type name.</summary>
public static class VindexFactory
{
    private static readonly Dictionary<string, Func<string, IVindex>> Types = new(StringComparer.Ordinal)
    {
        ["hash"] = n => new HashVindex(n),
        ["xxhash"] = n => new XxHashVindex(n),
        ["binary_md5"] = n => new BinaryMd5Vindex(n),
        ["numeric"] = n => new NumericVindex(n),
        ["unicode_loose_md5"] = n => new UnicodeLooseMd5Vindex(n),
        ["unicode_loose_xxhash"] = n => new UnicodeLooseXxHashVindex(n),
        ["binary"] = n => new BinaryVindex(n),
        ["reverse_bits"] = n => new ReverseBitsVindex(n),
    };

    public static IReadOnlyCollection<string> KnownTypes => Types.Keys;

    public static bool IsKnown(string type) => Types.ContainsKey(type);

    public static IVindex Create(string type, string name) => Types.TryGetValue(type, out var create)
        ? create(name)
        : throw new ArgumentException(
            $"Unknown vindex type '{type}' for vindex '{name}'; supported types: {string.Join(", ", Types.Keys)}.", nameof(type));
}
