using Durable.Topology;

namespace Durable.Routing.Tests;

/// <summary>
/// The topology the corpus is routed against, as the seeds have it mid-MoveTables: keyspaces commerce (product,
/// customer, corder) and customer (customer, corder), a sharded customer_sharded, and the rules of commerce2customer
/// with @replica and @rdonly switched to customer and primary traffic still on commerce. Plus a renamed table
/// (old_product routed to commerce.product) and a disabled one (retired).
/// </summary>
public static class RoutingFixture
{
    public static RoutingSnapshot Snapshot { get; } = Build();

    public static RoutingSnapshot Build(params RoutingRule[] extra)
    {
        var rules = new List<RoutingRule>();
        foreach (var t in new[] { "customer", "corder" })
        {
            rules.Add(new RoutingRule(t, [$"commerce.{t}"]));
            rules.Add(new RoutingRule($"customer.{t}", [$"commerce.{t}"]));
            foreach (var suffix in new[] { "@replica", "@rdonly" })
            {
                rules.Add(new RoutingRule(t + suffix, [$"customer.{t}"]));
                rules.Add(new RoutingRule($"commerce.{t}{suffix}", [$"customer.{t}"]));
                rules.Add(new RoutingRule($"customer.{t}{suffix}", [$"customer.{t}"]));
            }
        }

        rules.Add(new RoutingRule("commerce.old_product", ["commerce.product"]));
        rules.Add(new RoutingRule("old_product", ["commerce.product"]));
        rules.Add(new RoutingRule("commerce.retired", []));
        rules.AddRange(extra);

        var keyspaces = new Dictionary<string, RoutedKeyspace>(StringComparer.Ordinal)
        {
            ["commerce"] = new("commerce", "vt_commerce", false, new HashSet<string>(StringComparer.Ordinal) { "product", "customer", "corder", "shared_t" }),
            ["customer"] = new("customer", "vt_customer", false, new HashSet<string>(StringComparer.Ordinal) { "customer", "corder", "shared_t" }),
            ["customer_sharded"] = new("customer_sharded", "vt_customer_sharded", true, new HashSet<string>(StringComparer.Ordinal) { "sharded_orders" }),
        };
        return new RoutingSnapshot(new RoutingRules(rules), 7, keyspaces);
    }
}
