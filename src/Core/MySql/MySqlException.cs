namespace Durable.MySql;

/// <summary>
/// An error from a MySQL/MariaDB server (carrying its error number, SQLSTATE and message) or from this client's
/// handling of the protocol (then <see cref="ErrorNumber"/> is one of the client-side numbers in <see cref="MySqlErrorCode"/>).
/// </summary>
public class MySqlException : Exception
{
    public MySqlException(int errorNumber, string sqlState, string message, Exception? inner = null)
        : base(message, inner)
    {
        ErrorNumber = errorNumber;
        SqlState = sqlState;
    }

    /// <summary>The server's error number (e.g. 1062 duplicate key), or a client error number (2000-2999).</summary>
    public int ErrorNumber { get; }

    /// <summary>The five-character SQLSTATE ("HY000" when the server sent none).</summary>
    public string SqlState { get; }

    /// <summary>True when the error came from the server (an ERR packet), false for client-side protocol/network errors.</summary>
    public bool IsServerError => ErrorNumber < 2000 || ErrorNumber >= 3000;

    public override string ToString() => $"MySqlException {ErrorNumber} ({SqlState}): {Message}";

    internal static MySqlException Client(int number, string message, Exception? inner = null) =>
        new(number, "HY000", message, inner);
}

/// <summary>The server closed a binlog dump because another replica connected with the same server id.</summary>
public sealed class DuplicateServerIdException : MySqlException
{
    public DuplicateServerIdException(int serverId, MySqlException cause)
        : base(cause.ErrorNumber, cause.SqlState,
            $"The binlog stream with replica server id {serverId} was ended by the server: another replica connected " +
            $"with the same server id ({cause.Message}). Use a server id that no other replica or stream uses.", cause)
    {
        ServerId = serverId;
    }

    public int ServerId { get; }
}

/// <summary>The requested binlog position is no longer on the server (its binlog files were purged).</summary>
public sealed class BinlogPositionPurgedException : MySqlException
{
    public BinlogPositionPurgedException(string position, MySqlException cause)
        : base(cause.ErrorNumber, cause.SqlState,
            $"The binlog position {position} is no longer available on the server: the binlog files holding it were " +
            $"purged ({cause.Message}). The stream cannot continue from there; it must be re-copied from a new snapshot.", cause)
    {
        Position = position;
    }

    public string Position { get; }
}

/// <summary>Error numbers used here: the server's that the client reacts to, and the client's own.</summary>
public static class MySqlErrorCode
{
    // Server errors the client interprets.
    public const int QueryInterrupted = 1317;          // ER_QUERY_INTERRUPTED (KILL QUERY)
    public const int ConnectionKilled = 1927;          // ER_CONNECTION_KILLED (MariaDB)
    public const int ServerShutdown = 1053;            // ER_SERVER_SHUTDOWN
    public const int MasterFatalReadingBinlog = 1236;  // ER_MASTER_FATAL_ERROR_READING_BINLOG
    public const int UnknownSystemVariable = 1193;
    public const int AccessDenied = 1045;
    public const int LockWaitTimeout = 1205;
    public const int Deadlock = 1213;
    public const int DuplicateKey = 1062;

    // Client-side errors (same numbering space as libmysqlclient's CR_* codes).
    public const int UnknownError = 2000;
    public const int ConnectionFailed = 2003;
    public const int ServerGone = 2006;
    public const int ServerLost = 2013;
    public const int MalformedPacket = 2027;
    public const int AuthPluginNotSupported = 2059;
    public const int SslConnectionError = 2026;
    public const int CommandTimeout = 2062;
    public const int ConnectTimeout = 2064;
    public const int CommandsOutOfSync = 2014;
    public const int BinlogChecksumMismatch = 2070;
}
