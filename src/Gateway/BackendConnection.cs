using Durable.MySql;
using Durable.MySql.Protocol;
using Durable.Routing;

namespace Durable.Gateway;

/// <summary>
/// One pooled connection to a tablet, as a session uses it: the session state applied to it (how many of the
/// session's carried SETs), what ties it to its session (a transaction, temporary tables, named locks, user
/// variables, LOCK TABLES), and the gateway's prepared statements it has prepared, by gateway statement.
/// </summary>
internal sealed class BackendConnection(BackendEndpoint endpoint, MySqlConnection connection, bool foundRows)
{
    public BackendEndpoint Endpoint { get; } = endpoint;

    /// <summary>Opened with CLIENT_FOUND_ROWS: only sessions whose client asked for it may use it (the flag is fixed at login).</summary>
    public bool FoundRows { get; } = foundRows;

    public MySqlConnection Connection { get; } = connection;

    /// <summary>How many of its session's carried SETs have run on it.</summary>
    public int AppliedSets { get; set; }

    /// <summary>State that ties it to the session (temporary tables, named locks, user variables, LOCK TABLES).</summary>
    public SessionEffects Reserved { get; set; }

    /// <summary>Session state another session must not see: reset (COM_RESET_CONNECTION) before it is handed out again.</summary>
    public bool Dirty { get; set; }

    public DateTime IdleSince { get; set; } = DateTime.UtcNow;

    public Dictionary<PreparedStatement, uint> Prepared { get; } = [];

    /// <summary>True while the backend says a transaction is open, or autocommit is off (every statement is in one).</summary>
    public bool InTransaction => (Connection.Status & ServerStatus.InTransaction) != 0 || (Connection.Status & ServerStatus.AutoCommit) == 0;

    public bool Pinned => InTransaction || Reserved != SessionEffects.None;

    public bool IsUsable => Connection.IsUsable;
}
