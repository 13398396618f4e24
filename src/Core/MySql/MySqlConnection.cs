using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Durable.MySql.Auth;
using Durable.MySql.Protocol;
using Durable.MySql.Sql;

namespace Durable.MySql;

/// <summary>
/// One client connection (protocol v10). Runs one command at a time; a result set is streamed through a
/// <see cref="MySqlDataReader"/> that must be disposed before the next command. A cancelled or timed-out command is
/// stopped with KILL QUERY from a side connection, so the connection itself stays usable; if the server does not
/// answer within <see cref="MySqlConnectionOptions.CancellationGrace"/>, the connection is dropped instead.
/// </summary>
public sealed class MySqlConnection : IAsyncDisposable
{
    private const int Utf8Mb4GeneralCi = 45;
    private const int MaxPacketSize = 1 << 30;

    private readonly PayloadWriter _writer = new(1024);
    private PacketChannel _channel;
    private Socket? _socket;
    private Capabilities _capabilities;
    private bool _busy;
    private bool _disposed;
    private Task? _pendingKill;

    private MySqlConnection(MySqlConnectionOptions options, PacketChannel channel, Socket? socket)
    {
        Options = options;
        _channel = channel;
        _socket = socket;
    }

    public MySqlConnectionOptions Options { get; }

    public string ServerVersion { get; private set; } = string.Empty;

    public uint ConnectionId { get; private set; }

    public bool IsMariaDb => ServerVersion.Contains("MariaDB", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the session uses TLS.</summary>
    public bool IsEncrypted { get; private set; }

    /// <summary>The authentication plugin that finally authenticated the session.</summary>
    public string AuthPlugin { get; private set; } = string.Empty;

    /// <summary>Status flags from the last OK/EOF packet (transaction state, NO_BACKSLASH_ESCAPES...).</summary>
    public ServerStatus Status { get; private set; }

    /// <summary>Quoting for SQL sent over this session, following its NO_BACKSLASH_ESCAPES state.</summary>
    public SqlQuoter Quoter => (Status & ServerStatus.NoBackslashEscapes) != 0 ? SqlQuoter.NoBackslashEscapes : SqlQuoter.Standard;

    /// <summary>False once the connection failed or was closed: it must not be used (or returned to a pool).</summary>
    public bool IsUsable => !_disposed && !_channel.IsBroken;

    internal bool DeprecateEof => (_capabilities & Capabilities.DeprecateEof) != 0;

    internal PacketChannel Channel => _channel;

    /// <summary>Opens and authenticates a connection, then runs the options' init statements.</summary>
    public static async Task<MySqlConnection> OpenAsync(MySqlConnectionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(options.ConnectTimeout);
        }

        Socket? socket = null;
        MySqlConnection? connection = null;
        try
        {
            System.Net.EndPoint endpoint;
            if (options.UnixSocket is not null)
            {
                socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                endpoint = new UnixDomainSocketEndPoint(options.UnixSocket);
                await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
            }
            else
            {
                socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(options.Host, options.Port, timeout.Token).ConfigureAwait(false);
            }

            connection = new MySqlConnection(options, new PacketChannel(new NetworkStream(socket, ownsSocket: true)), socket);
            await connection.HandshakeAsync(timeout.Token).ConfigureAwait(false);
            foreach (var statement in options.InitStatements)
            {
                await connection.ExecuteAsync(statement, timeout.Token).ConfigureAwait(false);
            }

            return connection;
        }
        catch (Exception ex) when (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            await DisposeQuietlyAsync(connection, socket).ConfigureAwait(false);
            throw MySqlException.Client(MySqlErrorCode.ConnectTimeout, $"Connecting to {options} timed out after {options.ConnectTimeout}.", ex);
        }
        catch (SocketException ex)
        {
            await DisposeQuietlyAsync(connection, socket).ConfigureAwait(false);
            throw MySqlException.Client(MySqlErrorCode.ConnectionFailed, $"Cannot connect to {options}: {ex.Message}", ex);
        }
        catch
        {
            await DisposeQuietlyAsync(connection, socket).ConfigureAwait(false);
            throw;
        }
    }

