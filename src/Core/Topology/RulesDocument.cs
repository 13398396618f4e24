using System.Text.Json;
using System.Text.Json.Nodes;

namespace Durable.Topology;

/// <summary>
/// The document shape routing rules and mirror rules share, <c>{"rules":[{...}, ...]}</c>: parsed, each rule handed to
/// the caller's reader with its 1-based position, and every problem of every rule named at once in one error.
/// </summary>
internal static class RulesDocument
{
    /// <param name="kind">What the rules are, as a sentence starts ("Routing rules", "Mirror rules").</param>
    /// <param name="example">A valid document, shown when the text is not a JSON object.</param>
    /// <param name="readRule">Reads one rule (null when it is not an object); adds its problems; null when there is no rule to keep.</param>
    public static List<T> Read<T>(string json, string kind, string example, Func<JsonObject?, int, List<string>, T?> readRule)
        where T : class
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new TopologyValidationException($"{kind} are not valid JSON: {e.Message}");
        }

        if (node is not JsonObject root)
        {
            throw new TopologyValidationException($"{kind} must be a JSON object: {example}.");
        }

        var problems = new List<string>();
        var rules = new List<T>();
        var array = root["rules"];
        if (array is not null and not JsonArray)
        {
            problems.Add("'rules' must be an array");
        }

        var index = 0;
        foreach (var item in array as JsonArray ?? [])
        {
            if (readRule(item as JsonObject, ++index, problems) is { } rule)
            {
                rules.Add(rule);
            }
        }

        if (problems.Count > 0)
        {
            throw new TopologyValidationException($"Invalid {kind.ToLowerInvariant()}: " + string.Join("; ", problems) + ".");
        }

        return rules;
    }
}
