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
    public void Bad_arguments_name_what_is_wrong()
    {
        Assert.Contains("2 literal styles", Assert.Throws<ArgumentException>(() => new LoadDataBuilder("db", "t", ["a"], [LiteralStyle.String, LiteralStyle.String], 4096)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoadDataBuilder("db", "t", ["a"], [LiteralStyle.String], 10));
        var b = new LoadDataBuilder("db", "t", ["a", "b"], [LiteralStyle.String, LiteralStyle.String], 4096);
        Assert.Contains("2 columns", Assert.Throws<ArgumentException>(() => b.AddRow([MySqlValue.FromString("x")])).Message, StringComparison.Ordinal);
    }
}
