namespace Durable.MySql.Protocol;

/// <summary>
/// The packet framing of the MySQL protocol over a byte stream: a 3-byte length, a 1-byte sequence number and the
/// payload; payloads of 16 MiB - 1 or more are split into maximal packets followed by a shorter one (possibly empty).
/// Reads go through one buffer, so a small packet (a row) is returned as a slice of it without a copy; the returned
/// memory is valid only until the next read. Sequence numbers are checked, so a confused or hostile peer is reported
/// as a malformed packet instead of being misread.
/// </summary>
public sealed class PacketChannel : IAsyncDisposable
{
    public const int MaxPacketPayload = 0xFFFFFF;
    private const int DefaultBufferSize = 128 * 1024;

    private byte[] _buffer;
    private int _start;
    private int _end;
    private byte[] _joined = [];
    private bool _broken;

    public PacketChannel(Stream stream, int bufferSize = DefaultBufferSize)
    {
        Stream = stream;
        _buffer = new byte[bufferSize];
    }

    public Stream Stream { get; private set; }

    /// <summary>The sequence number the next packet (read or written) must carry.</summary>
    public byte Sequence { get; set; }

    /// <summary>
    /// When set, the memory of every payload read from then on stays valid for good: a full read buffer is replaced
    /// by a new one instead of being reused, and a joined (16 MiB+) payload gets an array of its own. A binlog
    /// stream's read-ahead hands payloads to its consumer this way instead of copying each one out of the buffer;
    /// the GC reclaims a buffer once nothing points into it. Buffers are then at most <see cref="HandOverBufferSize"/>
    /// (below the large-object threshold, so they die young like any other allocation).
    /// </summary>
    public bool HandOverBuffers { get; set; }

    /// <summary>The buffer size in hand-over mode: as large as possible for large socket reads, but under the 85,000-byte large-object threshold.</summary>
    public const int HandOverBufferSize = 84_000;

    /// <summary>True once an I/O or framing error left the stream at an unknown position: the connection must be dropped.</summary>
    public bool IsBroken => _broken;

    /// <summary>Replaces the stream after a TLS upgrade; nothing may be buffered at that point.</summary>
    public void ReplaceStream(Stream stream)
    {
        if (_end != _start)
        {
            throw PayloadReader.Malformed("the server sent data before the TLS handshake");
        }

        Stream = stream;
    }

    public void ResetSequence() => Sequence = 0;

    // The header of a packet written apart from its payload; one command at a time writes, so one array serves all.
    private readonly byte[] _header = new byte[4];

    /// <summary>Reads one logical payload (joining split packets).</summary>
    public ValueTask<ReadOnlyMemory<byte>> ReadPayloadAsync(CancellationToken cancellationToken)
    {
        // Fast path: a whole small packet is already buffered.
        var available = _end - _start;
        if (available >= 4)
        {
            var len = _buffer[_start] | _buffer[_start + 1] << 8 | _buffer[_start + 2] << 16;
            if (len < MaxPacketPayload && available >= 4 + len)
            {
                CheckSequence(_buffer[_start + 3]);
                var payload = new ReadOnlyMemory<byte>(_buffer, _start + 4, len);
                _start += 4 + len;
                return new ValueTask<ReadOnlyMemory<byte>>(payload);
            }
        }

        return ReadPayloadSlowAsync(cancellationToken);
    }

    private async ValueTask<ReadOnlyMemory<byte>> ReadPayloadSlowAsync(CancellationToken cancellationToken)
    {
        await FillAsync(4, cancellationToken).ConfigureAwait(false);
        var len = ReadHeader();
        if (len < MaxPacketPayload)
        {
            await FillAsync(len, cancellationToken).ConfigureAwait(false);
            var payload = new ReadOnlyMemory<byte>(_buffer, _start, len);
            _start += len;
            return payload;
        }

        // A payload of 16 MiB or more: copy the parts into one array.
        var total = 0;
        while (true)
        {
            EnsureJoined(total + len);
            var copied = 0;
            while (copied < len)
            {
                if (_end == _start)
                {
                    await FillAsync(1, cancellationToken).ConfigureAwait(false);
                }

                var n = Math.Min(len - copied, _end - _start);
                Buffer.BlockCopy(_buffer, _start, _joined, total + copied, n);
                _start += n;
                copied += n;
            }

            total += len;
            if (len < MaxPacketPayload)
            {
                var joined = new ReadOnlyMemory<byte>(_joined, 0, total);
                if (HandOverBuffers)
                {
                    _joined = [];
                }

                return joined;
            }

            await FillAsync(4, cancellationToken).ConfigureAwait(false);
            len = ReadHeader();
        }
    }

