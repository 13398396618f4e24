using Durable.Topology;

namespace Durable.Routing.Tests;

/// <summary>What the corpus cannot show: sharing and allocation on the hot path, snapshots swapped, threads, recovery after errors.</summary>
public sealed class StatementRouterTests
{
    private const string PointSelect = "SELECT c FROM sbtest1 WHERE id=?";

    private readonly StatementRouter _router = new();

    private static RouteContext Commerce(RoutingSnapshot? snapshot = null) => new(KeyspaceTarget.Parse("commerce"), snapshot ?? RoutingFixture.Snapshot);

    [Fact]
    public void TheHotPathSharesTheTextTheTargetAndTheTableList()
    {
        var first = _router.Route(PointSelect, Commerce());
        var second = _router.Route(PointSelect, Commerce());

        Assert.Same(PointSelect, first.Sql);
        Assert.Same(first.Target, second.Target);
        Assert.Same(first.Tables, second.Tables);
        Assert.Equal([new QualifiedTable("commerce", "sbtest1")], second.Tables);
    }

    [Fact]
    public void SysbenchStatementsAllocateNothingButTheResult()
    {
        string[] statements =
        [
            PointSelect, "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c", "UPDATE sbtest1 SET k=k+1 WHERE id=?",
            "DELETE FROM sbtest1 WHERE id=?", "INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)", "BEGIN", "COMMIT",
        ];
        var context = Commerce();
        foreach (var statement in statements)
        {
            for (var i = 0; i < 100; i++)
            {
                _router.Route(statement, context);
            }

            const int Calls = 1000;
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < Calls; i++)
            {
                _router.Route(statement, context);
            }

            var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Calls;

            // The RoutedStatement itself is 72 bytes on x64; anything per token or per table would be far more.
            Assert.True(perCall <= 96, $"'{statement}' allocated {perCall} bytes per call");
        }
    }

    [Fact]
    public void ANewSnapshotRoutesByItsOwnRules()
    {
        const string Sql = "INSERT INTO corder (sku) VALUES ('x')";
        Assert.Equal("commerce", _router.Route(Sql, Commerce()).Target!.ToString());

        // After SwitchTraffic for primary: the workflow's rules point every form at customer.
        var switched = new RoutingSnapshot(
            new RoutingRules(
            [
                new RoutingRule("corder", ["customer.corder"]),
                new RoutingRule("commerce.corder", ["customer.corder"]),
            ]),
            8,
            RoutingFixture.Snapshot.Keyspaces);

        var routed = _router.Route(Sql, Commerce(switched));
        Assert.Equal("customer", routed.Target!.ToString());
        Assert.Equal([new QualifiedTable("customer", "corder")], routed.Tables);
        Assert.Equal("commerce", _router.Route(Sql, Commerce()).Target!.ToString());
    }

    [Fact]
    public void ManyThreadsRouteAlikeWithTheirOwnBuffers()
    {
        (string Sql, string? Session, string Target, string Text)[] cases =
        [
            (PointSelect, "commerce", "commerce", PointSelect),
            ("SELECT * FROM commerce.corder o JOIN commerce.customer c USING (customer_id)", "commerce@replica", "customer@replica",
                "SELECT * FROM `vt_customer`.corder o JOIN `vt_customer`.customer c USING (customer_id)"),
            ("SELECT DATABASE(), sku FROM old_product", "commerce", "commerce", "SELECT 'commerce', sku FROM `product` AS `old_product`"),
            ("UPDATE customer.customer SET email = 'x' WHERE customer_id = 1", null, "commerce", "UPDATE `vt_commerce`.customer SET email = 'x' WHERE customer_id = 1"),
        ];
        var failures = 0;
        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var c = cases[i % cases.Length];
            try
            {
                var routed = _router.Route(c.Sql, new RouteContext(c.Session is null ? null : KeyspaceTarget.Parse(c.Session), RoutingFixture.Snapshot));
                if (routed.Target!.ToString() != c.Target || routed.Sql != c.Text)
                {
                    Interlocked.Increment(ref failures);
                }

                if (i % 7 == 0)
                {
                    Assert.Throws<GatewaySqlException>(() => _router.Route("SELECT * FROM commerce.product JOIN customer.x", Commerce()));
                }
            }
            catch (GatewaySqlException)
            {
                Interlocked.Increment(ref failures);
            }
        });

        Assert.Equal(0, failures);
    }

    [Fact]
    public void AnErrorLeavesNothingBehindForTheNextStatement()
    {
        Assert.Throws<GatewaySqlException>(() => _router.Route("SELECT * FROM commerce.product JOIN customer.anything_new; SELECT DATABASE()", Commerce()));
        Assert.Throws<GatewaySqlException>(() => _router.Route("SELECT 'unclosed", Commerce()));

        var routed = _router.Route("SELECT 1", Commerce());
        Assert.Null(routed.Target);
        Assert.Empty(routed.Tables);
        Assert.Same("SELECT 1", routed.Sql);
        Assert.Equal(SessionEffects.None, routed.Effects);
    }

    [Fact]
    public void ABulkInsertOfManyRowsRoutesAndItsBufferIsNotKept()
    {
        var rows = string.Join(",", Enumerable.Range(1, 20_000).Select(i => $"({i}, {i}, 'c{i}', 'pad')"));
        var sql = "INSERT INTO sbtest1 (id, k, c, pad) VALUES " + rows;

        var routed = _router.Route(sql, Commerce());

        Assert.Same(sql, routed.Sql);
        Assert.Equal([new QualifiedTable("commerce", "sbtest1")], routed.Tables);
        Assert.Same(PointSelect, _router.Route(PointSelect, Commerce()).Sql);
    }

    [Fact]
    public void ASyntaxErrorNamesLineColumnAndTheTextNearIt()
    {
        var error = Assert.Throws<GatewaySqlException>(() => _router.Route("SELECT *\n  FROM product\n  WHERE sku = 'x' )", Commerce()));

        Assert.Equal(GatewaySqlException.ParseError, error.Code);
        Assert.Equal("42000", error.SqlState);
        Assert.Contains("near ')' at line 3 column 19 (position 42)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyspaceNamesAreReadCaseSensitivelyAsVitessDoes()
    {
        var error = Assert.Throws<GatewaySqlException>(() => _router.Route("SELECT * FROM Commerce.product", Commerce()));
        Assert.Equal(GatewaySqlException.BadDb, error.Code);
        Assert.Contains("Unknown database 'Commerce'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheTypeOfTheSessionTargetIsKeptForTablesWithoutRules()
    {
        var routed = _router.Route("SELECT * FROM product", new RouteContext(KeyspaceTarget.Parse("commerce@rdonly"), RoutingFixture.Snapshot));
        Assert.Equal(new KeyspaceTarget("commerce", TabletType.Rdonly), routed.Target);
    }
}

/// <summary>The database a client names at connect or with COM_INIT_DB.</summary>
public sealed class ResolveDatabaseTests
{
    [Fact]
    public void AKeyspaceWithOrWithoutATabletTypeIsTheTargetStatementsRouteTo()
    {
        var replica = StatementRouter.ResolveDatabase("commerce@replica", RoutingFixture.Snapshot);
        Assert.Equal(new KeyspaceTarget("commerce", TabletType.Replica), replica);

        var routed = new StatementRouter().Route("SELECT * FROM product", new RouteContext(replica, RoutingFixture.Snapshot));
        Assert.Same(replica, routed.Target);
        Assert.Equal(new KeyspaceTarget("customer", TabletType.Primary), StatementRouter.ResolveDatabase("customer", RoutingFixture.Snapshot));
    }

    [Theory]
    [InlineData("vt_commerce", "Unknown database 'vt_commerce': the keyspaces are 'commerce', 'customer', 'customer_sharded'")]
    [InlineData("commerce@backup", "Unknown database 'commerce@backup': the tablet type after '@' must be primary, replica or rdonly")]
    public void AnythingElseIsAnUnknownDatabase(string database, string message)
    {
        var error = Assert.Throws<GatewaySqlException>(() => StatementRouter.ResolveDatabase(database, RoutingFixture.Snapshot));
        Assert.Equal(GatewaySqlException.BadDb, error.Code);
        Assert.Equal("42000", error.SqlState);
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }
}
