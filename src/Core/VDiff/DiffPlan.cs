using System.Globalization;
using System.Text;
using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;

namespace Durable.VDiff;

/// <summary>How one primary-key column is ordered when the two streams are merged.</summary>
public enum KeyOrder
{
    /// <summary>Integers and decimals: compared as numbers (their text), never as bytes.</summary>
    Number,

    /// <summary>FLOAT/DOUBLE keys: compared as doubles.</summary>
    Float,

    /// <summary>Binary strings and BIT: the server compares bytes, so bytes are the order.</summary>
    Bytes,

    /// <summary>DATE/DATETIME/TIME/TIMESTAMP in their fixed text form: the text order is the time order.</summary>
    Temporal,

    /// <summary>Text: compared by the server's weight strings of the column's collation.</summary>
    Weight,

    /// <summary>ENUM/SET: the server orders by the member index, selected as <c>col+0</c>.</summary>
    MemberIndex,
}

/// <summary>One side (source or target) of a compared table: which columns, in which order, and how they are read.</summary>
public sealed class DiffSide
{
    internal DiffSide(TableSchema schema, int[] compared, int[] pk, string? datetimeFromUtcTo, RowRouter? router, int? routerColumn)
    {
        Schema = schema;
        Compared = compared;
        Pk = pk;
        DatetimeFromUtcTo = datetimeFromUtcTo;
        Router = router;
        RouterColumn = routerColumn;
    }

    public TableSchema Schema { get; }

    /// <summary>Indexes into <see cref="TableSchema.Columns"/> of the compared columns, in the source's column order.</summary>
    public int[] Compared { get; }

    /// <summary>Indexes of the primary-key columns, in key order.</summary>
    public int[] Pk { get; }

    /// <summary>Target side with --source-time-zone: DATETIMEs are converted from UTC back to this zone before hashing.</summary>
    public string? DatetimeFromUtcTo { get; }

    /// <summary>Source side of a sharded target: keeps only the rows that belong to the target shard.</summary>
    public RowRouter? Router { get; }

    /// <summary>Index of the vindex column within the schema when <see cref="Router"/> is set.</summary>
    public int? RouterColumn { get; }
}

/// <summary>
/// The SQL of one table's comparison. Everything value-dependent is computed by the servers: the row hash (MD5 over
/// CONCAT_WS of the columns with a NULL-marker column, the pt-table-checksum construction), the chunk aggregates
/// (COUNT and BIT_XOR of the hash's first 64 bits) and the key order (weight strings of the key's collation). C# only
/// compares those results, so a case- or accent-insensitive key orders exactly as MySQL orders it.
/// </summary>
public sealed class DiffPlan
{
    private DiffPlan(string table, DiffSide source, DiffSide target, KeyOrder[] keyOrders, bool[] convertText, bool[] nullMarker)
    {
        Table = table;
        Source = source;
        Target = target;
        KeyOrders = keyOrders;
        _convertText = convertText;
        _nullMarker = nullMarker;
    }

    // Per compared column (index into DiffSide.Compared): whether its text is hashed as CONVERT(... USING utf8mb4), and
    // whether the row text carries its ISNULL marker. Decided from both schemas at once, so both sides hash alike.
    private readonly bool[] _convertText;
    private readonly bool[] _nullMarker;

    public string Table { get; }

    public DiffSide Source { get; }

    public DiffSide Target { get; }

    public KeyOrder[] KeyOrders { get; }

    public IReadOnlyList<string> PkNames => Source.Pk.Select(i => Source.Schema.Columns[i].Name).ToArray();