    private static async ValueTask DisposeQuietlyAsync(MySqlConnection? connection, Socket? socket)
    {
        if (connection is not null)
        {
            await connection._channel.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            socket?.Dispose();
        }
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        _channel.ResetSequence();
        var handshake = await _channel.ReadPayloadAsync(cancellationToken).ConfigureAwait(false);
        if (PacketKind.IsErr(handshake.Span))
        {
            throw ErrPacket.Parse(handshake.Span);
        }

        var (serverCaps, scramble, plugin) = ParseHandshake(handshake.Span);
        var wanted = Capabilities.LongPassword | Capabilities.LongFlag | Capabilities.Protocol41 | Capabilities.Transactions |
                     Capabilities.SecureConnection | Capabilities.MultiResults | Capabilities.PluginAuth |
                     Capabilities.PluginAuthLengthEncodedClientData | Capabilities.DeprecateEof;
        if (Options.Database is not null)
        {
            wanted |= Capabilities.ConnectWithDb;
        }

        if (Options.AllowLocalInfile)
        {
            wanted |= Capabilities.LocalFiles;
        }

        if (Options.FoundRows)
        {
            wanted |= Capabilities.FoundRows;
        }

        if ((serverCaps & Capabilities.Protocol41) == 0)
        {
            throw MySqlException.Client(MySqlErrorCode.MalformedPacket, $"The server ({ServerVersion}) does not speak protocol 4.1; it is too old.");
        }

        var useSsl = Options.SslMode != SslMode.Disabled && (serverCaps & Capabilities.Ssl) != 0;
        if (Options.SslMode >= SslMode.Required && (serverCaps & Capabilities.Ssl) == 0)
        {
            throw MySqlException.Client(MySqlErrorCode.SslConnectionError,
                $"SslMode {Options.SslMode} needs TLS but the server at {Options} does not offer it (it has no certificate configured).");
        }

        if (useSsl)
        {
            wanted |= Capabilities.Ssl;
        }

        _capabilities = wanted & serverCaps;

        if (useSsl)
        {
            _writer.Clear();
            WriteHandshakeResponsePrefix();
            await _channel.WriteAsync(_writer, cancellationToken).ConfigureAwait(false);
            await StartTlsAsync(cancellationToken).ConfigureAwait(false);
        }

        var authResponse = ComputeAuthResponse(plugin, scramble);
        _writer.Clear();
        WriteHandshakeResponsePrefix();
        _writer.WriteNullTerminatedString(Options.User);
        if ((_capabilities & Capabilities.PluginAuthLengthEncodedClientData) != 0)
        {
            _writer.WriteLengthEncodedBytes(authResponse);
        }
        else
        {
            _writer.WriteByte((byte)authResponse.Length);
            _writer.WriteBytes(authResponse);
        }

        if ((_capabilities & Capabilities.ConnectWithDb) != 0)
        {
            _writer.WriteNullTerminatedString(Options.Database!);
        }

        if ((_capabilities & Capabilities.PluginAuth) != 0)
        {
            _writer.WriteNullTerminatedString(plugin);
        }

        await _channel.WriteAsync(_writer, cancellationToken).ConfigureAwait(false);
        AuthPlugin = plugin;
        await AuthenticateAsync(plugin, scramble, cancellationToken).ConfigureAwait(false);
    }

