using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;
using Durable.Routing.Sharding;
using Durable.Topology;

namespace Durable.Routing.Tests;

/// <summary>Shard planning of statements on a sharded keyspace (hash vindex on id, shards -80 and 80-).</summary>
public sealed class ShardPlannerTests
{
    private static readonly RoutingSnapshot Snapshot = Build();

    private static RoutingSnapshot Build()
    {
        var vschema = VSchemaDocument.Parse("""
            {"sharded": true, "vindexes": {"hash": {"type": "hash"}},
             "tables": {"orders": {"column_vindexes": [{"column": "id", "name": "hash"}], "auto_increment": {"column": "id", "sequence": "commerce.orders_seq"}},
                        "plain": {"column_vindexes": [{"column": "id", "name": "hash"}]}}}
            """);
        var keyspaces = new Dictionary<string, RoutedKeyspace>(StringComparer.Ordinal)
        {
            ["commerce"] = new("commerce", "vt_commerce", false, new HashSet<string>(StringComparer.Ordinal) { "orders_seq" }),
            ["sk"] = new("sk", "vt_sk", true, new HashSet<string>(StringComparer.Ordinal) { "orders", "plain" }) { VSchema = vschema, Shards = ["-80", "80-"] },
        };
        return new RoutingSnapshot(RoutingRules.Empty, 1, keyspaces);
    }

    private static string ShardOf(long id) => KeyRange.ParseShard("-80").Contains(HashVindex.Hash((ulong)id)) ? "-80" : "80-";

    private static ShardedStatement Analyze(string sql) =>
        ShardPlanner.Analyze(new StatementRouter().Route(sql, new RouteContext(new KeyspaceTarget("sk", TabletType.Primary), Snapshot)), Snapshot);

    private static long IdOn(string shard, int skip = 0) => Enumerable.Range(1, 1000).Where(i => ShardOf(i) == shard).Skip(skip).First();

    [Fact]
    public void A_multi_row_insert_is_split_per_shard_by_the_vindex_value()
    {
        var (a, b) = (IdOn("-80"), IdOn("80-"));
        var plan = Analyze($"INSERT INTO plain (id, v) VALUES ({a}, 'x'), ({b}, 'y'), ({IdOn("-80", 1)}, 'z')").Plan();
        Assert.Equal(2, plan.Queries.Count);
        Assert.Equal($"INSERT INTO plain (id, v) VALUES ({a}, 'x'), ({IdOn("-80", 1)}, 'z')", plan.Queries.Single(q => q.Shard == "-80").Sql);
        Assert.Equal($"INSERT INTO plain (id, v) VALUES ({b}, 'y')", plan.Queries.Single(q => q.Shard == "80-").Sql);
        Assert.Null(plan.FirstInsertId);
    }

    [Fact]
    public void Absent_or_null_auto_increment_values_are_filled_before_the_split()
    {
        var absent = Analyze("INSERT INTO orders (v) VALUES ('x'), ('y')");
        Assert.Equal(("commerce", "orders_seq", 2), (absent.SequenceKeyspace, absent.SequenceTable, absent.ValuesNeeded));
        var first = IdOn("80-");
        var plan = absent.Plan(first);
        Assert.Equal(first, plan.FirstInsertId);
        var all = string.Join(";", plan.Queries.Select(q => q.Shard + ":" + q.Sql));
        Assert.Contains($"{ShardOf(first)}:INSERT INTO orders (v, `id`) VALUES ('x', {first})", all);
        Assert.Contains($"('y', {first + 1})", plan.Queries.Single(q => q.Shard == ShardOf(first + 1)).Sql);

        var nulls = Analyze($"INSERT INTO orders (id, v) VALUES (NULL, 'x'), ({IdOn("-80")}, 'y')");
        Assert.Equal(1, nulls.ValuesNeeded);
        Assert.Contains($"({first}, 'x')", string.Join(";", nulls.Plan(first).Queries.Select(q => q.Sql)));
    }

    [Fact]
    public void Equality_and_in_on_the_vindex_column_pin_the_shards_and_anything_else_scatters()
    {
        var (a, b) = (IdOn("-80"), IdOn("80-"));
        Assert.Equal(["-80"], Analyze($"SELECT * FROM plain WHERE v = 'x' AND id = {a}").Plan().Queries.Select(q => q.Shard));
        Assert.Equal(["80-"], Analyze($"UPDATE plain SET v = 'y' WHERE id IN ({b})").Plan().Queries.Select(q => q.Shard));
        Assert.Equal(["-80"], Analyze($"DELETE FROM plain WHERE '{a}' = id").Plan().Queries.Select(q => q.Shard));
        var both = Analyze($"SELECT * FROM plain WHERE id IN ({a}, {b})").Plan();
        Assert.Equal(2, both.Queries.Count);
        Assert.False(both.Scatter);
        Assert.True(Analyze($"SELECT * FROM plain WHERE id = {a} OR v = 'x'").Plan().Scatter);
        Assert.True(Analyze("DELETE FROM plain WHERE v = 'x'").Plan().Scatter);
    }

