using System.Text;
using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.Replication;

/// <summary>One column of a table, from information_schema, with how its SELECT-form values are written back.</summary>
public sealed record ColumnInfo(string Name, string DataType, string ColumnType, string? Charset, string? Collation, bool Generated, bool Invisible)
{
    private static readonly HashSet<string> NumberTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double", "real", "year",
    };

    private static readonly HashSet<string> BinaryTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "bit", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
        "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection",
    };

    // Bytes that need escaping inside a string literal (backslash-escapes mode escapes all of them; the
    // NO_BACKSLASH_ESCAPES mode only the quote): values without any are copied in one piece.
    private static readonly System.Buffers.SearchValues<byte> Escaped = System.Buffers.SearchValues.Create([0, (byte)'\'', (byte)'"', (byte)'\n', (byte)'\r', 0x1A, (byte)'\\']);

    public bool Unsigned => ColumnType.Contains("unsigned", StringComparison.OrdinalIgnoreCase);

    /// <summary>How a value of this column is written as a literal: numbers as text, bytes as X'hex', the rest as strings.</summary>
    /// <remarks>Computed once: the apply path asks for it for every value of every row.</remarks>
    public LiteralStyle Style { get; } =
        NumberTypes.Contains(DataType) ? LiteralStyle.Number :
        BinaryTypes.Contains(DataType) || string.Equals(Charset, "binary", StringComparison.OrdinalIgnoreCase) ? LiteralStyle.Binary :
        LiteralStyle.String;

    /// <summary>Integer types (and YEAR): their key values compare as numbers, with no collation involved.</summary>
    public bool IsInteger { get; } = DataType.ToLowerInvariant() is "tinyint" or "smallint" or "mediumint" or "int" or "integer" or "bigint" or "year";

    public bool IsTextual => Style == LiteralStyle.String && Charset is not null && !IsTemporal;

    public bool IsTemporal => DataType.ToLowerInvariant() is "date" or "datetime" or "timestamp" or "time";

    /// <summary>
    /// How to SELECT this column so that its text reads back as the same value. MariaDB prints FLOAT with six
    /// significant digits (16777216 reads as 16777200, 123456792 as 123457000): written back, that text is another
    /// float. As DOUBLE the float's exact value prints in the shortest form that reads back, and a FLOAT column stores
    /// that text as the very same float. Every other type's text already round-trips.
    /// </summary>
    public string ExactSelectExpression(string quotedName) =>
        string.Equals(DataType, "float", StringComparison.OrdinalIgnoreCase) ? $"CAST({quotedName} AS DOUBLE)" : quotedName;

    /// <summary>
    /// Appends a literal that compares like a value of this column even when both sides of the comparison are literals:
    /// text carries the column's collation (so case-insensitive and accented keys compare as the table does), temporal
    /// values are cast to their type. Used for lastpk comparisons, which therefore happen in SQL, never on bytes in C#.
    /// </summary>
    public void AppendComparable(ByteBuilder sql, MySqlValue value, SqlQuoter quoter)
    {
        if (value.IsNull)
        {
            sql.Append("NULL"u8);
            return;
        }

        switch (Style)
        {
            case LiteralStyle.Number:
                sql.Append(value.Span);
                return;
            case LiteralStyle.Binary:
                SqlQuoter.AppendBinaryLiteral(sql, value.Span);
                return;
        }

        switch (DataType.ToLowerInvariant())
        {
            case "date":
                sql.Append("CAST("u8);
                quoter.AppendStringLiteral(sql, value.Span);
                sql.Append(" AS DATE)"u8);
                return;
            case "datetime":
            case "timestamp":
                sql.Append("CAST("u8);
                quoter.AppendStringLiteral(sql, value.Span);
                sql.Append(" AS DATETIME(6))"u8);
                return;
            case "time":
                sql.Append("CAST("u8);
                quoter.AppendStringLiteral(sql, value.Span);
                sql.Append(" AS TIME(6))"u8);
                return;
        }

        if (Charset is null || Collation is null)
        {
            quoter.AppendStringLiteral(sql, value.Span);
            return;
        }

        // The value is UTF-8 (SELECT form over a utf8mb4 connection); convert it to the column's charset and give it the
        // column's collation. A hex literal with the _utf8mb4 introducer needs no escaping at all.
        sql.Append("CONVERT(_utf8mb4 "u8);
        SqlQuoter.AppendBinaryLiteral(sql, value.Span);
        sql.Append(" USING "u8);
        sql.Append(Charset);
        sql.Append(") COLLATE "u8);
        sql.Append(Collation);
    }

    /// <summary>Appends the literal used to write a value into this column.</summary>
    public void AppendValue(ByteBuilder sql, MySqlValue value, SqlQuoter quoter, string? sourceTimeZone)
    {
        if (value.IsNull)
        {
            sql.Append("NULL"u8);
            return;
        }

        switch (Style)
        {
            case LiteralStyle.Number: sql.Append(value.Span); return;
            case LiteralStyle.Binary: SqlQuoter.AppendBinaryLiteral(sql, value.Span); return;
        }

        if (sourceTimeZone is not null && string.Equals(DataType, "datetime", StringComparison.OrdinalIgnoreCase))
        {
            // --source-time-zone: DATETIME has no zone, so the source's wall-clock values are converted to UTC on the way in.
            sql.Append("CONVERT_TZ("u8);
            quoter.AppendStringLiteral(sql, value.Span);
            sql.Append(", "u8);
            quoter.AppendStringLiteral(sql, Encoding.UTF8.GetBytes(sourceTimeZone));
            sql.Append(", '+00:00')"u8);
            return;
        }

        AppendString(sql, value.Span, quoter);
    }

    /// <summary>A string literal; the common value with nothing to escape is copied whole instead of byte by byte.</summary>
    private static void AppendString(ByteBuilder sql, ReadOnlySpan<byte> utf8, SqlQuoter quoter)
    {
        if (utf8.IndexOfAny(Escaped) >= 0)
        {
            quoter.AppendStringLiteral(sql, utf8);
            return;
        }

        sql.Append((byte)'\'');
        sql.Append(utf8);
        sql.Append((byte)'\'');
    }
}

