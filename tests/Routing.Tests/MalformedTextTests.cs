namespace Durable.Routing.Tests;

/// <summary>
/// Text cut or damaged anywhere routes or is refused with a MySQL error, never with another exception (an
/// index out of range would drop the client's connection instead of answering it).
/// </summary>
public sealed class MalformedTextTests
{
    private static readonly StatementRouter Router = new();

    private static IEnumerable<CorpusEntry> Corpus() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus"), "*.sql").SelectMany(CorpusEntry.Load);

    [Fact]
    public void EveryPrefixOfEveryCorpusStatementRoutesOrIsRefusedWithAMySqlError()
    {
        var checkedTexts = 0;
        foreach (var entry in Corpus())
        {
            var context = new RouteContext(entry.Session, RoutingFixture.Snapshot);
            for (var length = 0; length <= Math.Min(entry.Sql.Length, 400); length++)
            {
                RouteOrRefuse(entry.Sql[..length], context, entry);
                checkedTexts++;
            }
        }

        Assert.True(checkedTexts > 5000, $"only {checkedTexts} texts were checked");
    }

    [Fact]
    public void EveryCorpusStatementWithOneCharacterReplacedRoutesOrIsRefusedWithAMySqlError()
    {
        const string Replacements = "()'\"`;,.*?@#-/!";
        foreach (var entry in Corpus())
        {
            var context = new RouteContext(entry.Session, RoutingFixture.Snapshot);
            for (var at = 0; at < Math.Min(entry.Sql.Length, 200); at++)
            {
                var c = Replacements[at % Replacements.Length];
                RouteOrRefuse(string.Concat(entry.Sql.AsSpan(0, at), c.ToString(), entry.Sql.AsSpan(at + 1)), context, entry);
            }
        }
    }

    private static void RouteOrRefuse(string sql, RouteContext context, CorpusEntry entry)
    {
        try
        {
            var routed = Router.Route(sql, context);
            Assert.NotNull(routed.Sql);
        }
        catch (GatewaySqlException e)
        {
            Assert.InRange(e.Code, 1000, 1999);
            Assert.Equal(5, e.SqlState.Length);
        }
        catch (Exception e)
        {
            Assert.Fail($"{entry}: routing {sql} threw {e.GetType().Name}: {e.Message}");
        }
    }
}
