using System.Runtime.CompilerServices;
using Durable.Routing;
using Durable.Topology;

namespace Durable.Gateway.Mirroring;

/// <summary>
/// What one <see cref="RoutingSnapshot"/>'s mirror rules mean for the gateway, computed once per snapshot (a snapshot is
/// immutable, so the plan lives in a weak table keyed by it): the rules by from_table, and the snapshot a mirrored copy
/// is routed against, whose routing rules send each mirrored table where its mirror rule says, so the copy's names are
/// rewritten exactly as the routing rewrites them (the same router, other rules).
/// </summary>
internal sealed class MirrorPlan
{
    private static readonly ConditionalWeakTable<RoutingSnapshot, MirrorPlan> All = new();

    private readonly Dictionary<string, MirrorRule> _byFrom = new(StringComparer.Ordinal);

    private MirrorPlan(RoutingSnapshot snapshot)
    {
        foreach (var rule in snapshot.Mirror.Rules)
        {
            _byFrom[rule.FromTable] = rule;
        }

        MirrorSnapshot = snapshot with { Rules = MirrorRouting(snapshot.Rules), Mirror = MirrorRules.Empty };
    }

    /// <summary>The snapshot mirrored copies are routed against.</summary>
    public RoutingSnapshot MirrorSnapshot { get; }

    public static MirrorPlan For(RoutingSnapshot snapshot) => All.GetValue(snapshot, s => new MirrorPlan(s));

    /// <summary>The suffix a rule's from_table carries for a tablet type (none for the primary), as in routing rules.</summary>
    public static string Suffix(TabletType type) => type switch
    {
        TabletType.Replica => "@replica",
        TabletType.Rdonly => "@rdonly",
        _ => string.Empty,
    };

    /// <summary>
    /// The mirror target keyspace and percent of a statement routed to <paramref name="type"/> tablets of
    /// <paramref name="tables"/>, as Vitess decides it: every table needs a rule for that tablet type, all to the same
    /// keyspace (otherwise it is not mirrored); the smallest percent of them applies.
    /// </summary>
    public bool TryMatch(IReadOnlyList<QualifiedTable> tables, TabletType type, out string targetKeyspace, out double percent)
    {
        targetKeyspace = string.Empty;
        percent = 100;
        var suffix = Suffix(type);
        foreach (var table in tables)
        {
            if (!_byFrom.TryGetValue(table.Keyspace + "." + table.Table + suffix, out var rule)
                || (targetKeyspace.Length > 0 && rule.ToKeyspace != targetKeyspace))
            {
                return false;
            }

            targetKeyspace = rule.ToKeyspace;
            percent = Math.Min(percent, rule.Percent);
        }

        return tables.Count > 0 && percent > 0;
    }

    /// <summary>
    /// The routing rules for mirrored copies: every mirror rule as a routing rule (from_table to its to_table), and every
    /// existing routing rule that lands on a mirrored table (e.g. the unqualified <c>customer</c> a MoveTables points at
    /// <c>commerce.customer</c>) pointed at the mirror target instead.
    /// </summary>
    private RoutingRules MirrorRouting(RoutingRules rules)
    {
        var redirected = new List<RoutingRule>();
        foreach (var rule in rules.Rules)
        {
            if (rule.ToTables.Count == 0)
            {
                continue;
            }

            var at = rule.FromTable.IndexOf('@', StringComparison.Ordinal);
            var suffix = at < 0 || rule.FromTable.EndsWith("@primary", StringComparison.Ordinal) ? string.Empty : rule.FromTable[at..];
            if (_byFrom.TryGetValue(rule.ToTables[0] + suffix, out var mirror))
            {
                redirected.Add(rule with { ToTables = [mirror.ToTable] });
            }
        }

        return rules.With(redirected).With(_byFrom.Values.Select(m => new RoutingRule(m.FromTable, [m.ToTable])));
    }
}
