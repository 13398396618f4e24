using System.Threading.Channels;
using Durable.MySql.Protocol;

namespace Durable.MySql.Binlog;

/// <summary>
/// Reads a binlog stream's packets ahead of its consumer on a task of its own: socket reads, packet framing and the
/// CRC32 check of each event run there while the consumer decodes the previous events, so on a machine with two
/// cores receiving and decoding overlap. The channel runs in hand-over mode (<see cref="PacketChannel.HandOverBuffers"/>):
/// a payload is handed to the consumer where the socket read put it, never copied, because a full read buffer is
/// replaced instead of reused. The decoded values of character and binary columns point into those buffers (no copy
/// at all between the socket and the value), and the GC reclaims a buffer once no value does. At most
/// <see cref="HighWater"/> bytes of undecoded packets are in flight: beyond that the reader stops reading until the
/// consumer is down to <see cref="LowWater"/>, so memory stays flat however far the consumer lags, and the source is
/// held back by TCP as with a direct reader.
/// </summary>
internal sealed class BinlogReadAhead : IAsyncDisposable
{
    internal const long HighWater = 4 << 20;
    internal const long LowWater = 2 << 20;

    private readonly PacketChannel _channel;
    private readonly TimeSpan _silence;
    private readonly bool _verifyChecksums;
    private readonly Func<Exception, Exception> _describeReadFailure;
    private readonly Func<OperationCanceledException, Exception> _describeSilence;
    private readonly Channel<Packet> _packets = Channel.CreateUnbounded<Packet>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim _space = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private byte _checksumAlgorithm;
    private long _inFlight;
    private int _readerWaiting;
    private long _lastProgress;
    private int _heldBack;
    private long _holdBacks;
    private long _consumerWaits;

    /// <param name="describeReadFailure">Turns a failed read into the error the consumer sees (it adds the stream's context).</param>
    /// <param name="describeSilence">The error when nothing arrived for <paramref name="silence"/>.</param>
    public BinlogReadAhead(PacketChannel channel, byte checksumAlgorithm, bool verifyChecksums, TimeSpan silence,
        Func<Exception, Exception> describeReadFailure, Func<OperationCanceledException, Exception> describeSilence)
    {
        _channel = channel;
        _checksumAlgorithm = checksumAlgorithm;
        _verifyChecksums = verifyChecksums;
        _silence = silence;
        _describeReadFailure = describeReadFailure;
        _describeSilence = describeSilence;
        channel.HandOverBuffers = true;
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>
    /// One payload as the server sent it (status byte first), or the error that ended the stream. A class, not a
    /// struct: the channel of a reference type runs on the framework's precompiled shared generic code instead of
    /// a JIT-compiled instantiation (start-up time counts for short streams).
    /// </summary>
    public sealed record Packet(byte[]? Buffer, int Offset, int Length, Exception? Error)
    {
        public ReadOnlyMemory<byte> Memory => Buffer.AsMemory(Offset, Length);
    }

    /// <summary>The next packet; the caller must <see cref="Release"/> it once parsed.</summary>
    public bool TryNext([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Packet? packet) => _packets.Reader.TryRead(out packet);

    /// <summary>Whether a packet is already read ahead (the next <see cref="TryNext"/> would succeed).</summary>
    public bool HasPacket => _packets.Reader.TryPeek(out _);

    public ValueTask<Packet> NextAsync(CancellationToken cancellationToken)
    {
        if (_packets.Reader.TryRead(out var packet))
        {
            return new ValueTask<Packet>(packet);
        }

        _consumerWaits++;
        return _packets.Reader.ReadAsync(cancellationToken);
    }

    /// <summary>How often the consumer found nothing read ahead and waited for the network (the source was the limit).</summary>
    public long ConsumerWaits => _consumerWaits;

    /// <summary>How often the reader stopped because the consumer was <see cref="HighWater"/> behind (decoding was the limit).</summary>
    public long HoldBacks => Volatile.Read(ref _holdBacks);

    /// <summary>The consumer is done with the packet (its buffer lives on while decoded values point into it).</summary>
    public void Release(Packet packet)
    {
        var inFlight = Interlocked.Add(ref _inFlight, -packet.Length);
        if (inFlight <= LowWater && Volatile.Read(ref _readerWaiting) == 1 && Interlocked.Exchange(ref _readerWaiting, 0) == 1)
        {
            _space.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        // Silence is time without a packet while the reader is reading: the time it holds back because the consumer
        // is behind does not count (the source cannot send then). A watchdog compares timestamps, so a packet costs
        // no timer update.
        using var silence = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, silence.Token);
        var token = linked.Token;
        var silenceMs = (long)_silence.TotalMilliseconds;
        var period = TimeSpan.FromMilliseconds(Math.Clamp(silenceMs / 4, 10, 1000));
        Volatile.Write(ref _lastProgress, Environment.TickCount64);
        await using var watchdog = new Timer(
            _ =>
            {
                if (Volatile.Read(ref _heldBack) == 0 && Environment.TickCount64 - Volatile.Read(ref _lastProgress) > silenceMs)
                {
                    silence.Cancel();
                }
            },
            null,
            period,
            period);
        try
        {
            while (true)
            {
                if (Volatile.Read(ref _inFlight) > HighWater)
                {
                    Volatile.Write(ref _heldBack, 1);
                    _holdBacks++;
                    while (Volatile.Read(ref _inFlight) > HighWater)
                    {
                        Volatile.Write(ref _readerWaiting, 1);
                        if (Volatile.Read(ref _inFlight) > HighWater)
                        {
                            await _space.WaitAsync(_stop.Token).ConfigureAwait(false);
                        }
                    }

                    // The progress stamp first, then the flag: the watchdog never sees "reading" with a stale stamp.
                    Volatile.Write(ref _lastProgress, Environment.TickCount64);
                    Volatile.Write(ref _heldBack, 0);
                }

                ReadOnlyMemory<byte> payload;
                try
                {
                    payload = await _channel.ReadPayloadAsync(token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (silence.IsCancellationRequested && !_stop.IsCancellationRequested)
                {
                    Fail(_describeSilence(ex));
                    return;
                }

                Volatile.Write(ref _lastProgress, Environment.TickCount64);
                var span = payload.Span;
                if (_verifyChecksums && span.Length > 0 && span[0] == 0x00)
                {
                    BinlogEventParser.VerifyChecksum(span[1..], ref _checksumAlgorithm);
                }

                // Hand-over mode: the payload's buffer is never written again, so it goes to the consumer as it is.
                if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray(payload, out var segment))
                {
                    throw new InvalidOperationException("A packet channel payload is always a slice of an array.");
                }

                var packet = new Packet(segment.Array, segment.Offset, segment.Count, null);
                Interlocked.Add(ref _inFlight, span.Length);
                _packets.Writer.TryWrite(packet);
                if (span.Length == 0 || span[0] == 0xFF || (span[0] == 0xFE && span.Length < 9))
                {
                    // An error or the end of the stream: the source sends nothing after it.
                    _packets.Writer.TryComplete();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            _packets.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            Fail(_describeReadFailure(ex));
        }
    }

    private void Fail(Exception error)
    {
        _packets.Writer.TryWrite(new Packet(null, 0, 0, error));
        _packets.Writer.TryComplete();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _space.Dispose();
    }
}
