using Durable.Gateway.Mirroring;
using Durable.Routing;
using Durable.Topology;

namespace Durable.Gateway.Tests;

/// <summary>
/// Which statements a snapshot's mirror rules select and how a copy is routed (the router against the mirror snapshot),
/// and the sampler's share: logic only, no server (the servers' side is <see cref="MirrorTrafficTests"/>).
/// </summary>
public sealed class MirrorPlanTests
{
    /// <summary>Mid-MoveTables, nothing switched: every name of customer/corder routes to commerce; both mirrored at 10 % (PRIMARY, REPLICA).</summary>
    private static RoutingSnapshot Snapshot()
    {
        var rules = new List<RoutingRule>();
        foreach (var t in new[] { "customer", "corder" })
        {
            foreach (var suffix in new[] { "", "@replica" })
            {
                rules.Add(new RoutingRule(t + suffix, [$"commerce.{t}"]));
                rules.Add(new RoutingRule($"commerce.{t}{suffix}", [$"commerce.{t}"]));
                rules.Add(new RoutingRule($"customer.{t}{suffix}", [$"commerce.{t}"]));
            }
        }

        var keyspaces = new Dictionary<string, RoutedKeyspace>(StringComparer.Ordinal)
        {
            ["commerce"] = new("commerce", "vt_commerce", false, new HashSet<string>(StringComparer.Ordinal) { "customer", "corder", "product" }),
            ["customer"] = new("customer", "vt_customer", false, new HashSet<string>(StringComparer.Ordinal) { "customer", "corder" }),
            ["other"] = new("other", "vt_other", false, new HashSet<string>(StringComparer.Ordinal) { "customer" }),
        };
        var mirror = MirrorRules.Parse("""
            {"rules":[
              {"from_table":"commerce.customer","to_table":"customer.customer","percent":10},
              {"from_table":"commerce.customer@replica","to_table":"customer.customer","percent":10},
              {"from_table":"commerce.corder","to_table":"customer.corder","percent":5},
              {"from_table":"commerce.product","to_table":"other.product","percent":50}
            ]}
            """);
        return new RoutingSnapshot(new RoutingRules(rules), 3, keyspaces) { Mirror = mirror };
    }

    private static readonly StatementRouter Router = new();

    [Theory]
    [InlineData("SELECT name FROM customer WHERE id = 1", "commerce", true, 10)]
    [InlineData("SELECT c.name FROM customer c JOIN corder o ON o.customer_id = c.id", "commerce", true, 5)] // the smallest percent
    [InlineData("SELECT name FROM commerce.customer WHERE id = 1", null, true, 10)]
    [InlineData("SELECT name FROM customer WHERE id = 1", "commerce@replica", true, 10)]
    [InlineData("SELECT name FROM customer WHERE id = 1", "commerce@rdonly", false, 0)] // no rule for RDONLY
    [InlineData("SELECT * FROM customer c JOIN product p ON p.id = c.id", "commerce", false, 0)] // two target keyspaces
    [InlineData("SELECT * FROM customer c JOIN corder o ON o.id = c.id JOIN commerce.unmirrored u ON u.id = c.id", "commerce", false, 0)] // one table without a rule
    public void A_statement_is_mirrored_when_every_table_has_a_rule_to_one_keyspace(string sql, string? session, bool mirrored, double percent)
    {
        var snapshot = Snapshot();
        var target = session is null ? null : StatementRouter.ResolveDatabase(session, snapshot);
        var routed = Router.Route(sql, new RouteContext(target, snapshot));
        var plan = MirrorPlan.For(snapshot);
        Assert.Equal(mirrored, plan.TryMatch(routed.Tables, routed.Target!.Type, out var keyspace, out var share));
        if (mirrored)
        {
            Assert.Equal("customer", keyspace);
            Assert.Equal(percent, share);
        }
    }

    [Theory]
    [InlineData("SELECT name FROM customer WHERE id = 1", "commerce", "customer")]
    [InlineData("SELECT name FROM customer WHERE id = 1", "commerce@replica", "customer@replica")]
    [InlineData("SELECT name FROM commerce.customer WHERE id = 1", null, "customer")]
    [InlineData("SELECT c.name FROM customer c JOIN corder o ON o.customer_id = c.id", "commerce", "customer")]
    public void A_copy_is_routed_to_the_mirror_target_with_names_rewritten_as_the_routing_does(string sql, string? session, string expectedTarget)
    {
        var snapshot = Snapshot();
        var target = session is null ? null : StatementRouter.ResolveDatabase(session, snapshot);
        var copy = Router.Route(sql, new RouteContext(target, MirrorPlan.For(snapshot).MirrorSnapshot));
        Assert.Equal(expectedTarget, copy.Target!.ToString());
        Assert.All(copy.Tables, t => Assert.Equal("customer", t.Keyspace));
        Assert.DoesNotContain("vt_commerce", copy.Sql, StringComparison.Ordinal);

        // The client's own statement still runs on the source.
        Assert.Equal("commerce", Router.Route(sql, new RouteContext(target, snapshot)).Target!.Keyspace);
    }

    [Fact]
    public void The_plan_is_made_once_per_snapshot()
    {
        var snapshot = Snapshot();
        Assert.Same(MirrorPlan.For(snapshot), MirrorPlan.For(snapshot));
        Assert.NotSame(MirrorPlan.For(snapshot), MirrorPlan.For(snapshot with { RulesRevision = 4 }));
    }

    [Theory]
    [InlineData(10, 5000, 500)]
    [InlineData(1, 5000, 50)]
    [InlineData(0.5, 5000, 25)]
    [InlineData(33.3, 3000, 999)]
    [InlineData(100, 100, 100)]
    public void The_sampler_takes_exactly_the_share_over_a_run_even_from_many_threads(double percent, int statements, int expected)
    {
        var sampler = new MirrorSampler();
        var taken = 0;
        Parallel.For(0, statements, _ =>
        {
            if (sampler.Take(percent))
            {
                Interlocked.Increment(ref taken);
            }
        });
        Assert.Equal(expected, taken);
    }
}
