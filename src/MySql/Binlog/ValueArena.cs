namespace Durable.MySql.Binlog;

/// <summary>
/// Hands out slices of shared chunks for the decoded values of one event, so decoding a row costs no allocation per
/// value. The packet buffer is reused by the next read, so bytes are always copied here.
/// </summary>
internal sealed class ValueArena
{
    private const int ChunkSize = 64 * 1024;
    private byte[] _chunk = new byte[ChunkSize];
    private int _used;

    public void Reset()
    {
        // Values of earlier events may still be referenced by the caller: start a fresh chunk instead of reusing.
        if (_used > 0)
        {
            _chunk = new byte[ChunkSize];
            _used = 0;
        }
    }

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
