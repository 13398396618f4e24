namespace Durable.Routing;

/// <summary>
/// One COM_QUERY text (or prepared statement) after routing: the text to send, rewritten for the backend (keyspaces
/// qualified in it mapped to their databases, <c>DATABASE()</c> answered with the keyspace), where it must run, the
/// tables it touches after the routing rules (what a cutover hold compares against), and what it does to the session.
/// </summary>
public sealed record RoutedStatement
{
    public required StatementKind Kind { get; init; }

    /// <summary>The text to send to the backend; empty for <see cref="StatementKind.Local"/>.</summary>
    public string Sql { get; init; } = string.Empty;

    /// <summary>
    /// Where it must run. Null when it names no table and no keyspace (SELECT 1, SET, SHOW VARIABLES, BEGIN): it runs
    /// on the session's current target, or the gateway's default backend when the session has none.
    /// </summary>
    public KeyspaceTarget? Target { get; init; }

    /// <summary>Every table the statement names, resolved through the routing rules (joins, subqueries, DML targets).</summary>
    public IReadOnlyList<QualifiedTable> Tables { get; init; } = [];

    /// <summary>True when it changes rows or schema (DML, DDL, LOCK TABLES ... WRITE, SELECT ... FOR UPDATE): primary only, held at cutover.</summary>
    public bool Writes { get; init; }

    public SessionEffects Effects { get; init; }

    /// <summary>For <see cref="SessionEffects.ChangesKeyspace"/>: the keyspace target the session moves to.</summary>
    public KeyspaceTarget? UseKeyspace { get; init; }

    public LocalCommand Local { get; init; }

    /// <summary>
    /// Set when the statement's tables are in a sharded keyspace: <see cref="Sql"/> must then be planned per shard
    /// (<see cref="Sharding.ShardPlanner"/>) rather than sent to <see cref="Target"/> as it is.
    /// </summary>
    public RoutedKeyspace? ShardedKeyspace { get; init; }

    /// <summary>The number of statements in the text (more than one for multi-statements; each routed to the same target).</summary>
    public int Parts { get; init; } = 1;
}
