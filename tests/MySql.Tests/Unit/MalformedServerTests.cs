using System.Security.Cryptography;
using System.Text;
using Durable.MySql.Auth;

namespace Durable.MySql.Tests.Unit;

/// <summary>A misbehaving server must produce a clear MySqlException quickly: never a hang, never a crash.</summary>
public sealed class MalformedServerTests
{
    private static async Task<MySqlException> ConnectFailsAsync(Func<System.Net.Sockets.NetworkStream, Task> script)
    {
        await using var server = FakeServer.Start(script);
        var started = DateTime.UtcNow;
        var ex = await Assert.ThrowsAsync<MySqlException>(() => MySqlConnection.OpenAsync(server.Options()).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        return ex;
    }

    [Fact]
    public async Task Garbage_instead_of_a_handshake()
    {
        var ex = await ConnectFailsAsync(s => FakeServer.WritePacketAsync(s, 0, Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\n")));
        Assert.Equal(MySqlErrorCode.MalformedPacket, ex.ErrorNumber);
    }

    [Fact]
    public async Task Truncated_handshake_fields()
    {
        var ex = await ConnectFailsAsync(s => FakeServer.WritePacketAsync(s, 0, [10, (byte)'5', 0, 1, 2]));
        Assert.Equal(MySqlErrorCode.MalformedPacket, ex.ErrorNumber);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Packet_cut_off_by_a_closed_connection()
    {
        var ex = await ConnectFailsAsync(async s =>
        {
            await s.WriteAsync(new byte[] { 100, 0, 0, 0, 10, 1, 2 });
            await s.FlushAsync();
        });
        Assert.Equal(MySqlErrorCode.ServerLost, ex.ErrorNumber);
    }

    [Fact]
    public async Task Silent_server_hits_the_connect_timeout()
    {
        var ex = await ConnectFailsAsync(s => Task.Delay(TimeSpan.FromSeconds(8)));
        Assert.Equal(MySqlErrorCode.ConnectTimeout, ex.ErrorNumber);
    }

    [Fact]
    public async Task Huge_length_then_silence_hits_the_connect_timeout()
    {
        var ex = await ConnectFailsAsync(async s =>
        {
            await s.WriteAsync(new byte[] { 0xFF, 0xFF, 0xFE, 0 });
            await Task.Delay(TimeSpan.FromSeconds(8));
        });
        Assert.Equal(MySqlErrorCode.ConnectTimeout, ex.ErrorNumber);
    }

    [Fact]
    public async Task Wrong_sequence_number()
    {
        var ex = await ConnectFailsAsync(s => FakeServer.WritePacketAsync(s, 5, FakeServer.Handshake()));
        Assert.Equal(MySqlErrorCode.MalformedPacket, ex.ErrorNumber);
        Assert.Contains("sequence", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Error_packet_instead_of_handshake_is_reported_as_the_server_error()
    {
        var err = new byte[] { 0xFF, 0x10, 0x04 }.Concat(Encoding.ASCII.GetBytes("Too many connections")).ToArray();
        var ex = await ConnectFailsAsync(s => FakeServer.WritePacketAsync(s, 0, err));
        Assert.Equal(1040, ex.ErrorNumber);
        Assert.Equal("Too many connections", ex.Message);
    }

    [Fact]
    public async Task Unknown_auth_plugin_is_refused_by_name()
    {
        var ex = await ConnectFailsAsync(async s =>
        {
            await FakeServer.WritePacketAsync(s, 0, FakeServer.Handshake("dialog"));
            await FakeServer.ReadPacketAsync(s);
        });
        Assert.Equal(MySqlErrorCode.AuthPluginNotSupported, ex.ErrorNumber);
        Assert.Contains("'dialog'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_rows_after_a_good_login()
    {
        await using var server = FakeServer.Start(async s =>
        {
            await FakeServer.WritePacketAsync(s, 0, FakeServer.Handshake());
            await FakeServer.ReadPacketAsync(s);
            await FakeServer.WritePacketAsync(s, 2, FakeServer.Ok);
            await FakeServer.ReadPacketAsync(s); // COM_QUERY
            await FakeServer.WritePacketAsync(s, 1, [1]); // one column
            var column = new List<byte>();
            foreach (var part in new[] { "def", "", "", "", "a", "" })
            {
                column.Add((byte)part.Length);
                column.AddRange(Encoding.ASCII.GetBytes(part));
            }

            column.AddRange([0x0C, 45, 0, 10, 0, 0, 0, 253, 0, 0, 0, 0, 0]);
            await FakeServer.WritePacketAsync(s, 2, [.. column]);
            await FakeServer.WritePacketAsync(s, 3, [50, (byte)'x']); // says 50 bytes, has 1
            await Task.Delay(TimeSpan.FromSeconds(5));
        });
        await using var c = await MySqlConnection.OpenAsync(server.Options());
        await using var reader = await c.QueryAsync("SELECT a");
        var ex = await Assert.ThrowsAsync<MySqlException>(async () => await reader.ReadAsync());
        Assert.Equal(MySqlErrorCode.MalformedPacket, ex.ErrorNumber);
        Assert.Contains("runs past the end", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Caching_sha2_fast_path()
    {
        await using var server = FakeServer.Start(async s =>
        {
            await FakeServer.WritePacketAsync(s, 0, FakeServer.Handshake(AuthPlugins.CachingSha2));
            var (_, response) = await FakeServer.ReadPacketAsync(s);
            var expected = AuthPlugins.CachingSha2Response("pw", FakeServer.Scramble);
            Assert.True(response.AsSpan().IndexOf(expected) > 0, "the scramble was not in the handshake response");
            await FakeServer.WritePacketAsync(s, 2, [1, 3]);
            await FakeServer.WritePacketAsync(s, 3, FakeServer.Ok);
            await Task.Delay(500);
        });
        // Generous timeout: the machine running the tests may be heavily loaded.
        await using var c = await MySqlConnection.OpenAsync(server.Options() with { ConnectTimeout = TimeSpan.FromSeconds(20) });
        Assert.Equal(AuthPlugins.CachingSha2, c.AuthPlugin);
        await server.Completion;
    }

    [Fact]
    public async Task Caching_sha2_full_authentication_with_the_servers_rsa_key()
    {
        using var rsa = RSA.Create(2048);
        string? received = null;
        await using var server = FakeServer.Start(async s =>
        {
            await FakeServer.WritePacketAsync(s, 0, FakeServer.Handshake(AuthPlugins.CachingSha2));
            await FakeServer.ReadPacketAsync(s);
            await FakeServer.WritePacketAsync(s, 2, [1, 4]); // full authentication needed
            var (seq, request) = await FakeServer.ReadPacketAsync(s);
            Assert.Equal([2], request); // asks for the public key
            await FakeServer.WritePacketAsync(s, (byte)(seq + 1), [1, .. Encoding.ASCII.GetBytes(rsa.ExportSubjectPublicKeyInfoPem())]);
            var (seq2, encrypted) = await FakeServer.ReadPacketAsync(s);
            var clear = rsa.Decrypt(encrypted, RSAEncryptionPadding.OaepSHA1);
            for (var i = 0; i < clear.Length; i++)
            {
                clear[i] ^= FakeServer.Scramble[i % 20];
            }

            received = Encoding.UTF8.GetString(clear);
            await FakeServer.WritePacketAsync(s, (byte)(seq2 + 1), FakeServer.Ok);
            await Task.Delay(500);
        });
        await using var c = await MySqlConnection.OpenAsync(server.Options("s3cret") with { AllowPublicKeyRetrieval = true, ConnectTimeout = TimeSpan.FromSeconds(20) });
        await server.Completion;
        Assert.Equal("s3cret\0", received);
    }

    [Fact]
    public async Task Caching_sha2_full_authentication_without_tls_or_key_is_refused()
    {
        var ex = await ConnectFailsAsync(async s =>
        {
            await FakeServer.WritePacketAsync(s, 0, FakeServer.Handshake(AuthPlugins.CachingSha2));
            await FakeServer.ReadPacketAsync(s);
            await FakeServer.WritePacketAsync(s, 2, [1, 4]);
            await Task.Delay(2000);
        });
        Assert.Equal(MySqlErrorCode.AuthPluginNotSupported, ex.ErrorNumber);
        Assert.Contains("AllowPublicKeyRetrieval", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auth_switch_to_native_password_uses_the_new_scramble()
    {
        var newScramble = Enumerable.Range(100, 20).Select(i => (byte)i).ToArray();
        await using var server = FakeServer.Start(async s =>
        {
            await FakeServer.WritePacketAsync(s, 0, FakeServer.Handshake(AuthPlugins.CachingSha2));
            await FakeServer.ReadPacketAsync(s);
            await FakeServer.WritePacketAsync(s, 2, [0xFE, .. Encoding.ASCII.GetBytes(AuthPlugins.NativePassword), 0, .. newScramble, 0]);
            var (seq, response) = await FakeServer.ReadPacketAsync(s);
            Assert.Equal(AuthPlugins.NativePasswordResponse("pw", newScramble), response);
            await FakeServer.WritePacketAsync(s, (byte)(seq + 1), FakeServer.Ok);
            await Task.Delay(500);
        });
        await using var c = await MySqlConnection.OpenAsync(server.Options() with { ConnectTimeout = TimeSpan.FromSeconds(20) });
        Assert.Equal(AuthPlugins.NativePassword, c.AuthPlugin);
        await server.Completion;
    }
}
