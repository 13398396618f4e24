using System.Text;
using Durable.Testing;

namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// The tables the oracle tests read through both clients: the shared all-types table (every column type the product
/// moves) and narrower tables that walk one family through its edges: every DECIMAL/FLOAT/DOUBLE extreme and
/// round-trip trap, BIT(1..64), each fractional precision 0..6 of DATETIME/TIMESTAMP/TIME, several charsets with
/// trailing spaces/zeros and empty-vs-NULL, and values past 1 MiB and past the 16 MiB packet boundary. Insert under
/// <c>sql_mode = 'NO_ENGINE_SUBSTITUTION'</c> (zero dates) and <c>time_zone = '+00:00'</c>.
/// </summary>
public static class OracleTables
{
    /// <summary>The all-types table of the binlog and replication tests, with each column's comparison.</summary>
    public static OracleTable AllTypes { get; } = new(
        "all_types",
        AllTypesTable.CreateTable,
        ["INSERT INTO all_types (" + AllTypesTable.Columns + ") VALUES " + string.Join(",", AllTypesTable.Rows)],
        [
            .. Many(OracleKind.Integer, "ti", "tiu", "si", "siu", "mi", "miu", "i", "iu", "bi", "biu"),
            .. Many(OracleKind.Decimal, "d1", "d2", "d3", "d4"),
            new("f", OracleKind.Float), new("dbl", OracleKind.Double),
            new("b1", OracleKind.Bit, 1), new("b10", OracleKind.Bit, 10), new("b64", OracleKind.Bit, 64),
            new("y", OracleKind.Year), new("dt", OracleKind.Date),
            new("tm", OracleKind.Time, 0), new("tm3", OracleKind.Time, 3), new("tm6", OracleKind.Time, 6),
            new("dtm", OracleKind.DateTime, 0), new("dtm2", OracleKind.DateTime, 2), new("dtm6", OracleKind.DateTime, 6),
            new("ts", OracleKind.DateTime, 0), new("ts6", OracleKind.DateTime, 6),
            .. Many(OracleKind.Text, "c", "vc"), .. Many(OracleKind.Binary, "bin", "vb"),
            .. Many(OracleKind.Text, "tt", "tx", "mt", "lt"), .. Many(OracleKind.Binary, "tb", "bl", "mb", "lb"),
            .. Many(OracleKind.Text, "e", "s", "j"), new("g", OracleKind.Binary),
            .. Many(OracleKind.Text, "u", "i4", "i6", "cc"), new("cb", OracleKind.Binary), new("cu", OracleKind.Text),
        ]);