/// <summary>A table's columns and primary key, read from information_schema.</summary>
public sealed class TableSchema
{
    private readonly Dictionary<string, int> _byName;

    public TableSchema(string database, string name, IReadOnlyList<ColumnInfo> columns, IReadOnlyList<string> primaryKey, bool hasSecondaryUniqueKey = true)
    {
        HasSecondaryUniqueKey = hasSecondaryUniqueKey;
        Database = database;
        Name = name;
        Columns = columns;
        _byName = columns.Select((c, i) => (c, i)).ToDictionary(x => x.c.Name, x => x.i, StringComparer.OrdinalIgnoreCase);
        PrimaryKey = primaryKey.Select(k => _byName[k]).ToArray();
        Writable = Enumerable.Range(0, columns.Count).Where(i => !columns[i].Generated).ToArray();
        QuotedNames = columns.Select(c => Encoding.UTF8.GetBytes(SqlQuoter.Identifier(c.Name))).ToArray();
    }

    /// <summary>Each column's name quoted as an identifier, as UTF-8 (written into every statement that names it).</summary>
    public IReadOnlyList<byte[]> QuotedNames { get; }

    public string Database { get; }

    public string Name { get; }

    public IReadOnlyList<ColumnInfo> Columns { get; }

    /// <summary>Indexes (into <see cref="Columns"/>) of the primary key columns, in key order.</summary>
    public IReadOnlyList<int> PrimaryKey { get; }

    /// <summary>
    /// Whether a UNIQUE index other than the primary key exists (true when not known). Without one a row can only collide
    /// on its primary key, so the applier may write a changed row as an in-place upsert; with one, rows that swap
    /// unique values need every touched row deleted before any is re-inserted.
    /// </summary>
    public bool HasSecondaryUniqueKey { get; }

    /// <summary>Indexes of the columns that are written: every column but generated ones (invisible ones included).</summary>
    public IReadOnlyList<int> Writable { get; }

