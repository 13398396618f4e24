using Durable.MySql.Tests.Oracle;
using MySqlConnector;

namespace Durable.MySql.Tests.Unit;

/// <summary>
/// The oracle comparison must be able to fail: each kind of difference between the own client's value and
/// MySqlConnector's is reported, naming the table, protocol, row id, column and both values; agreeing values are not.
/// </summary>
public sealed class OracleComparisonTests
{
    private static readonly OracleTable Table = new(
        "t",
        "CREATE TABLE t (id INT PRIMARY KEY, n INT, s VARCHAR(10), b VARBINARY(10), dbl DOUBLE, f FLOAT, dt DATETIME(2), tm TIME(6), bits BIT(10))",
        [],
        [
            new("n", OracleKind.Integer), new("s", OracleKind.Text), new("b", OracleKind.Binary), new("dbl", OracleKind.Double),
            new("f", OracleKind.Float), new("dt", OracleKind.DateTime, 2), new("tm", OracleKind.Time, 6), new("bits", OracleKind.Bit, 10),
        ]);

    // id, n, s, HEX(CONVERT(s USING utf8mb4)), b, HEX(b), dbl, CAST(dbl AS CHAR), f, CAST(f AS CHAR), dt, tm, bits: the own client's row as SELECT text.
    private static MySqlValue[] OwnRow(string n = "5", string? s = "a", string dbl = "0.1", string f = "16777200", string dt = "2024-02-29 12:34:56.12", string tm = "-00:00:00.000001", byte[]? bits = null) =>
    [
        MySqlValue.FromString("1"), MySqlValue.FromString(n),
        s is null ? MySqlValue.Null : MySqlValue.FromString(s), s is null ? MySqlValue.Null : MySqlValue.FromString(Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(s))),
        MySqlValue.FromBytes(new byte[] { 0, 0xFF }), MySqlValue.FromString("00FF"),
        MySqlValue.FromString(dbl), MySqlValue.FromString(dbl), MySqlValue.FromString(f), MySqlValue.FromString(f), MySqlValue.FromString(dt), MySqlValue.FromString(tm),
        MySqlValue.FromBytes(bits ?? [0x03, 0xFF]),
    ];

    private static (long, ConnectorCell[]) OracleRow(object? n = null, string? s = "a", double dbl = 0.1, string dblText = "0.1", float f = 16777216f, string fText = "16777200", int dtMicro = 120000, long tmTicks = -10, ulong bits = 1023) =>
    (1,
    [
        new(n ?? 5, null),
        new(s, s is null ? null : Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(s))),
        new(new byte[] { 0, 0xFF }, "00FF"),
        new(dbl, dblText), new(f, fText),
        new(new MySqlDateTime(2024, 2, 29, 12, 34, 56, dtMicro), null),
        new(new TimeSpan(tmTicks), null),
        new(bits, null),
    ]);

    private static List<string> Compare(MySqlValue[] own, (long, ConnectorCell[]) oracle, OracleProtocol protocol = OracleProtocol.Prepared) =>
        OracleComparison.Compare(Table, protocol, [own], [oracle]);

    [Fact]
    public void Agreeing_values_report_nothing()
    {
        // FLOAT over prepared statements: the own 6-digit text against the connector's exact 2^24.
        Assert.Empty(Compare(OwnRow(), OracleRow()));
    }

    [Fact]
    public void An_integer_difference_names_table_protocol_row_column_and_both_values()
    {
        var problem = Assert.Single(Compare(OwnRow(n: "5"), OracleRow(n: 6)));
        Assert.Equal("t (Prepared) row id=1 column n: own 5, MySqlConnector 6", problem);
    }

    [Fact]
    public void Bytes_that_differ_only_in_a_trailing_space_are_reported()
    {
        var problem = Assert.Single(Compare(OwnRow(s: "a "), OracleRow(s: "a")));
        Assert.Contains("column s: bytes differ: own 6120", problem, StringComparison.Ordinal);
        Assert.Contains("MySqlConnector read of HEX(CONVERT(s USING utf8mb4)): 61", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_empty_string_is_not_NULL()
    {
        var problem = Assert.Single(Compare(OwnRow(s: ""), OracleRow(s: null)));
        Assert.Contains("column s: own '' (server text ''), MySqlConnector NULL (server text NULL)", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_double_one_place_off_is_reported()
    {
        var problem = Assert.Single(Compare(OwnRow(dbl: "0.1"), OracleRow(dbl: 0.10000000000000002, dblText: "0.1")));
        Assert.Contains("column dbl: own 0.1 (0.1), MySqlConnector 0.10000000000000002", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Over_the_text_protocol_float_bits_must_agree_exactly()
    {
        var problem = Assert.Single(Compare(OwnRow(f: "16777200"), OracleRow(f: 16777216f, fText: "16777200"), OracleProtocol.Text));
        Assert.StartsWith("t (Text) row id=1 column f: own 16777200", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_float_printed_unlike_the_server_is_reported()
    {
        var problem = Assert.Single(Compare(OwnRow(f: "1.67772e7"), OracleRow(f: 16777216f, fText: "16777200")));
        Assert.Contains("column f: text differ: own 1.67772e7 (own read of CAST(f AS CHAR): 1.67772e7), MySqlConnector read of CAST(f AS CHAR): 16777200", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Fraction_digits_of_the_column_precision_count()
    {
        var problem = Assert.Single(Compare(OwnRow(dt: "2024-02-29 12:34:56.1"), OracleRow(dtMicro: 100000)));
        Assert.Contains("column dt: own 2024-02-29 12:34:56.1, MySqlConnector 2024-02-29 12:34:56.10", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_time_below_one_second_keeps_its_sign()
    {
        var problem = Assert.Single(Compare(OwnRow(tm: "00:00:00.000001"), OracleRow(tmTicks: -10)));
        Assert.Contains("column tm: own 00:00:00.000001, MySqlConnector -00:00:00.000001", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bit_value_must_have_its_full_byte_width()
    {
        var problem = Assert.Single(Compare(OwnRow(bits: [0x01]), OracleRow(bits: 1)));
        Assert.Contains("column bits: own x'01', MySqlConnector 1 (x'0001' as BIT(10))", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connector_that_throws_is_reported_not_skipped()
    {
        var (id, cells) = OracleRow();
        cells[0] = new ConnectorCell(new InvalidCastException("no"), null);
        var problem = Assert.Single(Compare(OwnRow(), (id, cells)));
        Assert.Contains("column n: own 5, MySqlConnector threw InvalidCastException: no", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_rows_are_reported()
    {
        var problem = Assert.Single(OracleComparison.Compare(Table, OracleProtocol.Text, [OwnRow()], []));
        Assert.Equal("t (Text): the own client read 1 rows, MySqlConnector 0", problem);
    }
}
