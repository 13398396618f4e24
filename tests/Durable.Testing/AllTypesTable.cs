namespace Durable.Testing;

/// <summary>
/// The all-types test table: every column type MariaDB has, with edge values (minimums, maximums, zero dates,
/// 4-byte UTF-8, binary with 0x00 bytes, NULLs, fractions), plus an invisible column. The protocol tests read it
/// through SELECT and the binlog; the replication tests copy and replicate it. Insert the rows with
/// <c>INSERT INTO all_types (Columns) VALUES Rows...</c> under <c>sql_mode = 'NO_ENGINE_SUBSTITUTION'</c> and
/// <c>time_zone = '+00:00'</c> (zero dates, TIMESTAMP values as written).
/// </summary>
public static class AllTypesTable
{
    /// <summary>Every visible column in table order; the invisible <c>hidden_col</c> (default 7) must be named to be read.</summary>
    public const string Columns =
        "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, d1, d2, d3, d4, f, dbl, b1, b10, b64, y, dt, tm, tm3, tm6, dtm, dtm2, dtm6, ts, ts6, " +
        "c, vc, bin, vb, tt, tx, mt, lt, tb, bl, mb, lb, e, s, j, g, u, i4, i6, cc, cb, cu";

    public const string CreateTable = """
        CREATE TABLE all_types (
          id INT NOT NULL PRIMARY KEY,
          ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
          i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
          d1 DECIMAL(10,2), d2 DECIMAL(65,30), d3 DECIMAL(5,0), d4 DECIMAL(19,9) UNSIGNED,
          f FLOAT, dbl DOUBLE, b1 BIT(1), b10 BIT(10), b64 BIT(64),
          y YEAR, dt DATE, tm TIME, tm3 TIME(3), tm6 TIME(6), dtm DATETIME, dtm2 DATETIME(2), dtm6 DATETIME(6),
          ts TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL,
          c CHAR(10), vc VARCHAR(300), bin BINARY(8), vb VARBINARY(300),
          tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
          e ENUM('a','b','c'), s SET('x','y','z'), j JSON, g GEOMETRY, u UUID, i4 INET4, i6 INET6,
          cc VARCHAR(1000) COMPRESSED, cb BLOB COMPRESSED, cu CHAR(5) CHARACTER SET latin1 COLLATE latin1_bin,
          hidden_col INT INVISIBLE DEFAULT 7
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
        """;

    public static readonly string[] Rows =
    [
        // minimums and negatives
        "(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, -99999999.99, -99999999999999999999999999999999999.999999999999999999999999999999, -99999, 0, -3.40282e38, -1.7976931348623157e308, b'0', b'0', b'0', 1901, '1000-01-01', '-838:59:59', '-838:59:58.999', '-00:00:00.000001', '1000-01-01 00:00:00', '1000-01-01 00:00:00.01', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '1970-01-01 00:00:01.000001', '', '', '', '', '', '', '', '', '', '', '', '', 'a', '', '[]', ST_GeomFromText('POINT(0 0)'), '00000000-0000-0000-0000-000000000000', '0.0.0.0', '::', '', '', '')",
        // maximums
        "(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615, 99999999.99, 99999999999999999999999999999999999.999999999999999999999999999999, 99999, 9999999999.999999999, 3.40282e38, 1.7976931348623157e308, b'1', b'1111111111', x'FFFFFFFFFFFFFFFF', 2155, '9999-12-31', '838:59:59', '838:59:58.999', '838:59:59.000000', '9999-12-31 23:59:59', '9999-12-31 23:59:59.99', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '2038-01-19 03:14:07.999999', 'abcdefghij', REPEAT('v', 300), x'0102030405060708', REPEAT(x'FF', 300), REPEAT('t', 255), REPEAT('x', 65535), REPEAT('m', 70000), REPEAT('l', 100000), REPEAT(x'AA', 255), REPEAT(x'BB', 65535), REPEAT(x'CC', 70000), REPEAT(x'DD', 100000), 'c', 'x,y,z', '{\"a\": [1, 2.5, \"x\"], \"b\": null}', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', '255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', REPEAT('compressible ', 70), REPEAT(x'00', 5000), 'ÿé')",
        // zero dates, 4-byte UTF-8, binary with 0x00 bytes, odd values
        "(3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0.00, 0.000000000000000000000000000001, 0, 0.000000001, 0.1, 0.1, b'1', b'0000000001', x'0000000000000001', 0, '0000-00-00', '00:00:00', '00:00:00.000', '00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '😀a', '𝄞 music 😀 emoji ✓', x'00010000', x'000000FF00', '😀', 'text with \\'quote\\' and \\\\backslash', '🎉', '中文', x'00', x'0000', x'00FF00', x'', 'b', 'y', '{\"emoji\": \"😀\"}', ST_GeomFromText('LINESTRING(1 1,2 2)'), '6ccd780c-baba-1026-9564-5b8c656024db', '10.0.0.1', '::ffff:1.2.3.4', '😀 compressed 😀', x'000102', 'abc')",
        // NULLs everywhere but the key
        "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        // ordinary values with fractions
        "(5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 1.5, -1.000000000000000000000000000001, 12345, 123.456, 1.17549e-38, 2.2250738585072014e-308, b'1', b'1010101010', x'8000000000000000', 1999, '2024-02-29', '-12:34:56', '12:34:56.789', '-01:02:03.000456', '2024-02-29 12:34:56', '2024-02-29 12:34:56.7', '2024-02-29 12:34:56.000789', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123456', 'x', 'with\\ttab', x'41', x'00', 'short', 'medium', 'mt', 'lt', x'01', x'02', x'03', x'04', 'a', 'x,z', '123', ST_GeomFromText('POINT(1.5 -2.5)'), '01234567-89ab-4def-8123-456789abcdef', '192.168.1.1', '2001:db8::1', 'x', x'FF', 'Z')",
    ];

    /// <summary>The names of <see cref="Columns"/>, in order.</summary>
    public static string[] ColumnNames() => Columns.Split(", ");
}
