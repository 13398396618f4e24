using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The routing rules of a MoveTables at each step, exactly as the seeds show them. For each moved table t
/// (source S, target K) the workflow owns eight rules: for writes/primary reads "t" plus "K.t" before the write switch
/// or "S.t" after it; for each of @replica and @rdonly the three forms "t@x", "S.t@x", "K.t@x". Each points at S.t or K.t.
/// </summary>
public static class RoutingRulesPlan
{
    public static IReadOnlyList<RoutingRule> RulesFor(string source, string target, IEnumerable<string> tables, TrafficState traffic)
    {
        var rules = new List<RoutingRule>();
        foreach (var t in tables)
        {
            var primaryTo = traffic.Primary ? $"{target}.{t}" : $"{source}.{t}";
            rules.Add(new RoutingRule(t, [primaryTo]));
            rules.Add(new RoutingRule(traffic.Primary ? $"{source}.{t}" : $"{target}.{t}", [primaryTo]));
            foreach (var (suffix, switched) in new[] { ("@replica", traffic.Replica), ("@rdonly", traffic.Rdonly) })
            {
                var to = switched ? $"{target}.{t}" : $"{source}.{t}";
                rules.Add(new RoutingRule(t + suffix, [to]));
                rules.Add(new RoutingRule($"{source}.{t}{suffix}", [to]));
                rules.Add(new RoutingRule($"{target}.{t}{suffix}", [to]));
            }
        }

        return rules;
    }

    /// <summary>Whether a rule is one of the eight this workflow owns for one of its tables.</summary>
    public static bool Owns(string source, string target, IEnumerable<string> tables, RoutingRule rule)
    {
        var froms = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tables)
        {
            froms.Add(t);
            froms.Add($"{source}.{t}");
            froms.Add($"{target}.{t}");
            foreach (var suffix in new[] { "@replica", "@rdonly" })
            {
                froms.Add(t + suffix);
                froms.Add($"{source}.{t}{suffix}");
                froms.Add($"{target}.{t}{suffix}");
            }
        }

        return froms.Contains(rule.FromTable);
    }

    /// <summary>The rules with this workflow's replaced by those for <paramref name="traffic"/>; others' rules untouched.</summary>
    public static RoutingRules Apply(RoutingRules current, string source, string target, IReadOnlyList<string> tables, TrafficState traffic) =>
        current.Without(r => Owns(source, target, tables, r)).With(RulesFor(source, target, tables, traffic));

    public static RoutingRules Remove(RoutingRules current, string source, string target, IReadOnlyList<string> tables) =>
        current.Without(r => Owns(source, target, tables, r));

    /// <summary>Where a table's queries of one tablet type go under these rules (null: no rule, the table's own keyspace).</summary>
    public static string? Resolve(RoutingRules rules, string table, string? tabletType = null)
    {
        var from = tabletType is null or "PRIMARY" ? table : $"{table}@{tabletType.ToLowerInvariant()}";
        return rules.Rules.FirstOrDefault(r => r.FromTable == from)?.ToTables.FirstOrDefault();
    }
}
