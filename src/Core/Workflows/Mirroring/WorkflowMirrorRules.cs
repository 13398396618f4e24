using System.Globalization;
using System.Text.Json.Serialization;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>Input of the MirrorTraffic activity: the workflow as it stands and the percent and tablet types.</summary>
public sealed record MirrorTrafficRequest(
    [property: JsonPropertyName("state")] WorkflowState State,
    [property: JsonPropertyName("options")] MirrorTrafficOptions Options);

/// <summary>
/// A MoveTables workflow's mirror rules (Vitess' <c>mirrorTableTraffic</c>): one rule per moving table and tablet type,
/// from the source table (<c>commerce.customer</c>, <c>commerce.customer@replica</c>, <c>...@rdonly</c>) to the target
/// table at the percent given. MirrorTraffic writes them, SwitchTraffic, Cancel and Complete remove them; rules of other
/// workflows and tables are never touched.
/// </summary>
public sealed class WorkflowMirrorRules(TopologyStore store)
{
    /// <summary>The rules MirrorTraffic writes for <paramref name="tables"/> at <paramref name="options"/>.</summary>
    public static IReadOnlyList<MirrorRule> For(MoveTablesCreate spec, IReadOnlyList<string> tables, MirrorTrafficOptions options) =>
        [.. options.Types().SelectMany(type => tables.Select(t =>
            new MirrorRule($"{spec.SourceKeyspace}.{t}{Suffix(type)}", $"{spec.TargetKeyspace}.{t}", options.Percent)))];

    /// <summary>True for a rule of this workflow: from one of its tables in the source keyspace to the target keyspace.</summary>
    public static bool Owns(MoveTablesCreate spec, IReadOnlyList<string> tables, MirrorRule rule)
    {
        var at = rule.FromTable.IndexOf('@', StringComparison.Ordinal);
        var from = at < 0 ? rule.FromTable : rule.FromTable[..at];
        return rule.ToKeyspace == spec.TargetKeyspace && tables.Any(t => from == $"{spec.SourceKeyspace}.{t}");
    }

    /// <summary>
    /// Writes the workflow's rules for the tablet types of <paramref name="options"/> (replacing its earlier ones for
    /// those types; percent 0 removes them); returns the workflow's rules now.
    /// </summary>
    public async Task<IReadOnlyList<MirrorRule>> ApplyAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, MirrorTrafficOptions options, CancellationToken ct)
    {
        var replaced = For(spec, tables, options).Select(r => r.FromTable).ToHashSet(StringComparer.Ordinal);
        var written = await store.UpdateMirrorRulesAsync(
            rules =>
            {
                var kept = rules.Without(r => replaced.Contains(r.FromTable));
                return options.Percent > 0 ? kept.With(For(spec, tables, options)) : kept;
            },
            ct: ct).ConfigureAwait(false);
        return [.. written.Value.Rules.Where(r => Owns(spec, tables, r))];
    }

    /// <summary>Removes every rule of the workflow (none left is no error); returns how many there were.</summary>
    public async Task<int> RemoveAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, KeyspaceLock? underLock, CancellationToken ct)
    {
        var removed = 0;
        await store.UpdateMirrorRulesAsync(
            rules =>
            {
                removed = rules.Rules.Count(r => Owns(spec, tables, r));
                return rules.Without(r => Owns(spec, tables, r));
            },
            underLock, ct).ConfigureAwait(false);
        return removed;
    }

    /// <summary>The workflow's rules as stored now (for show and status).</summary>
    public async Task<IReadOnlyList<MirrorRule>> ListAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct) =>
        [.. (await store.GetMirrorRulesAsync(ct).ConfigureAwait(false)).Value.Rules.Where(r => Owns(spec, tables, r))];

    /// <summary>What MirrorTraffic answers, in vtctldclient's form (the traffic state does not change).</summary>
    public static string Summary(WorkflowState state, MirrorTrafficOptions options, IReadOnlyList<MirrorRule> rules)
    {
        var name = $"{state.Spec.TargetKeyspace}.{state.Spec.Workflow}";
        var what = options.Percent > 0
            ? $"mirroring {options.Percent.ToString("0.##", CultureInfo.InvariantCulture)}% of the read-only statements for tablet types [{string.Join(",", options.Types())}] on tables [{string.Join(",", state.Tables)}] to keyspace {state.Spec.TargetKeyspace}"
            : $"mirror rules for tablet types [{string.Join(",", options.Types())}] removed";
        return $"MirrorTraffic was successful for workflow {name}: {what} ({rules.Count} mirror rule(s) in force)\n\nStart State: {state.Traffic}\nCurrent State: {state.Traffic}";
    }

    private static string Suffix(string type) => type switch
    {
        "REPLICA" => "@replica",
        "RDONLY" => "@rdonly",
        _ => string.Empty,
    };
}