    /// <summary>
    /// Matches the two schemas: the target must have every source column and the same primary key with the same
    /// collations (the ranges and the merge order are computed by each server in its own collation, so they must agree).
    /// </summary>
    /// <param name="nullableColumns">
    /// Compared columns that may hold NULL on either side (names, any case), or null when unknown (every column then
    /// carries its NULL marker). A column NOT NULL on both sides gets no marker: it would be a constant '0' in every row.
    /// </param>
    public static DiffPlan Create(TableSchema source, TableSchema target, KeyRangeFilter? sourceFilter, string? sourceTimeZone, IReadOnlySet<string>? nullableColumns = null)
    {
        if (source.PrimaryKey.Count == 0)
        {
            throw new VDiffException($"Table {source.Database}.{source.Name} has no primary key; VDiff compares rows by primary key and needs one.");
        }

        var sourcePkNames = source.PrimaryKey.Select(i => source.Columns[i].Name).ToArray();
        var targetPkNames = target.PrimaryKey.Select(i => target.Columns[i].Name).ToArray();
        if (!sourcePkNames.SequenceEqual(targetPkNames, StringComparer.OrdinalIgnoreCase))
        {
            throw new VDiffException($"Table {source.Name}: the primary key differs, source ({string.Join(", ", sourcePkNames)}) vs target ({string.Join(", ", targetPkNames)}); the target must have the source's primary key.");
        }

        var missing = source.Columns.Where(c => target.IndexOf(c.Name) is null).Select(c => c.Name).ToArray();
        if (missing.Length > 0)
        {
            throw new VDiffException($"Table {source.Name}: the target {target.Database}.{target.Name} lacks the source column(s) {string.Join(", ", missing)}.");
        }

        var keyOrders = new KeyOrder[source.PrimaryKey.Count];
        for (var k = 0; k < keyOrders.Length; k++)
        {
            var s = source.Columns[source.PrimaryKey[k]];
            var t = target.Columns[target.PrimaryKey[k]];
            if (!string.Equals(s.Collation ?? "", t.Collation ?? "", StringComparison.OrdinalIgnoreCase) ||
                !string.Equals(s.DataType, t.DataType, StringComparison.OrdinalIgnoreCase))
            {
                throw new VDiffException(
                    $"Table {source.Name}: key column {s.Name} is {s.ColumnType} {s.Collation} on the source but {t.ColumnType} {t.Collation} on the target; " +
                    "VDiff orders both sides by the key and needs the same type and collation.");
            }

            keyOrders[k] = OrderOf(s);
        }

        var compared = Enumerable.Range(0, source.Columns.Count).ToArray();
        var targetCompared = source.Columns.Select(c => target.IndexOf(c.Name)!.Value).ToArray();
        RowRouter? router = null;
        int? routerColumn = null;
        if (sourceFilter is not null)
        {
            router = new RowRouter(sourceFilter, source);
            routerColumn = source.IndexOf(sourceFilter.Columns[0]);
        }

        // CONVERT(col USING utf8mb4) makes a latin1 source and a utf8mb4 target hash alike, but it copies every value and
        // costs the servers about as much as the hash itself. It is left out where it changes nothing: a column of the
        // same character set on both sides that is utf8mb4 already, or when all text columns of both sides are of one
        // character set (then the bytes hashed are the stored bytes on both sides and CONCAT_WS mixes no charsets).
        static bool Text(ColumnInfo c) => c.IsTextual && c.DataType.ToLowerInvariant() is not ("enum" or "set");
        var textCharsets = compared.Select(i => source.Columns[i]).Concat(targetCompared.Select(i => target.Columns[i]))
            .Where(Text).Select(c => c.Charset!.ToLowerInvariant()).Distinct().ToArray();
        var convertText = new bool[compared.Length];
        var nullMarker = new bool[compared.Length];
        for (var j = 0; j < compared.Length; j++)
        {
            var s = source.Columns[compared[j]];
            var t = target.Columns[targetCompared[j]];
            var sameCharset = Text(s) && Text(t) && string.Equals(s.Charset, t.Charset, StringComparison.OrdinalIgnoreCase)
                && (string.Equals(s.Charset, "utf8mb4", StringComparison.OrdinalIgnoreCase) || textCharsets.Length == 1);
            convertText[j] = (Text(s) || Text(t)) && !sameCharset;
            nullMarker[j] = nullableColumns is null || nullableColumns.Contains(s.Name) || nullableColumns.Contains(t.Name);
        }

        return new DiffPlan(
            source.Name,
            new DiffSide(source, compared, source.PrimaryKey.ToArray(), null, router, routerColumn),
            new DiffSide(target, targetCompared, target.PrimaryKey.ToArray(), sourceTimeZone, null, null),
            keyOrders,
            convertText,
            nullMarker);
    }

