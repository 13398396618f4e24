using System.Text;
using Durable.MySql.Sql;

namespace Durable.MySql.Tests.Unit;

public sealed class LoadDataBuilderTests
{
    [Fact]
    public void Fields_are_escaped_nulls_marked_and_binary_columns_sent_as_hex_through_unhex()
    {
        var b = new LoadDataBuilder("d`b", "t", ["id", "v", "bin"], [LiteralStyle.Number, LiteralStyle.String, LiteralStyle.Binary], 4096);
        Assert.Equal(
            "LOAD DATA LOCAL INFILE 'durable-rows.tsv' INTO TABLE `d``b`.`t` CHARACTER SET utf8mb4 FIELDS TERMINATED BY X'09' ESCAPED BY X'5C' LINES TERMINATED BY X'0A' (`id`,`v`,@h2) SET `bin` = UNHEX(@h2)",
            Encoding.UTF8.GetString(b.Statement.Span));
        Assert.Null(b.AddRow([MySqlValue.FromString("1"), MySqlValue.FromString("a\tb\nc\\d\re\0f"), MySqlValue.FromBytes(new byte[] { 0x5C, 0x09, 0x00 })]));
        Assert.Null(b.AddRow([MySqlValue.FromString("2"), MySqlValue.Null, MySqlValue.Null]));
        Assert.Null(b.AddRow([MySqlValue.FromString("3"), MySqlValue.FromString("\\N"), MySqlValue.FromBytes(Array.Empty<byte>())]));
        Assert.Equal(3, b.PendingRows);
        var part = Encoding.UTF8.GetString(b.Finish()!);
        Assert.Equal("1\ta\\tb\\nc\\\\d\\re\\0f\t5C0900\n2\t\\N\t\\N\n3\t\\\\N\t\n", part);
        Assert.Equal(0, b.PendingRows);
        Assert.Null(b.Finish());
    }

    [Fact]
    public void A_row_that_does_not_fit_returns_the_finished_part_and_opens_the_next_and_a_large_row_goes_whole()
    {
        var b = new LoadDataBuilder("db", "t", ["v"], [LiteralStyle.String], 1024);
        var row = MySqlValue.FromString(new string('x', 400));
        Assert.Null(b.AddRow([row]));
        Assert.Null(b.AddRow([row]));
        var first = b.AddRow([row]);
        Assert.NotNull(first);
        Assert.Equal(802, first!.Length);
        Assert.Equal(1, b.PendingRows);
        var big = MySqlValue.FromString(new string('y', 5000));
        Assert.Equal(401, b.AddRow([big])!.Length);
        Assert.Equal(5001, b.Finish()!.Length);
    }

    [Fact]
    public void Column_expressions_wrap_the_loaded_value_in_the_set_clause_and_the_insert_literal_alike()
    {
        string?[] expressions = [null, "CONVERT_TZ({0}, 'Europe/Paris', '+00:00')", "CONCAT({0}, 'x')"];
        LiteralStyle[] styles = [LiteralStyle.Number, LiteralStyle.String, LiteralStyle.Binary];
        var load = new LoadDataBuilder("db", "t", ["id", "at", "b"], styles, 4096, expressions);
        Assert.EndsWith(
            "(`id`,@h1,@h2) SET `at` = CONVERT_TZ(@h1, 'Europe/Paris', '+00:00'), `b` = CONCAT(UNHEX(@h2), 'x')",
            Encoding.UTF8.GetString(load.Statement.Span), StringComparison.Ordinal);
        Assert.Null(load.AddRow([MySqlValue.FromString("1"), MySqlValue.FromString("2024-01-01 10:00:00"), MySqlValue.FromString("A")]));
        Assert.Equal("1\t2024-01-01 10:00:00\t41\n", Encoding.UTF8.GetString(load.Finish()!));

        var insert = new InsertStatementBuilder(InsertVerb.Insert, "db", "t", ["id", "at", "b"], 4096, SqlQuoter.Standard, styles, expressions: expressions);
        Assert.Null(insert.AddRow([MySqlValue.FromString("1"), MySqlValue.FromString("2024-01-01 10:00:00"), MySqlValue.Null]));
        Assert.Equal(
            "INSERT INTO `db`.`t` (`id`,`at`,`b`) VALUES (1,CONVERT_TZ('2024-01-01 10:00:00', 'Europe/Paris', '+00:00'),NULL)",
            Encoding.UTF8.GetString(insert.Finish()!));
        Assert.Contains("exactly once", Assert.Throws<ArgumentException>(() => new LoadDataBuilder("db", "t", ["a"], [LiteralStyle.String], 4096, ["NOW()"])).Message, StringComparison.Ordinal);
        Assert.Contains("2 column expressions", Assert.Throws<ArgumentException>(() => new LoadDataBuilder("db", "t", ["a"], [LiteralStyle.String], 4096, [null, null])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_name_what_is_wrong()
    {
        Assert.Contains("2 literal styles", Assert.Throws<ArgumentException>(() => new LoadDataBuilder("db", "t", ["a"], [LiteralStyle.String, LiteralStyle.String], 4096)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoadDataBuilder("db", "t", ["a"], [LiteralStyle.String], 10));
        var b = new LoadDataBuilder("db", "t", ["a", "b"], [LiteralStyle.String, LiteralStyle.String], 4096);
        Assert.Contains("2 columns", Assert.Throws<ArgumentException>(() => b.AddRow([MySqlValue.FromString("x")])).Message, StringComparison.Ordinal);
    }
}
