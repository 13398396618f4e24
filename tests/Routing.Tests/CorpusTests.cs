namespace Durable.Routing.Tests;

/// <summary>
/// Every statement of the corpus routed against <see cref="RoutingFixture"/>: kind, target, tables, writes, effects and
/// the exact text sent (or, for refusals, the MySQL error code, SQLSTATE and message).
/// </summary>
public sealed class CorpusTests
{
    private static readonly StatementRouter Router = new();

    public static TheoryData<string, string> Entries()
    {
        var data = new TheoryData<string, string>();
        foreach (var path in Files())
        {
            foreach (var entry in CorpusEntry.Load(path))
            {
                data.Add(Path.GetFileName(path), entry.Name);
            }
        }

        return data;
    }

    private static IEnumerable<string> Files() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus"), "*.sql").Order(StringComparer.Ordinal);

    [Fact]
    public void TheCorpusHasEveryFileItShouldAndNoDuplicateNames()
    {
        var names = Files().Select(Path.GetFileName).ToList();
        Assert.Equal(["clients.sql", "ddl.sql", "demo.sql", "grammar.sql", "refusals.sql", "routing.sql", "seeds.sql", "sysbench.sql"], names);
        foreach (var path in Files())
        {
            var entries = CorpusEntry.Load(path).ToList();
            Assert.NotEmpty(entries);
            Assert.Equal(entries.Count, entries.Select(e => e.Name).Distinct().Count());
        }
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Routes(string file, string name)
    {
        var entry = CorpusEntry.Load(Path.Combine(AppContext.BaseDirectory, "Corpus", file)).Single(e => e.Name == name);
        var context = new RouteContext(entry.Session, RoutingFixture.Snapshot);
        if (entry.IsError)
        {
            var error = Assert.Throws<GatewaySqlException>(() => Router.Route(entry.Sql, context));
            Assert.Equal(int.Parse(entry.Expect["code"], System.Globalization.CultureInfo.InvariantCulture), error.Code);
            Assert.Equal(entry.Expect["state"], error.SqlState);
            Assert.NotEmpty(entry.Messages);
            foreach (var message in entry.Messages)
            {
                Assert.Contains(message, error.Message, StringComparison.Ordinal);
            }

            return;
        }

        var routed = Router.Route(entry.Sql, context);
        var e = entry.Expect;
        Assert.Equal(e["kind"], routed.Kind.ToString());
        Assert.Equal(e["target"], CorpusEntry.Describe(routed.Target));
        Assert.Equal(e["tables"], CorpusEntry.Describe(routed.Tables));
        Assert.Equal(bool.Parse(e["writes"]), routed.Writes);
        Assert.Equal(Enum.Parse<SessionEffects>(e["effects"]), routed.Effects);
        Assert.Equal(e.TryGetValue("local", out var local) ? local : "None", routed.Local.ToString());
        Assert.Equal(e.TryGetValue("use", out var use) ? use : "-", CorpusEntry.Describe(routed.UseKeyspace));
        Assert.Equal(e.TryGetValue("parts", out var parts) ? int.Parse(parts, System.Globalization.CultureInfo.InvariantCulture) : 1, routed.Parts);
        if (e["sql"] == "same")
        {
            Assert.Same(entry.Sql, routed.Sql);
        }
        else if (e["sql"] == "empty")
        {
            Assert.Equal(string.Empty, routed.Sql);
        }
        else
        {
            Assert.Equal(e["sql"], routed.Sql);
        }
    }
}
