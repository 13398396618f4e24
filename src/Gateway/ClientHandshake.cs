using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Durable.MySql;
using Durable.MySql.Auth;
using Durable.MySql.Protocol;

namespace Durable.Gateway;

/// <summary>Who logged in, and what the client and the gateway agreed on.</summary>
internal sealed record ClientLogin(string User, string? Database, Capabilities Capabilities)
{
    public bool DeprecateEof => (Capabilities & Capabilities.DeprecateEof) != 0;

    /// <summary>CLIENT_FOUND_ROWS: the client wants matched, not changed, rows from UPDATE; its backend connections must be opened alike.</summary>
    public bool FoundRows => (Capabilities & Capabilities.FoundRows) != 0;
}

/// <summary>
/// The server side of the connection phase: HandshakeV10 with a fresh 20-byte scramble, an optional TLS upgrade
/// (SSLRequest), the handshake response, an auth switch to mysql_native_password when the client started with
/// another plugin (MySQL 8 clients default to caching_sha2_password), and the password check. Nothing reaches a backend here.
/// </summary>
internal sealed class ClientHandshake(GatewayServerInfo server, ClientCredentials credentials, X509Certificate2? certificate)
{
    public const Capabilities Offered =
        Capabilities.LongPassword | Capabilities.FoundRows | Capabilities.LongFlag | Capabilities.ConnectWithDb | Capabilities.Protocol41 |
        Capabilities.Interactive | Capabilities.Transactions | Capabilities.SecureConnection | Capabilities.MultiStatements |
        Capabilities.MultiResults | Capabilities.PsMultiResults | Capabilities.PluginAuth | Capabilities.ConnectAttrs |
        Capabilities.PluginAuthLengthEncodedClientData | Capabilities.DeprecateEof | Capabilities.IgnoreSigpipe;

    /// <summary>Runs the connection phase; null when the client was refused (the ERR was sent) or went away.</summary>
    public async Task<ClientLogin?> RunAsync(ClientStreams io, uint connectionId, string remoteHost, CancellationToken ct)
    {
        var scramble = NewScramble();
        var offered = Offered | (certificate is not null ? Capabilities.Ssl : Capabilities.None);
        io.Writer.Sequence = 0;
        WriteGreeting(io.Writer, connectionId, scramble, offered);
        await io.Writer.FlushAsync(ct).ConfigureAwait(false);

        io.Reader.Sequence = 1;
        ReadOnlyMemory<byte> payload = await io.ReadHandshakePacketAsync(ct).ConfigureAwait(false);
        var caps = ReadCapabilities(payload.Span);
        if ((caps & Capabilities.Protocol41) == 0)
        {
            io.Writer.Sequence = io.Reader.Sequence;
            io.Writer.WriteError(MySqlErrorCode.MalformedPacket, "08S01", "The gateway speaks protocol 4.1 only; the client did not offer it.");
            await io.Writer.FlushAsync(ct).ConfigureAwait(false);
            return null;
        }

        if ((caps & Capabilities.Ssl) != 0 && payload.Length == 32)
        {
            if (certificate is null)
            {
                return null; // asked for TLS we did not offer: a protocol violation
            }

            await io.StartTlsAsync(certificate, ct).ConfigureAwait(false);
            payload = await io.Reader.ReadPayloadAsync(ct).ConfigureAwait(false);
            caps = ReadCapabilities(payload.Span);
        }

        var (user, authResponse, database, plugin) = ParseResponse(payload.Span, caps);
        caps &= offered;
        if (plugin != AuthPlugins.NativePassword)
        {
            // Auth switch: 0xFE, plugin name, the scramble (the same one: the client has not used it yet).
            io.Writer.Sequence = io.Reader.Sequence;
            var w = io.Writer.Scratch();
            w.WriteByte(0xFE);
            w.WriteNullTerminatedString(AuthPlugins.NativePassword);
            w.WriteBytes(scramble);
            w.WriteByte(0);
            io.Writer.WriteScratch();
            await io.Writer.FlushAsync(ct).ConfigureAwait(false);
            io.Reader.Sequence = io.Writer.Sequence;
            authResponse = (await io.Reader.ReadPayloadAsync(ct).ConfigureAwait(false)).ToArray();
        }

        io.Writer.Sequence = io.Reader.Sequence;
        if (!credentials.Verify(user, scramble, authResponse))
        {
            io.Writer.WriteError(1045, "28000", $"Access denied for user '{user}'@'{remoteHost}' (using password: {(authResponse.Length > 0 ? "YES" : "NO")})");
            await io.Writer.FlushAsync(ct).ConfigureAwait(false);
            return null;
        }

        return new ClientLogin(user, string.IsNullOrEmpty(database) ? null : database, caps);
    }

    private static byte[] NewScramble()
    {
        // Printable, never NUL: old clients read the second part as a NUL-terminated string.
        var scramble = RandomNumberGenerator.GetBytes(20);
        for (var i = 0; i < scramble.Length; i++)
        {
            scramble[i] = (byte)(0x21 + scramble[i] % 94);
        }

        return scramble;
    }

    private void WriteGreeting(ClientPacketWriter writer, uint connectionId, byte[] scramble, Capabilities caps)
    {
        var w = writer.Scratch();
        w.WriteByte(10);
        w.WriteNullTerminatedString(server.Version);
        w.WriteUInt32(connectionId);
        w.WriteBytes(scramble.AsSpan(0, 8));
        w.WriteByte(0);
        w.WriteUInt16((ushort)caps);
        w.WriteByte(GatewayServerInfo.Utf8Mb4GeneralCi);
        w.WriteUInt16((ushort)ServerStatus.AutoCommit);
        w.WriteUInt16((ushort)((ulong)caps >> 16));
        w.WriteByte(21);
        w.WriteZeros(10);
        w.WriteBytes(scramble.AsSpan(8));
        w.WriteByte(0);
        w.WriteNullTerminatedString(AuthPlugins.NativePassword);
        writer.WriteScratch();
    }

    private static Capabilities ReadCapabilities(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        return (Capabilities)r.ReadUInt32();
    }

    private static (string User, byte[] Auth, string? Database, string Plugin) ParseResponse(ReadOnlySpan<byte> payload, Capabilities caps)
    {
        var r = new PayloadReader(payload);
        r.Skip(32);
        var user = Encoding.UTF8.GetString(r.ReadNullTerminated());
        byte[] auth;
        if ((caps & Capabilities.PluginAuthLengthEncodedClientData) != 0)
        {
            auth = r.ReadLengthEncodedBytes().ToArray();
        }
        else if ((caps & Capabilities.SecureConnection) != 0)
        {
            auth = r.ReadBytes(r.ReadByte()).ToArray();
        }
        else
        {
            auth = r.ReadNullTerminated().ToArray();
        }

        string? database = null;
        if ((caps & Capabilities.ConnectWithDb) != 0 && r.Remaining > 0)
        {
            database = Encoding.UTF8.GetString(r.ReadNullTerminatedOrEnd());
        }

        var plugin = AuthPlugins.NativePassword;
        if ((caps & Capabilities.PluginAuth) != 0 && r.Remaining > 0)
        {
            plugin = Encoding.UTF8.GetString(r.ReadNullTerminatedOrEnd());
            if (plugin.Length == 0)
            {
                plugin = AuthPlugins.NativePassword;
            }
        }

        return (user, auth, database, plugin);
    }
}
