using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.Workflows;

/// <summary>
/// A table's definition as information_schema states it: its kind (BASE TABLE, VIEW, ...), whether its engine is
/// transactional, its columns in order and its keys. Table options (ENGINE name, ROW_FORMAT, COMMENT, the
/// AUTO_INCREMENT counter, the default charset) are left out on purpose: two tables that differ only there hold and
/// return the same rows. The columns carry their own charset and collation, so the table default is not needed.
/// </summary>
public sealed record TableDefinition(
    string Db,
    string Table,
    string Kind,
    bool Transactional,
    IReadOnlyList<ColumnDefinition> Columns,
    IReadOnlyList<KeyDefinition> Keys)
{
    public const string BaseTable = "BASE TABLE";

    /// <summary>The definition of <paramref name="db"/>.<paramref name="table"/>, or null when the server has no such table.</summary>
    public static async Task<TableDefinition?> TryLoadAsync(MySqlConnection c, string db, string table, CancellationToken ct)
    {
        var q = c.Quoter;
        var where = $"TABLE_SCHEMA = {q.String(db)} AND TABLE_NAME = {q.String(table)}";
        string? kind = null;
        var transactional = false;
        await using (var r = await c.QueryAsync(
                         "SELECT t.TABLE_TYPE, e.TRANSACTIONS FROM information_schema.TABLES t LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE " +
                         $"WHERE t.TABLE_SCHEMA = {q.String(db)} AND t.TABLE_NAME = {q.String(table)}", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                kind = r.GetString(0);
                transactional = string.Equals(r.GetString(1), "YES", StringComparison.OrdinalIgnoreCase);
            }
        }

        if (kind is null)
        {
            return null;
        }

        return new TableDefinition(db, table, kind, transactional, await LoadColumnsAsync(c, where, ct).ConfigureAwait(false), await LoadKeysAsync(c, where, ct).ConfigureAwait(false));
    }

    private static async Task<IReadOnlyList<ColumnDefinition>> LoadColumnsAsync(MySqlConnection c, string where, CancellationToken ct)
    {
        var columns = new List<ColumnDefinition>();
        await using var r = await c.QueryAsync(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, GENERATION_EXPRESSION " +
            $"FROM information_schema.COLUMNS WHERE {where} ORDER BY ORDINAL_POSITION", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            columns.Add(new ColumnDefinition(r.GetString(0)!, r.GetString(1)!, r.GetString(2) == "YES", r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6) ?? "", r.GetString(7)));
        }

        return columns;
    }

    private static async Task<IReadOnlyList<KeyDefinition>> LoadKeysAsync(MySqlConnection c, string where, CancellationToken ct)
    {
        var parts = new List<(string Name, bool Unique, string Type, string Column)>();
        await using (var r = await c.QueryAsync(
                         "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE " +
                         $"FROM information_schema.STATISTICS WHERE {where} ORDER BY INDEX_NAME, SEQ_IN_INDEX", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                // A NULL column name is a functional key part (MySQL 8); its expression is not in STATISTICS on MariaDB.
                var column = r.GetString(2) is { } name ? SqlQuoter.Identifier(name) : "(expression)";
                if (r.GetString(3) is { } prefix)
                {
                    column += $"({prefix})";
                }

                if (r.GetString(4) == "D")
                {
                    column += " DESC";
                }

                parts.Add((r.GetString(0)!, r.GetString(1) == "0", r.GetString(5) ?? "BTREE", column));
            }
        }

        return [.. parts.GroupBy(p => p.Name, StringComparer.Ordinal)
            .Select(g => new KeyDefinition(g.Key, g.First().Unique, g.First().Type, [.. g.Select(p => p.Column)]))];
    }
}

/// <summary>One column of a <see cref="TableDefinition"/>, as information_schema.COLUMNS states it.</summary>
/// <param name="Default">COLUMN_DEFAULT as the server prints it (MariaDB: an SQL expression, 'text' quoted; NULL: none).</param>
/// <param name="Extra">EXTRA: auto_increment, on update ..., VIRTUAL/STORED GENERATED, INVISIBLE.</param>
public sealed record ColumnDefinition(
    string Name, string ColumnType, bool Nullable, string? Default, string? Charset, string? Collation, string Extra, string? Generation)
{
    public bool IsAutoIncrement => Extra.Contains("auto_increment", StringComparison.OrdinalIgnoreCase);

    /// <summary>This column without AUTO_INCREMENT: what the workflow leaves on a sharded target with REMOVE handling.</summary>
    public ColumnDefinition WithoutAutoIncrement() => this with
    {
        Extra = string.Join(' ', Extra.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !string.Equals(w, "auto_increment", StringComparison.OrdinalIgnoreCase))),
    };

    /// <summary>The column as a column definition reads, e.g. <c>varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT 'x'</c>.</summary>
    public string Describe()
    {
        var parts = new List<string> { ColumnType };
        if (Charset is not null)
        {
            parts.Add("CHARACTER SET " + Charset);
        }

        if (Collation is not null)
        {
            parts.Add("COLLATE " + Collation);
        }

        if (Generation is not null)
        {
            parts.Add($"AS ({Generation})");
        }

        parts.Add(Nullable ? "NULL" : "NOT NULL");
        if (Default is not null)
        {
            parts.Add("DEFAULT " + Default);
        }

        if (Extra.Length > 0)
        {
            parts.Add(Extra);
        }

        return string.Join(' ', parts);
    }
}

/// <summary>One key (index) of a <see cref="TableDefinition"/>: its name, uniqueness, type and parts in order.</summary>
/// <param name="Parts">Each part as a key definition writes it: <c>`v`(10) DESC</c>.</param>
public sealed record KeyDefinition(string Name, bool Unique, string IndexType, IReadOnlyList<string> Parts)
{
    public bool IsPrimary => Name == "PRIMARY";

    /// <summary>The key as SHOW CREATE TABLE writes it, e.g. <c>UNIQUE KEY `u` (`v`(10), `w` DESC)</c>.</summary>
    public string Describe()
    {
        var type = IndexType.ToUpperInvariant();
        var head = IsPrimary ? "PRIMARY KEY"
            : type is "FULLTEXT" or "SPATIAL" ? $"{type} KEY {SqlQuoter.Identifier(Name)}"
            : (Unique ? "UNIQUE KEY " : "KEY ") + SqlQuoter.Identifier(Name);
        var parts = $"({string.Join(", ", Parts)})";
        return type is "BTREE" or "FULLTEXT" or "SPATIAL" ? $"{head} {parts}" : $"{head} {parts} USING {type}";
    }

    public bool SameAs(KeyDefinition other) =>
        Unique == other.Unique && string.Equals(IndexType, other.IndexType, StringComparison.OrdinalIgnoreCase) && Parts.SequenceEqual(other.Parts, StringComparer.OrdinalIgnoreCase);
}
