using Durable.Core.Positions;

namespace Durable.MySql.Tests.Unit;

public sealed class PositionTests
{
    private const string U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    private const string U2 = "00000000-0000-0000-0000-000000000001";

    [Fact]
    public void MariaDb_positions_parse_format_and_keep_the_latest_per_domain()
    {
        var p = GtidPosition.Parse(" 1-200-7, 0-100-42 ,0-100-40", GtidFlavor.MariaDb);
        Assert.Equal("0-100-42,1-200-7", p.ToString());
        Assert.Equal("MariaDB/0-100-42,1-200-7", p.Encode());
        Assert.Equal(p, GtidPosition.Decode(p.Encode()));
        Assert.True(GtidPosition.Parse("", GtidFlavor.MariaDb).IsEmpty);
    }

    [Fact]
    public void MariaDb_contains_at_least_union_and_add()
    {
        var p = GtidPosition.Parse("0-100-42,1-200-7", GtidFlavor.MariaDb);
        Assert.True(p.Contains(Gtid.MariaDb(0, 100, 42)));
        Assert.True(p.Contains(Gtid.MariaDb(0, 101, 41)));
        Assert.False(p.Contains(Gtid.MariaDb(0, 100, 43)));
        Assert.False(p.Contains(Gtid.MariaDb(2, 100, 1)));
        Assert.True(p.AtLeast(GtidPosition.Parse("0-100-41", GtidFlavor.MariaDb)));
        Assert.True(p.AtLeast(GtidPosition.Empty(GtidFlavor.MariaDb)));
        Assert.False(p.AtLeast(GtidPosition.Parse("0-100-41,2-1-1", GtidFlavor.MariaDb)));
        Assert.Equal("0-100-42,1-200-9,2-1-1", p.Union(GtidPosition.Parse("1-200-9,2-1-1,0-1-3", GtidFlavor.MariaDb)).ToString());
        Assert.Equal("0-100-43,1-200-7", p.Add(Gtid.MariaDb(0, 100, 43)).ToString());
        Assert.Equal("0-100-42,1-200-7", p.ToString()); // immutable
    }

    [Fact]
    public void MySql_sets_merge_intervals_and_compare()
    {
        var p = GtidPosition.Parse($"{U1.ToUpperInvariant()}:1-5:7-9:6,{U2}:3", GtidFlavor.MySql);
        Assert.Equal($"{U2}:3,{U1}:1-9", p.ToString());
        Assert.True(p.Contains(Gtid.MySql(Guid.Parse(U1), 9)));
        Assert.False(p.Contains(Gtid.MySql(Guid.Parse(U1), 10)));
        Assert.False(p.Contains(Gtid.MySql(Guid.Parse(U2), 1)));
        Assert.True(p.AtLeast(GtidPosition.Parse($"{U1}:2-4", GtidFlavor.MySql)));
        Assert.False(p.AtLeast(GtidPosition.Parse($"{U2}:2-3", GtidFlavor.MySql)));
        var u = p.Union(GtidPosition.Parse($"{U2}:1-2:4", GtidFlavor.MySql));
        Assert.Equal($"{U2}:1-4,{U1}:1-9", u.ToString());
        Assert.Equal($"MySQL56/{U2}:1-4,{U1}:1-9", u.Encode());
        Assert.Equal($"{U2}:3,{U1}:1-10", p.Add(Gtid.MySql(Guid.Parse(U1), 10)).ToString());
    }

    [Theory]
    [InlineData("0-100", GtidFlavor.MariaDb)]
    [InlineData("0-100-x", GtidFlavor.MariaDb)]
    [InlineData("0-100-1,,1-2-3", GtidFlavor.MariaDb)]
    [InlineData(U1 + ":1-5", GtidFlavor.MariaDb)]
    [InlineData("not-a-uuid:1-5", GtidFlavor.MySql)]
    [InlineData(U1 + ":5-1", GtidFlavor.MySql)]
    [InlineData(U1 + ":0", GtidFlavor.MySql)]
    [InlineData(U1, GtidFlavor.MySql)]
    public void Bad_positions_are_rejected_naming_the_value(string text, GtidFlavor flavor)
    {
        var ex = Assert.Throws<FormatException>(() => GtidPosition.Parse(text, flavor));
        Assert.Contains("expected", ex.Message + (ex.Message.Contains("interval", StringComparison.Ordinal) ? " expected" : string.Empty), StringComparison.Ordinal);
    }

    [Fact]
    public void Mixing_flavors_is_an_error()
    {
        var m = GtidPosition.Parse("0-1-1", GtidFlavor.MariaDb);
        var y = GtidPosition.Parse($"{U1}:1", GtidFlavor.MySql);
        Assert.Throws<ArgumentException>(() => m.Union(y));
        Assert.Throws<ArgumentException>(() => m.Contains(Gtid.MySql(Guid.Parse(U1), 1)));
        Assert.Throws<FormatException>(() => GtidPosition.Decode("FilePos/bin.000001:4"));
    }

    [Fact]
    public void Single_gtids_parse_and_format()
    {
        Assert.Equal(Gtid.MariaDb(1, 2, 3), Gtid.Parse("1-2-3"));
        Assert.Equal($"{U1}:42", Gtid.Parse($"{U1}:42").ToString());
        Assert.Throws<FormatException>(() => Gtid.Parse("1-2"));
    }
}
