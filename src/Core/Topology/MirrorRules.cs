using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Durable.Topology;

/// <summary>
/// One mirror rule, as Vitess' MirrorRule: a share (<see cref="Percent"/>, 0-100) of the read-only statements that
/// route to <see cref="FromTable"/> (<c>keyspace.table</c>, with <c>@replica</c>/<c>@rdonly</c> for those tablet types;
/// no suffix is the primary) is also sent to <see cref="ToTable"/> (<c>keyspace.table</c>) and the answer discarded.
/// </summary>
public sealed record MirrorRule(string FromTable, string ToTable, double Percent)
{
    /// <summary>The keyspace of <see cref="FromTable"/> (before the dot).</summary>
    public string FromKeyspace => FromTable[..FromTable.IndexOf('.', StringComparison.Ordinal)];

    /// <summary>The keyspace of <see cref="ToTable"/> (before the dot).</summary>
    public string ToKeyspace => ToTable[..ToTable.IndexOf('.', StringComparison.Ordinal)];
}

/// <summary>
/// Mirror rules in Vitess JSON: <c>{"rules":[{"from_table":"commerce.customer@replica","to_table":"customer.customer","percent":10}]}</c>.
/// Stored beside the routing rules (<c>{global}/MirrorRules</c>); the gateway follows them. Input may use the camelCase
/// names too; output always uses the proto names.
/// </summary>
public sealed class MirrorRules
{
    public MirrorRules(IReadOnlyList<MirrorRule> rules) => Rules = rules;

    public static MirrorRules Empty { get; } = new([]);

    public IReadOnlyList<MirrorRule> Rules { get; }

    public bool IsEmpty => Rules.Count == 0;

    /// <summary>These rules with <paramref name="rules"/> added, replacing any rule with the same from_table.</summary>
    public MirrorRules With(IEnumerable<MirrorRule> rules)
    {
        var added = rules.ToList();
        var replaced = added.Select(r => r.FromTable).ToHashSet(StringComparer.Ordinal);
        return new MirrorRules([.. Rules.Where(r => !replaced.Contains(r.FromTable)), .. added]);
    }

    /// <summary>These rules less the ones <paramref name="remove"/> selects.</summary>
    public MirrorRules Without(Func<MirrorRule, bool> remove) => new([.. Rules.Where(r => !remove(r))]);

    public string ToJson(bool indented = false)
    {
        var rules = new JsonArray();
        foreach (var rule in Rules)
        {
            rules.Add(new JsonObject
            {
                ["from_table"] = rule.FromTable,
                ["to_table"] = rule.ToTable,
                ["percent"] = rule.Percent,
            });
        }

        return new JsonObject { ["rules"] = rules }.ToJsonString(indented ? PrintOptions.Indented : PrintOptions.Compact);
    }

    /// <summary>
    /// Parses and checks rules: both tables qualified (<c>keyspace.table</c>, a tablet type suffix only on from_table),
    /// percent a number from 0 to 100, each from_table once, source and target keyspaces different;
    /// <paramref name="keyspaceExists"/> lets the caller check both keyspaces exist. Every problem is named at once.
    /// </summary>
    public static MirrorRules Parse(string json, Func<string, bool>? keyspaceExists = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return new MirrorRules(RulesDocument.Read(json, "Mirror rules",
            "{\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"customer.customer\",\"percent\":10}]}",
            (rule, index, problems) => ReadRule(rule, index, seen, keyspaceExists, problems)));
    }

    private static MirrorRule? ReadRule(JsonObject? rule, int index, HashSet<string> seen, Func<string, bool>? keyspaceExists, List<string> problems)
    {
        var from = Text(rule?["from_table"] ?? rule?["fromTable"]);
        var to = Text(rule?["to_table"] ?? rule?["toTable"]);
        if (string.IsNullOrWhiteSpace(from))
        {
            problems.Add($"rule {index} has no \"from_table\"");
            return null;
        }

        CheckTable($"from_table '{from}'", from, allowSuffix: true, keyspaceExists, problems);

        // No suffix is the primary, as in routing rules: one spelling, so the gateway's lookup finds it.
        from = from.EndsWith("@primary", StringComparison.Ordinal) ? from[..^"@primary".Length] : from;
        if (!seen.Add(from))
        {
            problems.Add($"from_table '{from}' appears in more than one rule");
        }

        if (string.IsNullOrWhiteSpace(to))
        {
            problems.Add($"rule for '{from}' has no \"to_table\"");
            return null;
        }

        CheckTable($"rule for '{from}': to_table '{to}'", to, allowSuffix: false, keyspaceExists, problems);
        var percent = Percent(rule!["percent"], from, problems);
        var parsed = new MirrorRule(from, to, percent);
        if (from.Contains('.', StringComparison.Ordinal) && to.Contains('.', StringComparison.Ordinal) && parsed.FromKeyspace == parsed.ToKeyspace)
        {
            problems.Add($"rule for '{from}': to_table '{to}' is in the same keyspace; a mirror rule sends statements to another keyspace");
        }

        return parsed;
    }

    /// <summary>Checks a percent as MirrorTraffic and ApplyMirrorRules accept it: a number from 0 to 100.</summary>
    public static void CheckPercent(double percent)
    {
        if (double.IsNaN(percent) || percent < 0 || percent > 100)
        {
            throw new TopologyValidationException(
                $"Percent {percent.ToString(CultureInfo.InvariantCulture)} is invalid: a mirror percent is a number from 0 to 100 (e.g. 1.5).");
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static double Percent(JsonNode? node, string from, List<string> problems)
    {
        if (node is not JsonValue value || !value.TryGetValue<double>(out var percent))
        {
            problems.Add($"rule for '{from}' needs a numeric \"percent\" from 0 to 100");
            return 0;
        }

        if (double.IsNaN(percent) || percent < 0 || percent > 100)
        {
            problems.Add($"rule for '{from}': percent {percent.ToString(CultureInfo.InvariantCulture)} is outside 0-100");
        }

        return percent;
    }

    private static void CheckTable(string what, string name, bool allowSuffix, Func<string, bool>? keyspaceExists, List<string> problems)
    {
        var at = name.IndexOf('@', StringComparison.Ordinal);
        var table = at >= 0 ? name[..at] : name;
        if (at >= 0 && (!allowSuffix || name[(at + 1)..] is not ("primary" or "replica" or "rdonly")))
        {
            problems.Add(allowSuffix
                ? $"{what} has tablet type suffix '@{name[(at + 1)..]}'; expected @primary, @replica or @rdonly"
                : $"{what} must be <keyspace>.<table> without a tablet type");
            return;
        }

        var dot = table.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == table.Length - 1 || table.IndexOf('.', dot + 1) >= 0)
        {
            problems.Add($"{what} must be qualified as <keyspace>.<table>");
            return;
        }

        if (keyspaceExists is not null && !keyspaceExists(table[..dot]))
        {
            problems.Add($"{what} names keyspace '{table[..dot]}', which does not exist");
        }
    }
}
