namespace Durable.MySql.Binlog;

/// <summary>
/// Hands out slices of shared chunks for decoded values, so decoding a row costs no allocation per value. Slices are
/// never reused (callers may keep values of earlier events): a full chunk is simply replaced by a new one and left to
/// the garbage collector once no value points into it. The packet buffer is reused by the next read, so bytes are
/// always copied here.
/// </summary>
internal sealed class ValueArena
{
    private const int ChunkSize = 64 * 1024;
    private byte[] _chunk = new byte[ChunkSize];
    private int _used;

    public ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> bytes)
    {
        var target = Allocate(bytes.Length);
        bytes.CopyTo(target.Span);
        return target;
    }

    public Memory<byte> Allocate(int length)
    {
        if (length > ChunkSize / 4)
        {
            return new byte[length];
        }

        if (_used + length > _chunk.Length)
        {
            _chunk = new byte[ChunkSize];
            _used = 0;
        }

        var m = _chunk.AsMemory(_used, length);
        _used += length;
        return m;
    }

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
