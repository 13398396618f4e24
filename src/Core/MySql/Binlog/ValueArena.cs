using System.Runtime.CompilerServices;

namespace Durable.MySql.Binlog;

/// <summary>
/// Hands out slices of shared chunks for decoded values, so decoding a row costs no allocation per value. Slices are
/// never reused (callers may keep values of earlier events): a full chunk is simply replaced by a new one and left to
/// the garbage collector once no value points into it. Rendered values (numbers, dates...) are written here; raw
/// bytes are copied here unless the event buffer was handed over (<see cref="BinlogEventParser.ParseOwned"/>).
/// </summary>
internal sealed class ValueArena
{
    private const int ChunkSize = 64 * 1024;
    private byte[] _chunk = NewChunk();
    private int _used;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> bytes)
    {
        var target = Allocate(bytes.Length);
        bytes.CopyTo(target.Span);
        return target;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Memory<byte> Allocate(int length)
    {
        if (length > ChunkSize / 4)
        {
            return new byte[length];
        }

        if (_used + length > _chunk.Length)
        {
            _chunk = NewChunk();
            _used = 0;
        }

        var m = _chunk.AsMemory(_used, length);
        _used += length;
        return m;
    }

    /// <summary>
    /// Room for up to <paramref name="maxLength"/> bytes (at most a quarter chunk) to format a value into directly;
    /// <see cref="Commit"/> then hands out the part used, so small values (numbers) need no staging copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Reserve(int maxLength)
    {
        if (_used + maxLength > _chunk.Length)
        {
            _chunk = NewChunk();
            _used = 0;
        }

        return _chunk.AsSpan(_used, maxLength);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlyMemory<byte> Commit(int length)
    {
        var m = _chunk.AsMemory(_used, length);
        _used += length;
        return m;
    }

    // Every byte handed out is written before it is read, so the chunk need not be zeroed first.
    private static byte[] NewChunk() => GC.AllocateUninitializedArray<byte>(ChunkSize);

    public ReadOnlyMemory<byte> Ascii(string text)
    {
        var m = Allocate(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            m.Span[i] = (byte)text[i];
        }

        return m;
    }
}