    /// <summary>DECIMAL at 65 digits and 30 decimals, FLOAT/DOUBLE at their limits, subnormals, -0 and text round-trip traps.</summary>
    public static OracleTable Numbers { get; } = new(
        "oracle_numbers",
        """
        CREATE TABLE oracle_numbers (
          id INT NOT NULL PRIMARY KEY,
          d65 DECIMAL(65,0), d6530 DECIMAL(65,30), d11 DECIMAL(1,1), d3810u DECIMAL(38,10) UNSIGNED, f FLOAT, dbl DOUBLE
        ) ENGINE=InnoDB
        """,
        [
            "INSERT INTO oracle_numbers VALUES " + string.Join(", ",
                $"(1, {Nines(65)}, {Nines(35)}.{Nines(30)}, 0.9, {Nines(28)}.{Nines(10)}, 3.4028234e38, 1.7976931348623157e308)",
                $"(2, -{Nines(65)}, -{Nines(35)}.{Nines(30)}, -0.9, 0, -3.4028234e38, -1.7976931348623157e308)",
                "(3, 0, 0, 0, 0, 0, 0)",
                // the smallest magnitudes: one unit in the last place, the subnormal minimums
                "(4, 1, 0.000000000000000000000000000001, 0.1, 0.0000000001, 1.401298464324817e-45, 4.9406564584124654e-324)",
                "(5, -1, -0.000000000000000000000000000001, -0.1, 1, -1.401298464324817e-45, -4.9406564584124654e-324)",
                // -0 written several ways: DECIMAL has no -0 and MariaDB 10.11 stores FLOAT/DOUBLE -0 as 0; both clients must agree
                "(6, '-0', '-0.000', '-0.0', '0', -0e0, -0e0)",
                "(7, 0, 0, 0, 0, CAST('-0' AS DOUBLE), -1e-300 * 1e-300)",
                // integers just past the mantissa: 2^24+1 and 2^53+1 are not representable and round
                "(8, 12345678901234567890123456789012345678901234567890123456789012345, 1.5, 0.5, 1.5, 16777217, 9007199254740993)",
                // classic text traps: 0.1, 0.1+0.2 in binary floating point, 1/3, the smallest normals
                "(9, 0, 0.1, 0.1, 0.1, 0.1, 0.1e0 + 0.2e0)",
                "(10, 0, 0.333333333333333333333333333333, 0.3, 0.3333333333, 1e0 / 3e0, 1e0 / 3e0)",
                "(11, 0, 0, 0, 0, 1.17549435e-38, 2.2250738585072014e-308)",
                // my_gcvt's switch between the fixed and the exponent form
                "(12, 0, 0, 0, 0, 1e15, 1e15)",
                "(13, 0, 0, 0, 0, 1e16, 1e16)",
                "(14, 0, 0, 0, 0, 0.000001, 1e-15)",
                "(15, 0, 0, 0, 0, 1e-5, 1e-16)",
                "(16, 0, 0, 0, 0, 123456789, 123456789012345678)",
                "(17, 0, 0, 0, 0, 100, 1e21)",
                "(18, 0, 0, 0, 0, 1.0000001, 1.0000000000000002)",
                "(19, 0, 0, 0, 0, 9.999999e-5, 4.35e-15)",
                "(20, NULL, NULL, NULL, NULL, NULL, NULL)"),
        ],
        [.. Many(OracleKind.Decimal, "d65", "d6530", "d11", "d3810u"), new("f", OracleKind.Float), new("dbl", OracleKind.Double)]);

    /// <summary>
    /// The deprecated display-width forms FLOAT(M,D) and DOUBLE(M,D), which a SELECT prints with exactly D decimals:
    /// values that round at D, round to zero from below, and carry more digits than a double holds.
    /// </summary>
    public static OracleTable FixedFloats { get; } = new(
        "oracle_fixed_floats",
        "CREATE TABLE oracle_fixed_floats (id INT NOT NULL PRIMARY KEY, fm FLOAT(10,3), dm DOUBLE(22,5)) ENGINE=InnoDB",
        [
            "INSERT INTO oracle_fixed_floats VALUES " + string.Join(", ",
                "(1, 12345.678, 1234567890123456.75)",
                "(2, -0.0005, 1e16)",
                "(3, 1, 0.000005)",
                "(4, 9999999.999, -0.000005)",
                "(5, -1.5, 99999999999999999.99999)",
                "(6, 0.0015, 0.000025)",
                "(7, 0, 0)",
                "(8, NULL, NULL)"),
        ],
        [new("fm", OracleKind.Float, 3), new("dm", OracleKind.Double, 5)]);

    /// <summary>BIT(1) to BIT(64), each with zero, all ones, only the top bit, alternating bits and NULL.</summary>
    public static OracleTable Bits { get; } = BuildBits();

    /// <summary>YEAR, DATE and every fractional precision 0..6 of DATETIME, TIMESTAMP and TIME.</summary>
    public static OracleTable Temporal { get; } = BuildTemporal();