    [Fact]
    public void A_scatter_select_gets_weight_string_keys_and_a_widened_limit()
    {
        var plan = Analyze("SELECT id, v FROM plain ORDER BY v DESC, id LIMIT 2, 3").Plan();
        Assert.Equal("SELECT id, v, WEIGHT_STRING(v), WEIGHT_STRING(id) FROM plain ORDER BY v DESC, id LIMIT 5", plan.Queries[0].Sql);
        var merge = plan.Merge!;
        Assert.Equal(2, merge.HiddenColumns);
        Assert.Equal([new MergeKey(1, ~0, true), new MergeKey(0, ~1)], merge.Order);
        Assert.Equal((3L, 2L), (merge.Limit!.Value, merge.Offset));

        var grouped = Analyze("SELECT v, COUNT(*), SUM(n), MAX(w) FROM plain GROUP BY v LIMIT 4").Plan();
        Assert.Equal("SELECT v, COUNT(*), SUM(n), MAX(w), WEIGHT_STRING(v), WEIGHT_STRING(MAX(w)) FROM plain GROUP BY v", grouped.Queries[0].Sql);
        Assert.True(grouped.Merge!.Grouped);
        Assert.Equal([AggregateKind.Count, AggregateKind.Sum, AggregateKind.Max], grouped.Merge.Aggregates.Select(a => a.Kind));
        Assert.Equal(4, grouped.Merge.Limit);
    }

    [Fact]
    public void Columns_named_like_non_reserved_keywords_are_columns_and_reserved_ones_are_not()
    {
        // SESSION, STATUS and COUNT are keywords to the gateway's parser but ordinary column names to the server.
        var a = IdOn("-80");
        var plan = Analyze($"INSERT INTO plain (id, session, status) VALUES ({a}, 's', 1)").Plan();
        Assert.Equal([("-80", $"INSERT INTO plain (id, session, status) VALUES ({a}, 's', 1)")], plan.Queries.Select(q => (q.Shard, q.Sql)));

        var ordered = Analyze("SELECT id, status FROM plain ORDER BY status LIMIT 2").Plan();
        Assert.Equal("SELECT id, status, WEIGHT_STRING(status) FROM plain ORDER BY status LIMIT 2", ordered.Queries[0].Sql);
        var aliased = Analyze("SELECT status, COUNT(*) AS count FROM plain GROUP BY status").Plan();
        Assert.True(aliased.Merge!.Grouped);

        // Without AS, END closes a CASE and is no alias: the item stays a whole expression, so it is not a plain column.
        var grouped = Assert.Throws<GatewaySqlException>(() => Analyze("SELECT CASE WHEN n > 1 THEN 1 ELSE 2 END, COUNT(*) FROM plain GROUP BY v").Plan());
        Assert.Contains("select item", grouped.Message, StringComparison.Ordinal);

        // A reserved word is never taken for a column: INSERT INTO t (id, key) is the server's syntax error too.
        Assert.Throws<GatewaySqlException>(() => Analyze($"INSERT INTO plain (id, key) VALUES ({a}, 1)").Plan());
    }

    [Theory]
    [InlineData("UPDATE plain SET id = 7 WHERE v = 'x'", "primary vindex column")]
    [InlineData("SELECT * FROM plain a JOIN plain b ON a.id = b.id", "join of sharded tables plain")]
    [InlineData("SELECT * FROM plain WHERE id IN (SELECT id FROM plain)", "subquery")]
    [InlineData("DELETE FROM plain WHERE v = 'x' LIMIT 1", "LIMIT")]
    [InlineData("SELECT AVG(n) FROM plain", "SUM(x) and COUNT(x)")]
    [InlineData("SELECT DISTINCT v FROM plain", "GROUP BY")]
    [InlineData("SELECT v, n FROM plain GROUP BY v", "select item n")]
    [InlineData("INSERT INTO plain VALUES (1, 'x')", "name the columns")]
    [InlineData("INSERT INTO plain (id, v) VALUES (1 + 1, 'x')", "must be a literal")]
    [InlineData("SELECT * FROM nothere", "no primary vindex")]
    public void What_cannot_run_correctly_is_refused_with_the_reason(string sql, string reason)
    {
        var e = Assert.Throws<GatewaySqlException>(() => Analyze(sql).Plan(1));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
