namespace Durable.Routing;

/// <summary>
/// Where one table name resolves under a snapshot and session target (cached per snapshot, so a statement's lookup
/// allocates nothing): the keyspace target it runs on, the routed table, and the backtick-quoted names a rewrite puts in
/// its place. <see cref="System"/> for information_schema/mysql/performance_schema/sys tables, which are not routed.
/// </summary>
internal sealed class TableRoute
{
    public static TableRoute SystemTable { get; } = new();

    private TableRoute()
    {
        System = true;
        Target = null!;
        Table = string.Empty;
        Qualified = null!;
        One = [];
        QuotedDb = string.Empty;
        QuotedTable = string.Empty;
    }

    public TableRoute(KeyspaceTarget target, RoutedKeyspace keyspace, string table)
    {
        Target = target;
        Table = table;
        Qualified = new QualifiedTable(keyspace.Name, table);
        One = [Qualified];
        QuotedDb = Quote(keyspace.DbName);
        QuotedTable = Quote(table);
        ShardedKeyspace = keyspace.Sharded ? keyspace : null;
    }

    /// <summary>The keyspace when it is sharded (its statements are planned per shard); null otherwise.</summary>
    public RoutedKeyspace? ShardedKeyspace { get; }

    public bool System { get; }

    public KeyspaceTarget Target { get; }

    public string Table { get; }

    public QualifiedTable Qualified { get; }

    /// <summary><see cref="Qualified"/> alone, for a statement naming just this table (no list allocated per statement).</summary>
    public IReadOnlyList<QualifiedTable> One { get; }

    public string QuotedDb { get; }

    public string QuotedTable { get; }

    public static string Quote(string name) => "`" + name.Replace("`", "``", StringComparison.Ordinal) + "`";
}