    /// <summary>Character columns in several charsets and collations, binary strings, ENUM, SET, JSON and GEOMETRY.</summary>
    public static OracleTable Strings { get; } = new(
        "oracle_strings",
        """
        CREATE TABLE oracle_strings (
          id INT NOT NULL PRIMARY KEY,
          c CHAR(10), vc VARCHAR(50), vcb VARCHAR(50) COLLATE utf8mb4_bin, tx TEXT,
          l1 VARCHAR(50) CHARACTER SET latin1, l1c CHAR(10) CHARACTER SET latin1 COLLATE latin1_bin, l1t TEXT CHARACTER SET latin1,
          a VARCHAR(50) CHARACTER SET ascii, u3 VARCHAR(50) CHARACTER SET utf8mb3, u16 VARCHAR(50) CHARACTER SET utf16,
          vcbin VARCHAR(50) CHARACTER SET binary, bn BINARY(6), vb VARBINARY(50), bl BLOB,
          e ENUM('', 'a', 'é', '😀'), s SET('a', 'b', 'ç'), j JSON, g GEOMETRY
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
        """,
        [
            "INSERT INTO oracle_strings VALUES " + string.Join(", ",
                "(1, 'abc', 'abc', 'abc', 'abc', 'abc', 'abc', 'abc', 'abc', 'abc', 'abc', 'abc', x'616263', x'616263', x'616263', 'a', 'a,b', '{\"a\": 1}', ST_GeomFromText('POINT(0 0)'))",
                // the empty string, which is not NULL
                "(2, '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '\"\"', ST_GeomFromText('GEOMETRYCOLLECTION EMPTY'))",
                "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
                // trailing spaces (CHAR drops them, VARCHAR/TEXT keep them) and trailing zeros (BINARY pads with them)
                "(4, 'a  ', 'a  ', 'a  ', 'a  ', 'a  ', 'a  ', 'a  ', 'a  ', 'a  ', 'a  ', 'a  ', x'61', x'612000', x'20200000', 'a', 'b', '[1, 2.50, \"x \"]', ST_GeomFromText('POINT(1.5 -2.5)', 4326))",
                // 4-byte UTF-8 where the charset holds it, cp1252's euro sign in latin1, 0x00 and 0xFF bytes
                "(5, '😀é', '𝄞 music 😀', '😀Z', '中文😀', 'ÿé€', 'ÿé€', 'ÿ€', 'A\tB', 'é✓', '😀𝄞', x'00FF', x'FF00', x'00FF00FF', x'FF', '😀', 'a,b,ç', '{\"emoji\": \"😀\", \"escaped\": \"\\\\u00e9\"}', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'))",
                // quote, backslash, newline and NUL inside text
                "(6, 'it''s', 'a\\\\b\\nc', 'x\\0y', 'tab\\there', 'q''', 'b\\\\', 'nl\\n', '\\0', 'it''s', 'é\\0', x'5C27', x'00', x'00', x'000000', 'é', 'ç', 'null', ST_GeomFromText('LINESTRING(1 1,2 2,3 3)'))"),
        ],
        [
            .. Many(OracleKind.Text, "c", "vc", "vcb", "tx", "l1", "l1c", "l1t", "a", "u3", "u16"),
            .. Many(OracleKind.Binary, "vcbin", "bn", "vb", "bl"),
            .. Many(OracleKind.Text, "e", "s", "j"), new("g", OracleKind.Binary),
        ]);

