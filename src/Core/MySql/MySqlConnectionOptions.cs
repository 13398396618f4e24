namespace Durable.MySql;

/// <summary>How a connection uses TLS.</summary>
public enum SslMode
{
    /// <summary>Never use TLS.</summary>
    Disabled,

    /// <summary>Use TLS when the server offers it, without verifying the certificate.</summary>
    Preferred,

    /// <summary>Fail unless TLS is used; the certificate is not verified.</summary>
    Required,

    /// <summary>Fail unless TLS is used and the server certificate chains to <see cref="MySqlConnectionOptions.SslCaFile"/>.</summary>
    VerifyCA,

    /// <summary>As VerifyCA, and the certificate must also name <see cref="MySqlConnectionOptions.Host"/>.</summary>
    VerifyFull,
}

/// <summary>Where and how to connect. The password is never included in <see cref="ToString"/>.</summary>
public sealed record MySqlConnectionOptions
{
    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 3306;

    /// <summary>A Unix socket path; when set it is used instead of Host/Port.</summary>
    public string? UnixSocket { get; init; }

    public required string User { get; init; }

    public string Password { get; init; } = string.Empty;

    public string? Database { get; init; }

    public SslMode SslMode { get; init; } = SslMode.Preferred;

    /// <summary>PEM file of the CA that must have issued the server certificate (VerifyCA/VerifyFull).</summary>
    public string? SslCaFile { get; init; }

    /// <summary>caching_sha2_password without TLS: allow asking the server for its RSA key (vulnerable to a MITM).</summary>
    public bool AllowPublicKeyRetrieval { get; init; }

    /// <summary>caching_sha2_password without TLS: the server's RSA public key (PEM file), so it need not be fetched.</summary>
    public string? ServerRsaPublicKeyFile { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest a single command may run before it is killed (KILL QUERY); Infinite for no limit.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long to wait for a killed command to end before the connection is dropped.</summary>
    public TimeSpan CancellationGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Advertise LOAD DATA LOCAL INFILE support, so <see cref="MySqlConnection.LoadLocalDataAsync"/> can stream rows from
    /// memory. The client never reads a file from disk: it answers only the request for the name its own statement
    /// gave, with the bytes it was handed, and refuses any other request.
    /// </summary>
    public bool AllowLocalInfile { get; init; }

    /// <summary>
    /// CLIENT_FOUND_ROWS: UPDATE reports the rows it matched instead of the rows it changed. A proxy sets it as its own
    /// client did (MySqlConnector asks for it by default, and EF Core's concurrency checks read that count).
    /// </summary>
    public bool FoundRows { get; init; }

    /// <summary>Statements run right after connecting (e.g. session variables); they are re-run after a pool reset.</summary>
    public IReadOnlyList<string> InitStatements { get; init; } = [];

    public override string ToString() =>
        $"{User}@{(UnixSocket is null ? $"{Host}:{Port}" : UnixSocket)}{(Database is null ? string.Empty : "/" + Database)} (ssl {SslMode})";
}
