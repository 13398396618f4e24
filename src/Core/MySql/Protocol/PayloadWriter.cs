using System.Buffers.Binary;
using System.Text;

namespace Durable.MySql.Protocol;

/// <summary>
/// Builds one outgoing packet payload in a reusable buffer. The first four bytes are reserved for the packet header
/// so a payload under 16 MiB is sent with a single write and no copy.
/// </summary>
public sealed class PayloadWriter
{
    internal const int HeaderSize = 4;
    private byte[] _buffer;

    public PayloadWriter(int capacity = 256)
    {
        _buffer = new byte[Math.Max(capacity, 16)];
        Length = HeaderSize;
    }

    /// <summary>Bytes written so far including the reserved header.</summary>
    internal int Length { get; private set; }

    public int PayloadLength => Length - HeaderSize;

    internal byte[] Buffer => _buffer;

    public ReadOnlySpan<byte> Payload => _buffer.AsSpan(HeaderSize, Length - HeaderSize);

    public void Clear() => Length = HeaderSize;

    public void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[Length++] = value;
    }

    public void WriteUInt16(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(Length), value);
        Length += 2;
    }

    public void WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(Length), value);
        Length += 4;
    }

    public void WriteUInt64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(Length), value);
        Length += 8;
    }

    public void WriteLengthEncoded(ulong value)
    {
        if (value < 0xFB)
        {
            WriteByte((byte)value);
        }
        else if (value <= 0xFFFF)
        {
            WriteByte(0xFC);
            WriteUInt16((ushort)value);
        }
        else if (value <= 0xFFFFFF)
        {
            WriteByte(0xFD);
            WriteByte((byte)value);
            WriteByte((byte)(value >> 8));
            WriteByte((byte)(value >> 16));
        }
        else
        {
            WriteByte(0xFE);
            WriteUInt64(value);
        }
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void WriteLengthEncodedBytes(ReadOnlySpan<byte> bytes)
    {
        WriteLengthEncoded((ulong)bytes.Length);
        WriteBytes(bytes);
    }

    public void WriteString(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        Ensure(count);
        Length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(Length));
    }

    public void WriteNullTerminatedString(string value)
    {
        WriteString(value);
        WriteByte(0);
    }

    public void WriteZeros(int count)
    {
        Ensure(count);
        _buffer.AsSpan(Length, count).Clear();
        Length += count;
    }

    private void Ensure(int extra)
    {
        if (Length + extra > _buffer.Length)
        {
            var size = Math.Max(_buffer.Length * 2L, (long)Length + extra);
            Array.Resize(ref _buffer, (int)Math.Min(size, Array.MaxLength));
        }
    }
}