    /// <summary>Values past 1 MiB (binary and 4-byte UTF-8 text) and a blob past the protocol's 16 MiB packet size.</summary>
    public static OracleTable Long { get; } = new(
        "oracle_long",
        "CREATE TABLE oracle_long (id INT NOT NULL PRIMARY KEY, lb LONGBLOB, lt LONGTEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        [
            "INSERT INTO oracle_long VALUES (1, REPEAT(x'00FF20', 400000), REPEAT('😀é ', 300000))",
            "INSERT INTO oracle_long VALUES (2, CONCAT(REPEAT(x'A5', 17 * 1024 * 1024), x'0020'), NULL)",
            "INSERT INTO oracle_long VALUES (3, x'', '')",
        ],
        [new("lb", OracleKind.Binary), new("lt", OracleKind.Text)]);

    public static IReadOnlyList<OracleTable> All { get; } = [AllTypes, Numbers, FixedFloats, Bits, Temporal, Strings, Long];

    public static OracleTable Named(string name) => All.Single(t => t.Name == name);

    private static IEnumerable<OracleColumn> Many(OracleKind kind, params string[] names) => names.Select(n => new OracleColumn(n, kind));

    private static string Nines(int count) => new('9', count);

    private static OracleTable BuildBits()
    {
        var widths = Enumerable.Range(1, 64).ToArray();
        var create = "CREATE TABLE oracle_bits (id INT NOT NULL PRIMARY KEY, " + string.Join(", ", widths.Select(n => $"b{n} BIT({n})")) + ") ENGINE=InnoDB";
        string Row(int id, Func<int, string> bits) =>
            $"({id}, " + string.Join(", ", widths.Select(n => bits(n) is "NULL" ? "NULL" : $"b'{bits(n)}'")) + ")";
        var rows = new[]
        {
            Row(1, n => "0"),
            Row(2, n => new string('1', n)),
            Row(3, n => "1" + new string('0', n - 1)),
            Row(4, n => string.Concat(Enumerable.Range(0, n).Select(i => i % 2 == 0 ? '1' : '0'))),
            Row(5, n => "1"),
            Row(6, n => "NULL"),
        };
        return new OracleTable(
            "oracle_bits",
            create,
            ["INSERT INTO oracle_bits VALUES " + string.Join(", ", rows)],
            [.. widths.Select(n => new OracleColumn($"b{n}", OracleKind.Bit, n))]);
    }

    private static OracleTable BuildTemporal()
    {
        var fsps = Enumerable.Range(0, 7).ToArray();
        var create = new StringBuilder("CREATE TABLE oracle_temporal (id INT NOT NULL PRIMARY KEY, y YEAR, d DATE");
        foreach (var p in fsps)
        {
            create.Append($", dt{p} DATETIME({p}), ts{p} TIMESTAMP({p}) NULL DEFAULT NULL, t{p} TIME({p})");
        }

        create.Append(") ENGINE=InnoDB");

        // One row per edge; each DATETIME/TIMESTAMP/TIME value goes to all seven precisions (the server truncates).
        string Row(int id, string year, string date, string dateTime, string timestamp, string time) =>
            $"({id}, {year}, {date}" + string.Concat(fsps.Select(_ => $", {dateTime}, {timestamp}, {time}")) + ")";
        var rows = new[]
        {
            Row(1, "1901", "'1000-01-01'", "'1000-01-01 00:00:00.000000'", "'1970-01-01 00:00:01.000000'", "'-838:59:59'"),
            Row(2, "2155", "'9999-12-31'", "'9999-12-31 23:59:59.999999'", "'2038-01-19 03:14:07.999999'", "'838:59:59'"),
            // zero dates and the zero YEAR
            Row(3, "0", "'0000-00-00'", "'0000-00-00 00:00:00'", "'0000-00-00 00:00:00'", "'00:00:00'"),
            // dates with a zero month or day, a microsecond below zero time
            Row(4, "'00'", "'2024-00-00'", "'2024-02-00 10:00:00.5'", "'2024-02-29 12:34:56.123456'", "'-00:00:00.000001'"),
            // fractions that every precision cuts differently; TIME past 24 hours
            Row(5, "1999", "'2024-02-29'", "'2024-02-29 12:34:56.123456'", "'2000-01-01 00:00:00.5'", "'100:00:00.5'"),
            Row(6, "2000", "'1999-12-31'", "'2024-12-31 23:59:59.999999'", "'1999-12-31 23:59:59.000001'", "'-25:30:00.123456'"),
            Row(7, "2069", "'2000-02-29'", "'1969-07-20 20:17:40.654321'", "'2001-09-09 01:46:40.010203'", "'-100:00:00.100001'"),
            Row(8, "NULL", "NULL", "NULL", "NULL", "NULL"),
        };

        var columns = new List<OracleColumn> { new("y", OracleKind.Year), new("d", OracleKind.Date) };
        foreach (var p in fsps)
        {
            columns.Add(new($"dt{p}", OracleKind.DateTime, p));
            columns.Add(new($"ts{p}", OracleKind.DateTime, p));
            columns.Add(new($"t{p}", OracleKind.Time, p));
        }

        return new OracleTable("oracle_temporal", create.ToString(), ["INSERT INTO oracle_temporal VALUES " + string.Join(", ", rows)], columns);
    }
}
