using Durable.Topology;

namespace Durable.Workflows;

/// <summary>A workflow's routing rules and the traffic state they express: the rules for a traffic state, and back.</summary>
public sealed class TrafficRules(TopologyStore store)
{
    /// <summary>The workflow's traffic as its routing rules say (no rules of its own: nothing switched).</summary>
    public async Task<TrafficState> TrafficAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var rules = (await store.GetRoutingRulesAsync(ct).ConfigureAwait(false)).Value;
        if (tables.Count == 0 || !rules.Rules.Any(r => RoutingRulesPlan.Owns(spec.SourceKeyspace, spec.TargetKeyspace, tables, r)))
        {
            return new TrafficState();
        }

        var target = $"{spec.TargetKeyspace}.{tables[0]}";
        return new TrafficState
        {
            Primary = RoutingRulesPlan.Resolve(rules, tables[0]) == target,
            Replica = RoutingRulesPlan.Resolve(rules, tables[0], "REPLICA") == target,
            Rdonly = RoutingRulesPlan.Resolve(rules, tables[0], "RDONLY") == target,
        };
    }

    /// <summary>
    /// Replaces the workflow's routing rules by those for <paramref name="traffic"/>; with --no-routing-rules and nothing
    /// switched the rules are left as they are.
    /// </summary>
    public async Task ApplyAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, TrafficState traffic, KeyspaceLock? underLock, CancellationToken ct)
    {
        if (Change(spec, tables, traffic) is { } change)
        {
            await store.UpdateRoutingRulesAsync(change, underLock, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The change <see cref="ApplyAsync"/> makes to the routing rules, for a caller that writes it in a transaction of
    /// its own; null when it leaves them as they are.
    /// </summary>
    public static Func<RoutingRules, RoutingRules>? Change(MoveTablesCreate spec, IReadOnlyList<string> tables, TrafficState traffic) =>
        !spec.NoRoutingRules || !traffic.NoneSwitched
            ? r => RoutingRulesPlan.Apply(r, spec.SourceKeyspace, spec.TargetKeyspace, tables, traffic)
            : null;
}
