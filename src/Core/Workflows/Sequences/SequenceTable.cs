using Durable.MySql.Sql;

namespace Durable.Workflows;

/// <summary>
/// The Vitess sequence that replaces a moved table's AUTO_INCREMENT (--sharded-auto-increment-handling REPLACE): the
/// table <c>&lt;table&gt;_seq</c> in the unsharded global keyspace, <c>(id INT, next_id BIGINT, cache BIGINT,
/// PRIMARY KEY(id)) COMMENT 'vitess_sequence'</c> with the one row <c>(0, 1, 1000)</c>, as Vitess creates it.
/// </summary>
public sealed record SequenceTable(string Table, string Column, string GlobalKeyspace)
{
    /// <summary>The comment Vitess marks its sequence tables with.</summary>
    public const string Comment = "vitess_sequence";

    /// <summary>The values a gateway reserves per UPDATE unless the row says otherwise.</summary>
    public const long DefaultCache = 1000;

    /// <summary>The longest name MySQL allows a table; <c>_seq</c> must fit in it.</summary>
    public const int MaxNameLength = 64;

    /// <summary>The sequence table's name, as Vitess names it (<c>%s_seq</c>).</summary>
    public string Name => NameFor(Table);

    /// <summary>How the target VSchema names the sequence: qualified, so no global routing is needed to find it.</summary>
    public string Qualified => GlobalKeyspace + "." + Name;

    public static string NameFor(string table) => table + "_seq";

    /// <summary>Creates the table when it is absent (a re-run finds it and leaves it as it is).</summary>
    public string CreateSql(string db) =>
        $"CREATE TABLE IF NOT EXISTS {SqlQuoter.QualifiedName(db, Name)} (id INT NOT NULL, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT '{Comment}'";

    /// <summary>The one row, when it is absent: a row a gateway has advanced is never reset.</summary>
    public string SeedSql(string db) =>
        $"INSERT IGNORE INTO {SqlQuoter.QualifiedName(db, Name)} (id, next_id, cache) VALUES (0, 1, {DefaultCache})";
}