    private int ReadHeader()
    {
        var len = _buffer[_start] | _buffer[_start + 1] << 8 | _buffer[_start + 2] << 16;
        CheckSequence(_buffer[_start + 3]);
        _start += 4;
        return len;
    }

    private void CheckSequence(byte seq)
    {
        if (seq != Sequence)
        {
            _broken = true;
            throw PayloadReader.Malformed($"packet sequence number {seq} where {Sequence} was expected");
        }

        Sequence++;
    }

    private void EnsureJoined(int size)
    {
        if (_joined.Length < size)
        {
            var newSize = Math.Max(size, (int)Math.Min((long)_joined.Length * 2, Array.MaxLength));
            Array.Resize(ref _joined, newSize);
        }
    }

    /// <summary>Makes at least <paramref name="count"/> bytes available at _start (count at most the packet size).</summary>
    private async ValueTask FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_end - _start >= count)
        {
            return;
        }

        if (_buffer.Length - _start < count)
        {
            // Move the partial packet to the front, growing the buffer for a large packet.
            var pending = _end - _start;
            var target = HandOverBuffers
                ? GC.AllocateUninitializedArray<byte>(Math.Max(count, HandOverBufferSize)) // earlier payloads still point into the old one
                : _buffer.Length >= count ? _buffer : new byte[Math.Max(count, _buffer.Length * 2)];
            Buffer.BlockCopy(_buffer, _start, target, 0, pending);
            _buffer = target;
            _start = 0;
            _end = pending;
        }

        while (_end - _start < count)
        {
            int read;
            try
            {
                read = await Stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _broken = true;
                throw;
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
            {
                _broken = true;
                throw MySqlException.Client(MySqlErrorCode.ServerLost, "Lost connection to the server while reading a packet: " + ex.Message, ex);
            }

            if (read == 0)
            {
                _broken = true;
                throw MySqlException.Client(MySqlErrorCode.ServerLost,
                    "Lost connection to the server: it closed the connection" + (_end > _start ? " in the middle of a packet." : "."));
            }

            _end += read;
        }
    }

    /// <summary>Sends the payload built in <paramref name="writer"/>, splitting it into 16 MiB packets when needed.</summary>
    public ValueTask WriteAsync(PayloadWriter writer, CancellationToken cancellationToken) => GuardSendAsync(WritePayloadAsync(writer, cancellationToken));

    private async ValueTask WritePayloadAsync(PayloadWriter writer, CancellationToken cancellationToken)
    {
        var payloadLength = writer.PayloadLength;
        var buffer = writer.Buffer;
        if (payloadLength < MaxPacketPayload)
        {
            WriteHeader(buffer, 0, payloadLength);
            await Stream.WriteAsync(buffer.AsMemory(0, payloadLength + 4), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var header = _header;
            var offset = PayloadWriter.HeaderSize;
            var remaining = payloadLength;
            while (true)
            {
                var chunk = Math.Min(remaining, MaxPacketPayload);
                WriteHeader(header, 0, chunk);
                await Stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
                await Stream.WriteAsync(buffer.AsMemory(offset, chunk), cancellationToken).ConfigureAwait(false);
                offset += chunk;
                remaining -= chunk;
                if (chunk < MaxPacketPayload)
                {
                    break;
                }
            }
        }

        await Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="payload"/> as one packet (under 16 MiB) without copying it, e.g. a LOCAL INFILE part.</summary>
    public ValueTask WriteRawAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length >= MaxPacketPayload)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, $"A raw packet must be under {MaxPacketPayload} bytes.");
        }

        return GuardSendAsync(WriteRawPacketAsync(payload, cancellationToken));
    }

    private async ValueTask WriteRawPacketAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var header = _header;
        WriteHeader(header, 0, payload.Length);
        await Stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        if (payload.Length > 0)
        {
            await Stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        }

        await Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A failed or cancelled send leaves the stream mid-packet: the channel is broken either way.</summary>
    private async ValueTask GuardSendAsync(ValueTask send)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _broken = true;
            throw;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            _broken = true;
            throw MySqlException.Client(MySqlErrorCode.ServerGone, "Lost connection to the server while sending a packet: " + ex.Message, ex);
        }
    }

    private void WriteHeader(byte[] target, int offset, int length)
    {
        target[offset] = (byte)length;
        target[offset + 1] = (byte)(length >> 8);
        target[offset + 2] = (byte)(length >> 16);
        target[offset + 3] = Sequence++;
    }

    public void MarkBroken() => _broken = true;

    public async ValueTask DisposeAsync()
    {
        _broken = true;
        await Stream.DisposeAsync().ConfigureAwait(false);
    }
}
