namespace Durable.Routing;

/// <summary>
/// An error the gateway answers itself, as a MySQL ERR packet: the code and SQLSTATE a client library maps, and a
/// message naming what was wrong and what would be valid. Nothing was sent to a backend when one is thrown.
/// </summary>
public sealed class GatewaySqlException(int code, string sqlState, string message) : Exception(message)
{
    /// <summary>ER_BAD_DB_ERROR: unknown keyspace (database).</summary>
    public const int BadDb = 1049;

    /// <summary>ER_PARSE_ERROR: a statement outside the supported grammar.</summary>
    public const int ParseError = 1064;

    /// <summary>ER_NO_SUCH_TABLE.</summary>
    public const int NoSuchTable = 1146;

    /// <summary>ER_NOT_SUPPORTED_YET: e.g. a statement whose tables resolve to different keyspaces.</summary>
    public const int NotSupported = 1235;

    /// <summary>ER_NO_DB_ERROR: a table without a keyspace and no USE.</summary>
    public const int NoDb = 1046;

    /// <summary>
    /// ER_LOCK_WAIT_TIMEOUT ("try restarting transaction"): a statement held at cutover past a limit. Chosen because
    /// client libraries and ORMs already treat it as transient and retry it, it says the statement did not run, and,
    /// unlike 1213 (deadlock), it does not claim that an open transaction was rolled back.
    /// </summary>
    public const int LockWaitTimeout = 1205;

    /// <summary>ER_UNKNOWN_ERROR, with a message that says what to do.</summary>
    public const int Unknown = 1105;

    public int Code { get; } = code;

    public string SqlState { get; } = sqlState;
}