    private (Capabilities Caps, byte[] Scramble, string Plugin) ParseHandshake(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        var protocol = r.ReadByte();
        if (protocol != 10)
        {
            throw PayloadReader.Malformed($"handshake protocol version {protocol}, only 10 is supported");
        }

        ServerVersion = Encoding.UTF8.GetString(r.ReadNullTerminated());
        ConnectionId = r.ReadUInt32();
        var part1 = r.ReadBytes(8).ToArray();
        r.ReadByte();
        var caps = (Capabilities)r.ReadUInt16();
        if (r.Remaining == 0)
        {
            return (caps, part1, AuthPlugins.NativePassword);
        }

        r.ReadByte(); // server default collation
        Status = (ServerStatus)r.ReadUInt16();
        caps |= (Capabilities)((ulong)r.ReadUInt16() << 16);
        var authDataLength = r.ReadByte();
        r.Skip(10); // reserved; MariaDB puts its extended capabilities in the last 4
        var scramble = part1;
        if ((caps & Capabilities.SecureConnection) != 0)
        {
            var part2Length = Math.Max(13, authDataLength - 8);
            var part2 = r.ReadBytes(Math.Min(part2Length, r.Remaining));
            // The part ends with a NUL that is not part of the scramble.
            if (part2.Length > 0 && part2[^1] == 0)
            {
                part2 = part2[..^1];
            }

            scramble = [.. part1, .. part2];
        }

        var plugin = (caps & Capabilities.PluginAuth) != 0 && r.Remaining > 0
            ? Encoding.UTF8.GetString(r.ReadNullTerminatedOrEnd())
            : AuthPlugins.NativePassword;
        return (caps, scramble, plugin);
    }

    private void WriteHandshakeResponsePrefix()
    {
        _writer.WriteUInt32((uint)_capabilities);
        _writer.WriteUInt32(MaxPacketSize);
        _writer.WriteByte(Utf8Mb4GeneralCi);
        _writer.WriteZeros(23);
    }

    private async Task StartTlsAsync(CancellationToken cancellationToken)
    {
        var ssl = new SslStream(_channel.Stream, leaveInnerStreamOpen: false, ValidateServerCertificate);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = Options.Host,
                EnabledSslProtocols = SslProtocols.None, // let the OS pick TLS 1.2/1.3
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            _channel.MarkBroken();
            throw MySqlException.Client(MySqlErrorCode.SslConnectionError, $"TLS handshake with {Options} failed: {ex.Message}", ex);
        }

