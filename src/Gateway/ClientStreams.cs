using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Durable.MySql.Protocol;

namespace Durable.Gateway;

/// <summary>
/// A client connection's two directions: commands are read through a <see cref="PacketChannel"/> (sequence checked,
/// 16 MiB+ payloads joined), responses written with a <see cref="ClientPacketWriter"/> into the transport's pipe.
/// After an SSLRequest both go through an <see cref="SslStream"/> over the same pipe.
/// </summary>
internal sealed class ClientStreams : IAsyncDisposable
{
    private readonly IDuplexPipe _transport;
    private SslStream? _tls;

    public ClientStreams(IDuplexPipe transport)
    {
        _transport = transport;
        Reader = new PacketChannel(transport.Input.AsStream(leaveOpen: true), 16 * 1024);
        Writer = new ClientPacketWriter(transport.Output);
    }

    public PacketChannel Reader { get; }

    public ClientPacketWriter Writer { get; }

    public bool IsEncrypted => _tls is not null;

    /// <summary>
    /// Reads the first packet of the handshake response straight from the pipe, consuming exactly its bytes: after an
    /// SSLRequest the client sends its TLS ClientHello at once, and those bytes must stay in the pipe for the TLS
    /// stream (a buffered read through the packet channel would swallow them).
    /// </summary>
    public async Task<byte[]> ReadHandshakePacketAsync(CancellationToken ct)
    {
        var input = _transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= 4)
            {
                var header = buffer.Slice(0, 4).ToArray();
                var length = header[0] | header[1] << 8 | header[2] << 16;
                if (header[3] != Reader.Sequence || length >= PacketChannel.MaxPacketPayload)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    throw new IOException($"Malformed handshake response (sequence {header[3]}, length {length}).");
                }

                if (buffer.Length >= 4 + length)
                {
                    var payload = buffer.Slice(4, length).ToArray();
                    input.AdvanceTo(buffer.GetPosition(4 + length));
                    Reader.Sequence++;
                    return payload;
                }
            }

            if (result.IsCompleted)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                throw new IOException("The client closed the connection during the handshake.");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public async Task StartTlsAsync(X509Certificate2 certificate, CancellationToken ct)
    {
        var tls = new SslStream(new DuplexPipeStream(_transport), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                ClientCertificateRequired = false,
                EnabledSslProtocols = SslProtocols.None, // the OS default: TLS 1.2/1.3
            }, ct).ConfigureAwait(false);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _tls = tls;
        Reader.ReplaceStream(tls);
        Writer.Output = PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public async ValueTask DisposeAsync()
    {
        if (_tls is not null)
        {
            await _tls.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A Stream over a connection's duplex pipe, for the <see cref="SslStream"/> a TLS upgrade wraps it in.</summary>
internal sealed class DuplexPipeStream(IDuplexPipe pipe) : Stream
{
    private readonly Stream _input = pipe.Input.AsStream(leaveOpen: true);
    private readonly Stream _output = pipe.Output.AsStream(leaveOpen: true);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => _output.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _input.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _output.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _output.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _output.WriteAsync(buffer, offset, count, cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