    public string QualifiedName => SqlQuoter.QualifiedName(Database, Name);

    /// <summary><see cref="QualifiedName"/> as UTF-8, made once (every applied statement starts with it).</summary>
    public byte[] QualifiedNameBytes => _qualifiedNameBytes ??= Encoding.UTF8.GetBytes(QualifiedName);

    private byte[]? _qualifiedNameBytes;

    public int? IndexOf(string column) => _byName.TryGetValue(column, out var i) ? i : null;

    public static async Task<TableSchema?> TryLoadAsync(MySqlConnection c, string database, string table, CancellationToken ct = default)
    {
        var q = c.Quoter;
        var columns = new List<ColumnInfo>();
        await using (var r = await c.QueryAsync(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, IS_GENERATED, EXTRA FROM information_schema.COLUMNS " +
            $"WHERE TABLE_SCHEMA = {q.String(database)} AND TABLE_NAME = {q.String(table)} ORDER BY ORDINAL_POSITION", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var extra = r.GetString(6) ?? string.Empty;
                columns.Add(new ColumnInfo(r.GetString(0)!, r.GetString(1)!, r.GetString(2)!, r.GetString(3), r.GetString(4),
                    Generated: string.Equals(r.GetString(5), "ALWAYS", StringComparison.OrdinalIgnoreCase) || extra.Contains("GENERATED", StringComparison.OrdinalIgnoreCase),
                    Invisible: extra.Contains("INVISIBLE", StringComparison.OrdinalIgnoreCase)));
            }
        }

        if (columns.Count == 0)
        {
            return null;
        }

        var pk = new List<string>();
        await using (var r = await c.QueryAsync(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS " +
            $"WHERE TABLE_SCHEMA = {q.String(database)} AND TABLE_NAME = {q.String(table)} AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                pk.Add(r.GetString(0)!);
            }
        }

        var secondaryUnique = false;
        await using (var r = await c.QueryAsync(
            "SELECT COUNT(*) FROM information_schema.STATISTICS " +
            $"WHERE TABLE_SCHEMA = {q.String(database)} AND TABLE_NAME = {q.String(table)} AND INDEX_NAME <> 'PRIMARY' AND NON_UNIQUE = 0", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                secondaryUnique = r.GetInt64(0) > 0;
            }
        }

        return new TableSchema(database, table, columns, pk, secondaryUnique);
    }

    public static async Task<TableSchema> LoadAsync(MySqlConnection c, string database, string table, CancellationToken ct = default) =>
        await TryLoadAsync(c, database, table, ct).ConfigureAwait(false)
        ?? throw new TerminalReplicationException($"Table {database}.{table} does not exist on {c.Options.Host}:{c.Options.Port}.");

    /// <summary>
    /// The expanded tuple predicate "(a, b) &gt; (x, y)" as "a &gt; x OR (a = x AND b &gt; y)": the optimizer turns it
    /// into a range on the primary key, which it does not reliably do for row constructors.
    /// </summary>
    public void AppendAfterPredicate(ByteBuilder sql, IReadOnlyList<MySqlValue> lastPk, SqlQuoter quoter)
    {
        if (lastPk.Count != PrimaryKey.Count)
        {
            throw new TerminalReplicationException($"The saved lastpk of {Name} has {lastPk.Count} values but the primary key has {PrimaryKey.Count} columns; the table changed during the copy.");
        }

        sql.Append("("u8);
        for (var i = 0; i < PrimaryKey.Count; i++)
        {
            if (i > 0)
            {
                sql.Append(" OR "u8);
            }

            sql.Append("("u8);
            for (var j = 0; j <= i; j++)
            {
                var column = Columns[PrimaryKey[j]];
                if (j > 0)
                {
                    sql.Append(" AND "u8);
                }

                sql.Append(SqlQuoter.Identifier(column.Name));
                sql.Append(j == i ? " > "u8 : " = "u8);
                column.AppendComparable(sql, lastPk[j], quoter);
            }

            sql.Append(")"u8);
        }

        sql.Append(")"u8);
    }
}
