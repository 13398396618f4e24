using System.Net;
using System.Net.Sockets;

namespace Durable.MySql.Tests.Unit;

/// <summary>A scripted TCP peer on a loopback port, for feeding the client malformed or crafted packets.</summary>
public sealed class FakeServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Task _run;

    private FakeServer(Func<NetworkStream, Task> script)
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _run = RunAsync(script);
    }

    public int Port { get; }

    /// <summary>Whatever the script threw (assertions on what the client sent).</summary>
    public Task Completion => _run;

    public static FakeServer Start(Func<NetworkStream, Task> script) => new(script);

    public MySqlConnectionOptions Options(string password = "pw") => new()
    {
        Host = "127.0.0.1", Port = Port, User = "u", Password = password, SslMode = SslMode.Disabled,
        ConnectTimeout = TimeSpan.FromSeconds(3), CommandTimeout = TimeSpan.FromSeconds(3), CancellationGrace = TimeSpan.FromSeconds(1),
    };

    private async Task RunAsync(Func<NetworkStream, Task> script)
    {
        using var client = await _listener.AcceptTcpClientAsync();
        await using var stream = client.GetStream();
        await script(stream);
    }

    public static async Task WritePacketAsync(Stream s, byte sequence, byte[] payload)
    {
        var header = new byte[] { (byte)payload.Length, (byte)(payload.Length >> 8), (byte)(payload.Length >> 16), sequence };
        await s.WriteAsync(header);
        await s.WriteAsync(payload);
        await s.FlushAsync();
    }

    public static async Task<(byte Sequence, byte[] Payload)> ReadPacketAsync(Stream s)
    {
        var header = new byte[4];
        await s.ReadExactlyAsync(header);
        var payload = new byte[header[0] | header[1] << 8 | header[2] << 16];
        await s.ReadExactlyAsync(payload);
        return (header[3], payload);
    }

    public static readonly byte[] Scramble = Enumerable.Range(1, 20).Select(i => (byte)(i * 7)).ToArray();

    /// <summary>A protocol-v10 handshake offering protocol 4.1, plugin auth and CLIENT_DEPRECATE_EOF.</summary>
    public static byte[] Handshake(string plugin = "mysql_native_password", string version = "5.7.99-fake")
    {
        var b = new List<byte> { 10 };
        b.AddRange(System.Text.Encoding.ASCII.GetBytes(version));
        b.Add(0);
        b.AddRange(BitConverter.GetBytes(42u));
        b.AddRange(Scramble[..8]);
        b.Add(0);
        const uint caps = 0x0000_0200 | 0x0000_8000 | 0x0008_0000 | 0x0020_0000 | 0x0100_0000 | 0x0000_2000 | 1;
        b.AddRange(BitConverter.GetBytes((ushort)(caps & 0xFFFF)));
        b.Add(45);
        b.AddRange(BitConverter.GetBytes((ushort)2));
        b.AddRange(BitConverter.GetBytes((ushort)(caps >> 16)));
        b.Add(21);
        b.AddRange(new byte[10]);
        b.AddRange(Scramble[8..]);
        b.Add(0);
        b.AddRange(System.Text.Encoding.ASCII.GetBytes(plugin));
        b.Add(0);
        return [.. b];
    }

    public static readonly byte[] Ok = [0, 0, 0, 2, 0, 0, 0];

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        try
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is IOException or SocketException or TimeoutException or EndOfStreamException or ObjectDisposedException)
        {
        }
    }
}