    internal static KeyOrder OrderOf(ColumnInfo column)
    {
        var type = column.DataType.ToLowerInvariant();
        if (type is "enum" or "set")
        {
            return KeyOrder.MemberIndex;
        }

        if (type is "float" or "double" or "real")
        {
            return KeyOrder.Float;
        }

        if (column.IsTemporal)
        {
            return KeyOrder.Temporal;
        }

        return column.Style switch
        {
            LiteralStyle.Number => KeyOrder.Number,
            LiteralStyle.Binary => KeyOrder.Bytes,
            _ => column.Charset is null ? KeyOrder.Bytes : KeyOrder.Weight,
        };
    }

    /// <summary>
    /// PAD SPACE collations (all MariaDB collations but the _nopad_ ones; MySQL's pre-0900 ones) ignore trailing spaces,
    /// but WEIGHT_STRING of a bare value keeps them. Padding every weight to the column's length (AS CHAR(n)) makes weights
    /// compare exactly as the collation does, including characters that sort below a space.
    /// </summary>
    internal static bool IsPadSpace(string? collation) =>
        collation is not null && !collation.Contains("nopad", StringComparison.OrdinalIgnoreCase) && !collation.Contains("_0900_", StringComparison.OrdinalIgnoreCase);

    internal static int? CharLength(ColumnInfo column)
    {
        var open = column.ColumnType.IndexOf('(');
        var close = open < 0 ? -1 : column.ColumnType.IndexOf(')', open);
        return open >= 0 && close > open && int.TryParse(column.ColumnType.AsSpan(open + 1, close - open - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    private static string Q(string identifier) => SqlQuoter.Identifier(identifier);

    /// <summary>The value expression of the j-th compared column as hashed: text in utf8mb4 where the sides' charsets could differ.</summary>
    private string ValueExpr(DiffSide side, int j, SqlQuoter quoter)
    {
        var c = side.Schema.Columns[side.Compared[j]];
        var name = Q(c.Name);
        if (side.DatetimeFromUtcTo is { } tz && string.Equals(c.DataType, "datetime", StringComparison.OrdinalIgnoreCase))
        {
            return $"CONVERT_TZ({name}, '+00:00', {quoter.String(tz)})";
        }

        // FLOAT as its exact value, not MariaDB's six-digit text: two floats that print alike must still differ here.
        return _convertText[j] && c.IsTextual && c.DataType.ToLowerInvariant() is not ("enum" or "set") ? $"CONVERT({name} USING utf8mb4)" : c.ExactSelectExpression(name);
    }

    /// <summary>
    /// Hash rows with CRC32 and CRC32C (two different polynomials, 64 bits together) instead of MD5: several times cheaper
    /// for the servers, which compute a hash of every row on both sides. Set when both servers have CRC32C (MariaDB 10.8+).
    /// </summary>
    public bool UseCrc { get; set; }

    /// <summary>True when the server computes CRC32C() (MariaDB 10.8 and later).</summary>
    public static bool HasCrc32C(MySqlConnection c)
    {
        if (!c.IsMariaDb)
        {
            return false;
        }

        // "10.11.19-MariaDB-...", or "5.5.5-10.11.19-MariaDB-..." as the handshake of older clients shows it.
        var version = c.ServerVersion.StartsWith("5.5.5-", StringComparison.Ordinal) ? c.ServerVersion[6..] : c.ServerVersion;
        var parts = version.Split('.', 3);
        return parts.Length >= 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            && (major > 10 || (major == 10 && minor >= 8));
    }

    /// <summary>
    /// CONCAT_WS of the values plus a column of NULL markers of the nullable columns, as pt-table-checksum does: what is
    /// hashed per row. CONCAT_WS skips NULLs, so the markers are what tells NULL from '' (and from a missing column).
    /// </summary>
    private string RowText(DiffSide side, SqlQuoter quoter)
    {
        var sb = new StringBuilder("CONCAT_WS('#'");
        for (var j = 0; j < side.Compared.Length; j++)
        {
            sb.Append(", ").Append(ValueExpr(side, j, quoter));
        }

        var markers = Enumerable.Range(0, side.Compared.Length).Where(j => _nullMarker[j]).ToArray();
        if (markers.Length > 0)
        {
            sb.Append(", CONCAT(");
            sb.AppendJoin(", ", markers.Select(j => $"ISNULL({Q(side.Schema.Columns[side.Compared[j]].Name)})"));
            sb.Append(')');
        }

        sb.Append(')');
        return sb.ToString();
    }

    /// <summary>The row hash the merge compares: MD5 (32 hex digits), or with <see cref="UseCrc"/> the 64-bit CRC pair as a decimal.</summary>
    public string HashExpr(DiffSide side, SqlQuoter quoter) => UseCrc ? Hash64Expr(side, quoter) : $"MD5({RowText(side, quoter)})";

    /// <summary>The row hash as an unsigned 64-bit number, what chunk checksums BIT_XOR: the CRC pair, or MD5's first 64 bits.</summary>
    public string Hash64Expr(DiffSide side, SqlQuoter quoter)
    {
        var text = RowText(side, quoter);
        return UseCrc ? $"((CRC32({text}) << 32) | CRC32C({text}))" : $"CAST(CONV(LEFT(MD5({text}), 16), 16, 10) AS UNSIGNED)";
    }

    /// <summary>The select list that orders a row: the raw key values, then one order value per key column.</summary>
    public string KeySelect(DiffSide side)
    {
        var parts = new List<string>();
        parts.AddRange(side.Pk.Select(i => side.Schema.Columns[i].ExactSelectExpression(Q(side.Schema.Columns[i].Name))));
        for (var k = 0; k < side.Pk.Length; k++)
        {
            var c = side.Schema.Columns[side.Pk[k]];
            parts.Add(KeyOrders[k] switch
            {
                KeyOrder.Weight => IsPadSpace(c.Collation) && CharLength(c) is { } n
                    ? $"WEIGHT_STRING({Q(c.Name)} AS CHAR({n.ToString(CultureInfo.InvariantCulture)}))"
                    : $"WEIGHT_STRING({Q(c.Name)})",
                KeyOrder.MemberIndex => $"{Q(c.Name)}+0",
                _ => "NULL",
            });
        }

        return string.Join(", ", parts);
    }

    public string OrderBy(DiffSide side) => string.Join(", ", side.Pk.Select(i => Q(side.Schema.Columns[i].Name)));

    /// <summary>WHERE clause (without the keyword) of the range (lower, upper], or "1" for the whole table.</summary>
    public string RangePredicate(DiffSide side, IReadOnlyList<MySqlValue>? lowerExclusive, IReadOnlyList<MySqlValue>? upperInclusive, SqlQuoter quoter)
    {
        var sql = new ByteBuilder(256);
        if (lowerExclusive is null && upperInclusive is null)
        {
            return "1";
        }

        if (lowerExclusive is not null)
        {
            side.Schema.AppendAfterPredicate(sql, lowerExclusive, quoter);
        }

        if (upperInclusive is not null)
        {
            if (lowerExclusive is not null)
            {
                sql.Append(" AND "u8);
            }

            AppendAtOrBefore(sql, side, upperInclusive, quoter);
        }

        return sql.ToString();
    }

    /// <summary>"(a, b) &lt;= (x, y)" expanded as "a &lt; x OR (a = x AND b &lt;= y)", with collation-carrying literals.</summary>
    internal static void AppendAtOrBefore(ByteBuilder sql, DiffSide side, IReadOnlyList<MySqlValue> upper, SqlQuoter quoter)
    {
        if (upper.Count != side.Pk.Length)
        {
            throw new VDiffException($"A saved key of {side.Schema.Name} has {upper.Count} values but the primary key has {side.Pk.Length} columns; the table changed during the diff.");
        }

        sql.Append("("u8);
        for (var i = 0; i < side.Pk.Length; i++)
        {
            if (i > 0)
            {
                sql.Append(" OR "u8);
            }

            sql.Append("("u8);
            for (var j = 0; j <= i; j++)
            {
                var column = side.Schema.Columns[side.Pk[j]];
                if (j > 0)
                {
                    sql.Append(" AND "u8);
                }

                sql.Append(Q(column.Name));
                sql.Append(j < i ? " = "u8 : i == side.Pk.Length - 1 ? " <= "u8 : " < "u8);
                column.AppendComparable(sql, upper[j], quoter);
            }

            sql.Append(")"u8);
        }

        sql.Append(")"u8);
    }

    /// <summary>"a = x AND b = y" for one key.</summary>
    public string KeyEquals(DiffSide side, IReadOnlyList<MySqlValue> key, SqlQuoter quoter)
    {
        var sql = new ByteBuilder(128);
        for (var j = 0; j < side.Pk.Length; j++)
        {
            var column = side.Schema.Columns[side.Pk[j]];
            if (j > 0)
            {
                sql.Append(" AND "u8);
            }

            sql.Append(Q(column.Name));
            sql.Append(" = "u8);
            column.AppendComparable(sql, key[j], quoter);
        }

        return sql.ToString();
    }

    /// <summary>The select list of all compared columns, for samples and repair (values exactly, so a repair writes them back unchanged).</summary>
    public string ColumnList(DiffSide side) => string.Join(", ", side.Compared.Select(i => side.Schema.Columns[i].ExactSelectExpression(Q(side.Schema.Columns[i].Name))));

    /// <summary>Compares two keys in the server's order: numbers as numbers, text by collation weights, bytes as bytes.</summary>
    public int CompareKeys(KeyRow a, KeyRow b)
    {
        for (var k = 0; k < KeyOrders.Length; k++)
        {
            var c = KeyOrders[k] switch
            {
                KeyOrder.Number => CompareNumberText(a.Key[k].Span, b.Key[k].Span),
                KeyOrder.Float => double.Parse(a.Key[k].Span, CultureInfo.InvariantCulture).CompareTo(double.Parse(b.Key[k].Span, CultureInfo.InvariantCulture)),
                KeyOrder.Bytes or KeyOrder.Temporal => a.Key[k].Span.SequenceCompareTo(b.Key[k].Span),
                KeyOrder.Weight => a.Order[k].Span.SequenceCompareTo(b.Order[k].Span),
                KeyOrder.MemberIndex => CompareNumberText(a.Order[k].Span, b.Order[k].Span),
                _ => throw new InvalidOperationException($"Unknown key order {KeyOrders[k]}."),
            };
            if (c != 0)
            {
                return c;
            }
        }

        return 0;
    }

    /// <summary>Compares two decimal numbers in MySQL text form ("-12.50", "7") of any precision, without parsing.</summary>
    internal static int CompareNumberText(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var negA = a.Length > 0 && a[0] == (byte)'-';
        var negB = b.Length > 0 && b[0] == (byte)'-';
        if (negA != negB)
        {
            return IsZero(a) && IsZero(b) ? 0 : negA ? -1 : 1;
        }

        var magnitude = CompareMagnitude(negA ? a[1..] : a, negB ? b[1..] : b);
        return negA ? -magnitude : magnitude;
    }

    private static bool IsZero(ReadOnlySpan<byte> s)
    {
        foreach (var ch in s)
        {
            if (ch is not ((byte)'0' or (byte)'-' or (byte)'.' or (byte)'+'))
            {
                return false;
            }
        }

        return true;
    }

    private static int CompareMagnitude(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length > 0 && a[0] == (byte)'+')
        {
            a = a[1..];
        }

        if (b.Length > 0 && b[0] == (byte)'+')
        {
            b = b[1..];
        }

        var dotA = a.IndexOf((byte)'.');
        var dotB = b.IndexOf((byte)'.');
        var intA = (dotA < 0 ? a : a[..dotA]).TrimStart((byte)'0');
        var intB = (dotB < 0 ? b : b[..dotB]).TrimStart((byte)'0');
        if (intA.Length != intB.Length)
        {
            return intA.Length.CompareTo(intB.Length);
        }

        var c = intA.SequenceCompareTo(intB);
        if (c != 0)
        {
            return c;
        }

        var fracA = (dotA < 0 ? [] : a[(dotA + 1)..]).TrimEnd((byte)'0');
        var fracB = (dotB < 0 ? [] : b[(dotB + 1)..]).TrimEnd((byte)'0');
        return fracA.SequenceCompareTo(fracB);
    }
}

/// <summary>One row of a merge stream: key values, order values, row hash; the merge refills one per side in place (values valid until that side's next row).</summary>
public sealed class KeyRow(MySqlValue[] key, MySqlValue[] order, MySqlValue hash)
{
    public MySqlValue[] Key { get; } = key;

    public MySqlValue[] Order { get; } = order;

    public MySqlValue Hash { get; internal set; } = hash;
}
