using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;

namespace Durable.MySql.Protocol;

/// <summary>
/// Reads the little-endian integers, length-encoded integers and strings of one packet payload. Every read checks
/// the bounds, so a truncated or malformed packet surfaces as a <see cref="MySqlException"/> (2027), never as an
/// out-of-range crash or a hang.
/// </summary>
public ref struct PayloadReader
{
    private readonly ReadOnlySpan<byte> _data;

    public PayloadReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        Offset = 0;
    }

    // The readers are forced inline: the row decoder calls them per value from methods too large for the JIT's
    // normal inlining budget.
    public int Offset { [MethodImpl(MethodImplOptions.AggressiveInlining)] readonly get; [MethodImpl(MethodImplOptions.AggressiveInlining)] set; }

    public readonly int Remaining
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _data.Length - Offset;
    }

    public readonly ReadOnlySpan<byte> Data => _data;

    public readonly byte Peek() => Remaining > 0 ? _data[Offset] : throw Truncated(1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte ReadByte()
    {
        Need(1);
        return _data[Offset++];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadUInt16()
    {
        Need(2);
        var v = BinaryPrimitives.ReadUInt16LittleEndian(_data[Offset..]);
        Offset += 2;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadUInt24()
    {
        Need(3);
        var v = (uint)(_data[Offset] | _data[Offset + 1] << 8 | _data[Offset + 2] << 16);
        Offset += 3;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadUInt32()
    {
        Need(4);
        var v = BinaryPrimitives.ReadUInt32LittleEndian(_data[Offset..]);
        Offset += 4;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadUInt48()
    {
        Need(6);
        var v = BinaryPrimitives.ReadUInt32LittleEndian(_data[Offset..]) | (ulong)BinaryPrimitives.ReadUInt16LittleEndian(_data[(Offset + 4)..]) << 32;
        Offset += 6;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadUInt64()
    {
        Need(8);
        var v = BinaryPrimitives.ReadUInt64LittleEndian(_data[Offset..]);
        Offset += 8;
        return v;
    }

    /// <summary>A length-encoded integer; 0xFB (NULL) and 0xFF (error marker) are rejected here.</summary>
    public ulong ReadLengthEncoded()
    {
        var first = ReadByte();
        return first switch
        {
            < 0xFB => first,
            0xFC => ReadUInt16(),
            0xFD => ReadUInt24(),
            0xFE => ReadUInt64(),
            _ => throw Malformed($"invalid length-encoded integer prefix 0x{first:X2} at offset {Offset - 1}"),
        };
    }

    public int ReadLengthEncodedInt32()
    {
        var v = ReadLengthEncoded();
        return v <= int.MaxValue ? (int)v : throw Malformed($"length {v} at offset {Offset} is larger than a packet can hold");
    }

    public ReadOnlySpan<byte> ReadLengthEncodedBytes()
    {
        var len = ReadLengthEncodedInt32();
        return ReadBytes(len);
    }

    public string ReadLengthEncodedString() => Encoding.UTF8.GetString(ReadLengthEncodedBytes());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        Need(count);
        var s = _data.Slice(Offset, count);
        Offset += count;
        return s;
    }

    public ReadOnlySpan<byte> ReadRest()
    {
        var s = _data[Offset..];
        Offset = _data.Length;
        return s;
    }

    /// <summary>Bytes up to a NUL terminator (which is consumed); a missing terminator is a malformed packet.</summary>
    public ReadOnlySpan<byte> ReadNullTerminated()
    {
        var idx = _data[Offset..].IndexOf((byte)0);
        if (idx < 0)
        {
            throw Malformed($"missing NUL terminator after offset {Offset}");
        }

        var s = _data.Slice(Offset, idx);
        Offset += idx + 1;
        return s;
    }

    /// <summary>Bytes up to a NUL terminator or the end of the payload.</summary>
    public ReadOnlySpan<byte> ReadNullTerminatedOrEnd()
    {
        var idx = _data[Offset..].IndexOf((byte)0);
        if (idx < 0)
        {
            return ReadRest();
        }

        var s = _data.Slice(Offset, idx);
        Offset += idx + 1;
        return s;
    }

    public string ReadNullTerminatedString() => Encoding.UTF8.GetString(ReadNullTerminated());

    public void Skip(int count)
    {
        Need(count);
        Offset += count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly void Need(int count)
    {
        // A negative count becomes huge as unsigned, so one comparison rejects both.
        if ((uint)count > (uint)Remaining)
        {
            ThrowTruncated(count);
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private readonly void ThrowTruncated(int count) => throw Truncated(count);

    private readonly MySqlException Truncated(int count) =>
        Malformed($"packet of {_data.Length} bytes is truncated: needed {count} more bytes at offset {Offset}");

    public static MySqlException Malformed(string detail) =>
        MySqlException.Client(MySqlErrorCode.MalformedPacket, "Malformed packet from the server: " + detail + ".");
}
