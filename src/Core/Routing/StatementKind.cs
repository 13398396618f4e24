namespace Durable.Routing;

/// <summary>What a statement is, as far as routing, pinning and holding need to know.</summary>
public enum StatementKind
{
    Select,
    Insert,
    Update,
    Delete,
    Replace,
    /// <summary>CREATE/ALTER/DROP/TRUNCATE/RENAME: to the keyspace's primary, commits implicitly.</summary>
    Ddl,
    /// <summary>SET of session (or user) variables, SET NAMES/CHARACTER SET, SET TRANSACTION.</summary>
    Set,
    Use,
    Begin,
    Commit,
    Rollback,
    /// <summary>SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO: inside the open transaction.</summary>
    Savepoint,
    Show,
    /// <summary>DESCRIBE/EXPLAIN.</summary>
    Describe,
    LockTables,
    UnlockTables,
    /// <summary>SHOW VITESS_TABLETS / VITESS_KEYSPACES / VITESS_SHARDS: answered by the gateway (see <see cref="LocalCommand"/>).</summary>
    Local,
    /// <summary>Several statements in one COM_QUERY (multi-statements): see <see cref="RoutedStatement.Parts"/>.</summary>
    Multi,
}

/// <summary>The statements the gateway answers itself, from the topology, as vtgate does.</summary>
public enum LocalCommand
{
    None,
    ShowVitessTablets,
    ShowVitessKeyspaces,
    ShowVitessShards,
    /// <summary>SHOW DATABASES / SHOW SCHEMAS: vtgate answers with the keyspaces (not the tablets' databases).</summary>
    ShowDatabases,
}

/// <summary>
/// What running a statement does to the client session beyond its result: transaction boundaries, and the state that
/// ties a session to one backend connection (vtgate's reserved connections) until the session ends or it is released.
/// </summary>
[Flags]
public enum SessionEffects
{
    None = 0,
    /// <summary>BEGIN / START TRANSACTION, or a statement with autocommit off that opens one.</summary>
    BeginsTransaction = 1,
    /// <summary>COMMIT / ROLLBACK (not ROLLBACK TO SAVEPOINT).</summary>
    EndsTransaction = 2,
    /// <summary>DDL and LOCK TABLES commit an open transaction first (MySQL's implicit commit).</summary>
    ImplicitCommit = 4,
    /// <summary>A session-scope SET (system variables, NAMES, CHARACTER SET, autocommit): replayed on every backend connection the session uses.</summary>
    CarriedSet = 8,
    /// <summary>CREATE TEMPORARY TABLE: the session pins its backend connection.</summary>
    TemporaryTable = 16,
    /// <summary>GET_LOCK (and other named-lock functions): the session pins its backend connection.</summary>
    AdvisoryLock = 32,
    /// <summary>A user variable assigned (SET @x, SELECT ... INTO @x, @x := ...): the session pins its backend connection.</summary>
    UserVariable = 64,
    /// <summary>LOCK TABLES: pinned until UNLOCK TABLES.</summary>
    LockTables = 128,
    /// <summary>UNLOCK TABLES.</summary>
    UnlockTables = 256,
    /// <summary>USE: the session's default keyspace changes to <see cref="RoutedStatement.UseKeyspace"/>.</summary>
    ChangesKeyspace = 512,
    /// <summary>SET autocommit = 0: every later statement is inside a transaction until COMMIT/ROLLBACK.</summary>
    AutocommitOff = 1024,
    /// <summary>SET autocommit = 1 (commits an open transaction).</summary>
    AutocommitOn = 2048,
}