        _channel.ReplaceStream(ssl);
        IsEncrypted = true;
    }

    private bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (Options.SslMode is SslMode.Preferred or SslMode.Required)
        {
            return true; // encryption only, by the caller's choice
        }

        if (certificate is null || Options.SslCaFile is null)
        {
            return false;
        }

        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(Options.SslCaFile);
        using var customChain = new X509Chain();
        customChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        customChain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        customChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var serverCert = new X509Certificate2(certificate);
        if (!customChain.Build(serverCert))
        {
            return false;
        }

        return Options.SslMode != SslMode.VerifyFull || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
    }

    private byte[] ComputeAuthResponse(string plugin, ReadOnlySpan<byte> scramble) => plugin switch
    {
        AuthPlugins.NativePassword => AuthPlugins.NativePasswordResponse(Options.Password, scramble),
        AuthPlugins.Ed25519 => Ed25519Signer.Sign(Encoding.UTF8.GetBytes(Options.Password), scramble.Length > 32 ? scramble[..32] : scramble),
        AuthPlugins.CachingSha2 => AuthPlugins.CachingSha2Response(Options.Password, scramble.Length > 20 ? scramble[..20] : scramble),
        AuthPlugins.ClearPassword when IsEncrypted || Options.UnixSocket is not null => Encoding.UTF8.GetBytes(Options.Password + "\0"),
        AuthPlugins.ClearPassword => throw MySqlException.Client(MySqlErrorCode.AuthPluginNotSupported,
            $"The server asks {Options.User} for mysql_clear_password, which would send the password unencrypted; use TLS (SslMode Required)."),
        _ => throw MySqlException.Client(MySqlErrorCode.AuthPluginNotSupported,
            $"The server asks {Options.User} to authenticate with plugin '{plugin}', which this client does not support; supported: {string.Join(", ", AuthPlugins.Supported)}."),
    };

    private async Task AuthenticateAsync(string plugin, byte[] scramble, CancellationToken cancellationToken)
    {
        while (true)
        {
            var payload = await _channel.ReadPayloadAsync(cancellationToken).ConfigureAwait(false);
            var span = payload.Span;
            if (span.Length == 0)
            {
                throw PayloadReader.Malformed("empty packet during authentication");
            }

            switch (span[0])
            {
                case 0x00:
                    Status = OkPacket.Parse(span).Status;
                    return;
                case 0xFF:
                    throw ErrPacket.Parse(span);
                case 0xFE:
                {
                    if (span.Length == 1)
                    {
                        throw MySqlException.Client(MySqlErrorCode.AuthPluginNotSupported,
                            $"The server asks {Options.User} for the pre-4.1 password hash (mysql_old_password), which is insecure and not supported.");
                    }

                    var r = new PayloadReader(span);
                    r.ReadByte();
                    plugin = r.ReadNullTerminatedString();
                    var data = r.ReadRest();
                    scramble = (data.Length > 0 && data[^1] == 0 ? data[..^1] : data).ToArray();
                    AuthPlugin = plugin;
                    await SendAuthDataAsync(ComputeAuthResponse(plugin, scramble), cancellationToken).ConfigureAwait(false);
                    break;
                }

                case 0x01 when plugin == AuthPlugins.CachingSha2:
                    await ContinueCachingSha2Async(span[1..].ToArray(), scramble, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    throw PayloadReader.Malformed($"unexpected packet 0x{span[0]:X2} during {plugin} authentication");
            }
        }
    }

    /// <summary>caching_sha2_password after the scramble: 3 = fast auth done (an OK follows), 4 = full auth needed.</summary>
    private async Task ContinueCachingSha2Async(byte[] data, byte[] scramble, CancellationToken cancellationToken)
    {
        if (data.Length == 1 && data[0] == 3)
        {
            return;
        }

        if (data.Length == 1 && data[0] == 4)
        {
            if (IsEncrypted || Options.UnixSocket is not null)
            {
                await SendAuthDataAsync(Encoding.UTF8.GetBytes(Options.Password + "\0"), cancellationToken).ConfigureAwait(false);
                return;
            }

            string pem;
            if (Options.ServerRsaPublicKeyFile is not null)
            {
                pem = await File.ReadAllTextAsync(Options.ServerRsaPublicKeyFile, cancellationToken).ConfigureAwait(false);
            }
            else if (Options.AllowPublicKeyRetrieval)
            {
                await SendAuthDataAsync([2], cancellationToken).ConfigureAwait(false);
                var keyPacket = await _channel.ReadPayloadAsync(cancellationToken).ConfigureAwait(false);
                if (keyPacket.Length < 2 || keyPacket.Span[0] != 0x01)
                {
                    throw PacketKind.IsErr(keyPacket.Span) ? ErrPacket.Parse(keyPacket.Span) : PayloadReader.Malformed("expected the server's RSA public key");
                }

                pem = Encoding.ASCII.GetString(keyPacket.Span[1..]);
            }
            else
            {
                throw MySqlException.Client(MySqlErrorCode.AuthPluginNotSupported,
                    $"caching_sha2_password needs full authentication for {Options.User}: use TLS, or set ServerRsaPublicKeyFile, or AllowPublicKeyRetrieval.");
            }

            var nonce = scramble.Length > 20 ? scramble[..20] : scramble;
            await SendAuthDataAsync(AuthPlugins.RsaEncryptPassword(Options.Password, nonce, pem), cancellationToken).ConfigureAwait(false);
            return;
        }

        throw PayloadReader.Malformed($"unexpected caching_sha2_password state {Convert.ToHexString(data)}");
    }

    private async Task SendAuthDataAsync(byte[] data, CancellationToken cancellationToken)
    {
        _writer.Clear();
        _writer.WriteBytes(data);
        await _channel.WriteAsync(_writer, cancellationToken).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- commands

    /// <summary>Runs a statement that returns no rows (an OK packet). A statement that returns rows is drained.</summary>
    public Task<OkPacket> ExecuteAsync(string sql, CancellationToken cancellationToken = default) =>
        ExecuteAsync(Encoding.UTF8.GetBytes(sql), cancellationToken);

    /// <summary>Runs a statement given as UTF-8 bytes (e.g. from <see cref="InsertStatementBuilder"/>).</summary>
    public Task<OkPacket> ExecuteAsync(ReadOnlyMemory<byte> sql, CancellationToken cancellationToken = default) =>
        DrainAsync(SendQueryAsync(sql, null, cancellationToken), cancellationToken);

    private static async Task<OkPacket> DrainAsync(ValueTask<MySqlDataReader> query, CancellationToken cancellationToken)
    {
        var reader = await query.ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
            }

            return reader.Completion;
        }
    }

    public ValueTask<MySqlDataReader> QueryAsync(string sql, CancellationToken cancellationToken = default) =>
        QueryAsync(Encoding.UTF8.GetBytes(sql), cancellationToken);

    /// <summary>Sends COM_QUERY and returns a reader positioned before the first row (rows are read on demand).</summary>
    public ValueTask<MySqlDataReader> QueryAsync(ReadOnlyMemory<byte> sql, CancellationToken cancellationToken = default) =>
        SendQueryAsync(sql, null, cancellationToken);

    /// <param name="localInfile">The one file a LOAD DATA LOCAL INFILE statement may ask for, and its content.</param>
    private async ValueTask<MySqlDataReader> SendQueryAsync(ReadOnlyMemory<byte> sql, (string Name, ReadOnlyMemory<byte> Content, int MaxPacket)? localInfile, CancellationToken cancellationToken)
    {
        var guard = await BeginCommandAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _writer.Clear();
            _writer.WriteByte((byte)CommandKind.Query);
            _writer.WriteBytes(sql.Span);
            await _channel.WriteAsync(_writer, guard.IoToken).ConfigureAwait(false);
            var reader = new MySqlDataReader(this, guard) { LocalInfile = localInfile };
            await reader.ReadResultHeaderAsync().ConfigureAwait(false);
            return reader;
        }
        catch (Exception ex)
        {
            var mapped = guard.Translate(ex);
            await EndCommandAsync(guard).ConfigureAwait(false);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
    }

    /// <summary>
    /// Runs a LOAD DATA LOCAL INFILE statement that names <paramref name="fileName"/>, answering the server's request
    /// for that file with <paramref name="content"/> (no file is read). Needs <see cref="MySqlConnectionOptions.AllowLocalInfile"/>
    /// and the server's local_infile on. The server treats LOCAL rows as IGNORE does: duplicates and bad values are
    /// warnings, not errors, so callers check the returned warning count.
    /// </summary>
    /// <param name="maxPacketBytes">Largest packet of the upload (the server's max_allowed_packet bounds each one).</param>
    public Task<OkPacket> LoadLocalDataAsync(ReadOnlyMemory<byte> sql, string fileName, ReadOnlyMemory<byte> content, int maxPacketBytes = 1 << 20, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        if (maxPacketBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxPacketBytes), maxPacketBytes, "A LOCAL INFILE packet must hold at least one byte.");
        }

        if (!Options.AllowLocalInfile)
        {
            throw new InvalidOperationException("LOAD DATA LOCAL INFILE needs a connection opened with AllowLocalInfile = true.");
        }

        return DrainAsync(SendQueryAsync(sql, (fileName, content, maxPacketBytes), cancellationToken), cancellationToken);
    }

    /// <summary>COM_STMT_PREPARE: a server-side prepared statement with ? placeholders.</summary>
    public async Task<MySqlPreparedStatement> PrepareAsync(string sql, CancellationToken cancellationToken = default)
    {
        var guard = await BeginCommandAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _writer.Clear();
            _writer.WriteByte((byte)CommandKind.StmtPrepare);
            _writer.WriteString(sql);
            await _channel.WriteAsync(_writer, guard.IoToken).ConfigureAwait(false);
            var first = await _channel.ReadPayloadAsync(guard.IoToken).ConfigureAwait(false);
            if (PacketKind.IsErr(first.Span))
            {
                throw ErrPacket.Parse(first.Span);
            }

            var r = new PayloadReader(first.Span);
            if (r.ReadByte() != 0)
            {
                throw PayloadReader.Malformed("COM_STMT_PREPARE answered without an OK header");
            }

            var id = r.ReadUInt32();
            var columnCount = r.ReadUInt16();
            var parameterCount = r.ReadUInt16();
            for (var i = 0; i < parameterCount; i++)
            {
                await _channel.ReadPayloadAsync(guard.IoToken).ConfigureAwait(false);
            }

            if (parameterCount > 0 && !DeprecateEof)
            {
                await _channel.ReadPayloadAsync(guard.IoToken).ConfigureAwait(false);
            }

            var columns = new MySqlColumn[columnCount];
            for (var i = 0; i < columnCount; i++)
            {
                columns[i] = MySqlColumn.Parse((await _channel.ReadPayloadAsync(guard.IoToken).ConfigureAwait(false)).Span);
            }

            if (columnCount > 0 && !DeprecateEof)
            {
                await _channel.ReadPayloadAsync(guard.IoToken).ConfigureAwait(false);
            }

            return new MySqlPreparedStatement(this, id, parameterCount, columns);
        }
        catch (Exception ex)
        {
            var mapped = guard.Translate(ex);
            if (!ReferenceEquals(mapped, ex))
            {
                throw mapped;
            }

            throw;
        }
        finally
        {
            await EndCommandAsync(guard).ConfigureAwait(false);
        }
    }

    internal async ValueTask<MySqlDataReader> ExecutePreparedAsync(PayloadWriter payload, CancellationToken cancellationToken)
    {
        var guard = await BeginCommandAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _channel.WriteAsync(payload, guard.IoToken).ConfigureAwait(false);
            var reader = new MySqlDataReader(this, guard, binaryRows: true);
            await reader.ReadResultHeaderAsync().ConfigureAwait(false);
            return reader;
        }
        catch (Exception ex)
        {
            var mapped = guard.Translate(ex);
            await EndCommandAsync(guard).ConfigureAwait(false);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
    }

    /// <summary>Sends a command that has no response (COM_STMT_CLOSE).</summary>
    internal async ValueTask SendWithoutResponseAsync(PayloadWriter payload)
    {
        if (_busy || _channel.IsBroken)
        {
            return;
        }

        _channel.ResetSequence();
        using var cts = new CancellationTokenSource(Options.CancellationGrace);
        await _channel.WriteAsync(payload, cts.Token).ConfigureAwait(false);
    }

    /// <summary>The first column of the first row, or null when there are no rows or it is NULL.</summary>
    public async Task<string?> QueryScalarAsync(string sql, CancellationToken cancellationToken = default)
    {
        var reader = await QueryAsync(sql, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            string? result = null;
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result = reader.GetValue(0).AsString();
            }

            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
            }

            return result;
        }
    }

    /// <summary>COM_PING: true when the server answered OK.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default) =>
        await SimpleCommandAsync(CommandKind.Ping, cancellationToken).ConfigureAwait(false);

    /// <summary>COM_RESET_CONNECTION: rolls back, drops temporary tables, resets session variables; then re-runs init statements.</summary>
    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        await SimpleCommandAsync(CommandKind.ResetConnection, cancellationToken).ConfigureAwait(false);
        foreach (var statement in Options.InitStatements)
        {
            await ExecuteAsync(statement, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SimpleCommandAsync(CommandKind command, CancellationToken cancellationToken)
    {
        var guard = await BeginCommandAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _writer.Clear();
            _writer.WriteByte((byte)command);
            await _channel.WriteAsync(_writer, guard.IoToken).ConfigureAwait(false);
            var payload = await _channel.ReadPayloadAsync(guard.IoToken).ConfigureAwait(false);
            if (PacketKind.IsErr(payload.Span))
            {
                throw ErrPacket.Parse(payload.Span);
            }

            if (!PacketKind.IsOk(payload.Span))
            {
                throw PayloadReader.Malformed($"expected OK after command {command}, got 0x{payload.Span[0]:X2}");
            }

            Status = OkPacket.Parse(payload.Span).Status;
        }
        catch (Exception ex)
        {
            var mapped = guard.Translate(ex);
            if (!ReferenceEquals(mapped, ex))
            {
                throw mapped;
            }

            throw;
        }
        finally
        {
            await EndCommandAsync(guard).ConfigureAwait(false);
        }
    }

    /// <summary>Sends a raw command packet (used by the binlog client); the caller reads the responses.</summary>
    internal async Task SendCommandAsync(PayloadWriter payload, CancellationToken cancellationToken)
    {
        _channel.ResetSequence();
        await _channel.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
    }

    internal async Task<CommandGuard> BeginCommandAsync(CancellationToken cancellationToken, bool killable = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_channel.IsBroken)
        {
            throw MySqlException.Client(MySqlErrorCode.ServerGone, $"The connection to {Options} is broken by an earlier error; open a new one.");
        }

        if (_busy)
        {
            throw MySqlException.Client(MySqlErrorCode.CommandsOutOfSync, "A command is already running on this connection (dispose the previous reader first).");
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (_pendingKill is not null)
        {
            await ClearStaleKillAsync(cancellationToken).ConfigureAwait(false);
        }

        _busy = true;
        _channel.ResetSequence();
        return new CommandGuard(this, cancellationToken, killable ? Options.CommandTimeout : Timeout.InfiniteTimeSpan);
    }

    internal void SetStatus(ServerStatus status) => Status = status;

    internal async ValueTask EndCommandAsync(CommandGuard guard)
    {
        await guard.DisposeAsync().ConfigureAwait(false);
        if (guard.KillTask is not null)
        {
            _pendingKill = guard.KillTask;
        }

        _busy = false;
    }

    /// <summary>
    /// A KILL QUERY that raced with the end of its statement can leave the session's "killed" flag set, which would
    /// abort the next statement; waiting for the kill and running a no-op statement absorbs it.
    /// </summary>
    private async Task ClearStaleKillAsync(CancellationToken cancellationToken)
    {
        var kill = _pendingKill!;
        _pendingKill = null;
        try
        {
            await kill.WaitAsync(Options.CancellationGrace, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        try
        {
            await ExecuteAsync("DO 0", cancellationToken).ConfigureAwait(false);
        }
        catch (MySqlException ex) when (ex.ErrorNumber == MySqlErrorCode.QueryInterrupted)
        {
        }
    }

    /// <summary>Sends KILL QUERY for this connection's running statement from a new side connection.</summary>
    /// <param name="mayDrop">Asked when the kill could not be delivered: true while the command still runs (then the connection is dropped).</param>
    internal async Task KillQueryAsync(Func<bool> mayDrop)
    {
        var sideOptions = Options with { InitStatements = [], Database = null, CommandTimeout = Options.CancellationGrace, ConnectTimeout = Options.CancellationGrace };
        try
        {
            await using var side = await OpenAsync(sideOptions).ConfigureAwait(false);
            await side.ExecuteAsync($"KILL QUERY {ConnectionId}").ConfigureAwait(false);
        }
        catch (MySqlException)
        {
            // The kill could not be delivered (e.g. a proxy that refuses KILL): drop the connection so the waiting
            // command ends instead of hanging. The lost connection is then the cancellation's doing, not an error of
            // the command (CommandGuard.Translate).
            if (mayDrop())
            {
                Volatile.Write(ref _killUndelivered, true);
                Abort();
            }
        }
    }

    private bool _killUndelivered;

    /// <summary>True once a cancellation's KILL QUERY could not be delivered and the connection was dropped instead.</summary>
    internal bool KillUndelivered => Volatile.Read(ref _killUndelivered);

    /// <summary>Closes the socket at once: any pending read fails and the connection becomes unusable.</summary>
    public void Abort()
    {
        _channel.MarkBroken();
        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_channel.IsBroken && !_busy)
        {
            try
            {
                _writer.Clear();
                _writer.WriteByte((byte)CommandKind.Quit);
                _channel.ResetSequence();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await _channel.WriteAsync(_writer, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MySqlException or OperationCanceledException)
            {
            }
        }

        await _channel.DisposeAsync().ConfigureAwait(false);
        _socket = null;
    }
}
