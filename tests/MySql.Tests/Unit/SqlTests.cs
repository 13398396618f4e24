using System.Text;
using Durable.MySql.Sql;

namespace Durable.MySql.Tests.Unit;

public sealed class SqlTests
{
    [Theory]
    [InlineData("t", "`t`")]
    [InlineData("we`ird", "`we``ird`")]
    [InlineData("sp ace; DROP", "`sp ace; DROP`")]
    [InlineData("😀", "`😀`")]
    public void Identifiers_are_backticked(string name, string expected) => Assert.Equal(expected, SqlQuoter.Identifier(name));

    [Fact]
    public void Bad_identifiers_are_rejected_with_the_reason()
    {
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => SqlQuoter.Identifier("")).Message, StringComparison.Ordinal);
        Assert.Contains("NUL", Assert.Throws<ArgumentException>(() => SqlQuoter.Identifier("a\0b")).Message, StringComparison.Ordinal);
        Assert.Contains("300", Assert.Throws<ArgumentException>(() => SqlQuoter.Identifier(new string('x', 300))).Message, StringComparison.Ordinal);
        Assert.Equal("`db`.`t`", SqlQuoter.QualifiedName("db", "t"));
    }

    [Fact]
    public void String_literals_follow_the_escaping_mode()
    {
        const string value = "it's a \\ \"test\"\0\n\r\t\x1A";
        Assert.Equal("'it\\'s a \\\\ \\\"test\\\"\\0\\n\\r\\t\\Z'", SqlQuoter.Standard.String(value));
        Assert.Equal("'it''s a \\ \"test\"\0\n\r\t\x1A'", SqlQuoter.NoBackslashEscapes.String(value));
        var sb = new ByteBuilder();
        SqlQuoter.Standard.AppendStringLiteral(sb, Encoding.UTF8.GetBytes("a'b\\c"));
        Assert.Equal("'a\\'b\\\\c'", sb.ToString());
        sb.Clear();
        SqlQuoter.NoBackslashEscapes.AppendStringLiteral(sb, Encoding.UTF8.GetBytes("a'b\\c"));
        Assert.Equal("'a''b\\c'", sb.ToString());
    }

    [Fact]
    public void Literals_for_dotnet_values()
    {
        var q = SqlQuoter.Standard;
        Assert.Equal("NULL", q.Literal(null));
        Assert.Equal("X'00FF'", q.Literal(new byte[] { 0, 255 }));
        Assert.Equal("X''", SqlQuoter.Binary([]));
        Assert.Equal("-5", q.Literal(-5L));
        Assert.Equal("18446744073709551615", q.Literal(ulong.MaxValue));
        Assert.Equal("1.5", q.Literal(1.5m));
        Assert.Equal("1", q.Literal(true));
        Assert.Equal("'2024-01-02 03:04:05.000006'", q.Literal(new DateTime(2024, 1, 2, 3, 4, 5).AddTicks(60)));
        Assert.Equal("'-26:00:00.500000'", q.Literal(-TimeSpan.FromHours(26) - TimeSpan.FromMilliseconds(500)));
        Assert.Contains("Uri", Assert.Throws<ArgumentException>(() => q.Literal(new Uri("http://x"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Insert_builder_fills_statements_up_to_the_budget()
    {
        var builder = new InsertStatementBuilder(InsertVerb.Replace, "db", "t`x", ["id", "v"], 64, SqlQuoter.Standard, [LiteralStyle.Number, LiteralStyle.String]);
        var statements = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            var done = builder.AddRow([MySqlValue.FromString(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), MySqlValue.FromString("v'" + i)]);
            if (done is not null)
            {
                statements.Add(Encoding.UTF8.GetString(done));
            }
        }

        statements.Add(Encoding.UTF8.GetString(builder.Finish()!));
        Assert.Null(builder.Finish());
        Assert.All(statements, s => Assert.True(Encoding.UTF8.GetByteCount(s) <= 64, s));
        Assert.StartsWith("REPLACE INTO `db`.`t``x` (`id`,`v`) VALUES (0,'v\\'0')", statements[0], StringComparison.Ordinal);
        var allRows = string.Join("", statements).Split("),(").Length + statements.Count - 1;
        Assert.Equal(10, allRows);
    }

    [Fact]
    public void Insert_builder_sends_an_oversized_row_alone_and_checks_arity()
    {
        var builder = new InsertStatementBuilder(InsertVerb.Insert, null, "t", ["a"], 80, SqlQuoter.Standard, suffix: "ON DUPLICATE KEY UPDATE a=a");
        Assert.Null(builder.AddRow(["small"]));
        var first = builder.AddRow([new string('x', 100)]);
        Assert.Equal("INSERT INTO `t` (`a`) VALUES ('small') ON DUPLICATE KEY UPDATE a=a", Encoding.UTF8.GetString(first!));
        Assert.Contains(new string('x', 100), Encoding.UTF8.GetString(builder.Finish()!), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => builder.AddRow([1, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InsertStatementBuilder(InsertVerb.Insert, null, "t", ["a"], 10, SqlQuoter.Standard));
    }

    [Fact]
    public void Binary_and_null_values_in_the_builder()
    {
        var builder = new InsertStatementBuilder(InsertVerb.InsertIgnore, null, "t", ["b", "n"], 1000, SqlQuoter.Standard, [LiteralStyle.Binary, LiteralStyle.Number]);
        builder.AddRow([MySqlValue.FromBytes(new byte[] { 0, 0x27, 0xFF }), MySqlValue.Null]);
        Assert.Equal("INSERT IGNORE INTO `t` (`b`,`n`) VALUES (X'0027FF',NULL)", Encoding.UTF8.GetString(builder.Finish()!));
    }
}
