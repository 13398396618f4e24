using System.Text.Json;
using System.Text.Json.Nodes;
using Durable.Core.Vindexes;

namespace Durable.Topology;

/// <summary>
/// A keyspace VSchema in Vitess JSON (<c>sharded</c>, <c>vindexes</c>, <c>tables</c> with <c>column_vindexes</c> and
/// <c>auto_increment</c>). The document is kept as given (fields Durable does not use survive a round trip); parsing
/// checks what Durable relies on and reports every problem by name.
/// </summary>
public sealed class VSchemaDocument
{
    private VSchemaDocument(JsonObject json, bool sharded, IReadOnlyDictionary<string, VindexDefinition> vindexes, IReadOnlyDictionary<string, VSchemaTable> tables)
    {
        Json = json;
        Sharded = sharded;
        Vindexes = vindexes;
        Tables = tables;
    }

    public JsonObject Json { get; }

    public bool Sharded { get; }

    public IReadOnlyDictionary<string, VindexDefinition> Vindexes { get; }

    public IReadOnlyDictionary<string, VSchemaTable> Tables { get; }

    /// <summary>Canonical compact JSON, as stored in the topology.</summary>
    public string ToJson() => Json.ToJsonString();

    public string ToIndentedJson() => Json.ToJsonString(PrintOptions.Indented);

    /// <summary>The vindex that places a table's rows (its first column vindex), created ready to map values.</summary>
    public (IVindex Vindex, IReadOnlyList<string> Columns) PrimaryVindex(string table)
    {
        if (!Tables.TryGetValue(table, out var t) || t.ColumnVindexes.Count == 0)
        {
            throw new TopologyValidationException($"Table '{table}' has no column vindex in this VSchema; tables with one: {string.Join(", ", Tables.Where(x => x.Value.ColumnVindexes.Count > 0).Select(x => x.Key))}.");
        }

        var primary = t.ColumnVindexes[0];
        return (VindexFactory.Create(Vindexes[primary.Name].Type, primary.Name), primary.Columns);
    }

    public static VSchemaDocument Parse(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new TopologyValidationException($"VSchema is not valid JSON: {e.Message}");
        }

        if (node is not JsonObject root)
        {
            throw new TopologyValidationException("VSchema must be a JSON object such as {\"sharded\":true,\"vindexes\":{...},\"tables\":{...}}.");
        }

        var problems = new List<string>();
        var sharded = root["sharded"] switch
        {
            null => false,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            var other => Problem(problems, $"'sharded' must be true or false, not {other.ToJsonString()}", false),
        };

        var vindexes = new Dictionary<string, VindexDefinition>(StringComparer.Ordinal);
        if (root["vindexes"] is JsonObject vindexObject)
        {
            foreach (var (name, value) in vindexObject)
            {
                var type = (value as JsonObject)?["type"] is JsonValue tv && tv.TryGetValue<string>(out var t) ? t : null;
                if (type is null)
                {
                    problems.Add($"vindex '{name}' has no \"type\"; supported types: {string.Join(", ", VindexFactory.KnownTypes)}");
                }
                else if (!VindexFactory.IsKnown(type))
                {
                    problems.Add($"vindex '{name}' has unknown type '{type}'; supported types: {string.Join(", ", VindexFactory.KnownTypes)}");
                }
                else
                {
                    vindexes[name] = new VindexDefinition(name, type);
                }
            }
        }
        else if (root["vindexes"] is not null)
        {
            problems.Add("'vindexes' must be an object of name -> {\"type\": ...}");
        }

        var tables = new Dictionary<string, VSchemaTable>(StringComparer.Ordinal);
        if (root["tables"] is JsonObject tableObject)
        {
            foreach (var (table, value) in tableObject)
            {
                tables[table] = ParseTable(table, value as JsonObject ?? new JsonObject(), root, problems);
            }
        }
        else if (root["tables"] is not null)
        {
            problems.Add("'tables' must be an object of table name -> definition");
        }

        foreach (var (tableName, table) in tables)
        {
            foreach (var columnVindex in table.ColumnVindexes)
            {
                if (!vindexes.ContainsKey(columnVindex.Name) && !(root["vindexes"] as JsonObject ?? []).ContainsKey(columnVindex.Name))
                {
                    problems.Add($"table '{tableName}' uses vindex '{columnVindex.Name}', which is not defined in 'vindexes' (defined: {(vindexes.Count == 0 ? "none" : string.Join(", ", vindexes.Keys))})");
                }
            }

            if (sharded && table.Type is not ("sequence" or "reference") && table.ColumnVindexes.Count == 0)
            {
                problems.Add($"table '{tableName}' in a sharded keyspace needs a column vindex (its primary vindex) in 'column_vindexes'");
            }

            if (!sharded && table.ColumnVindexes.Count > 0)
            {
                problems.Add($"table '{tableName}' has column vindexes but the keyspace VSchema is not sharded");
            }
        }

        if (problems.Count > 0)
        {
            throw new TopologyValidationException("Invalid VSchema: " + string.Join("; ", problems) + ".");
        }

        return new VSchemaDocument(root, sharded, vindexes, tables);
    }

    private static VSchemaTable ParseTable(string table, JsonObject json, JsonObject root, List<string> problems)
    {
        var columnVindexes = new List<ColumnVindex>();
        if (json["column_vindexes"] is JsonArray array)
        {
            foreach (var item in array)
            {
                if (item is not JsonObject cv || cv["name"]?.GetValueKind() != JsonValueKind.String)
                {
                    problems.Add($"table '{table}': each column_vindexes entry needs a \"name\" and a \"column\" (or \"columns\")");
                    continue;
                }

                var columns = new List<string>();
                if (cv["column"] is JsonValue c && c.TryGetValue<string>(out var column))
                {
                    columns.Add(column);
                }
                else if (cv["columns"] is JsonArray cs)
                {
                    columns.AddRange(cs.Select(x => x?.GetValue<string>() ?? ""));
                }

                if (columns.Count == 0 || columns.Any(string.IsNullOrEmpty))
                {
                    problems.Add($"table '{table}': column vindex '{cv["name"]}' names no column");
                }

                columnVindexes.Add(new ColumnVindex(cv["name"]!.GetValue<string>(), columns));
            }
        }
        else if (json["column_vindexes"] is not null)
        {
            problems.Add($"table '{table}': 'column_vindexes' must be an array");
        }

        AutoIncrement? autoIncrement = null;
        if (json["auto_increment"] is JsonObject ai)
        {
            var column = ai["column"]?.GetValue<string>();
            var sequence = ai["sequence"]?.GetValue<string>();
            if (string.IsNullOrEmpty(column) || string.IsNullOrEmpty(sequence))
            {
                problems.Add($"table '{table}': auto_increment needs both \"column\" and \"sequence\"");
            }
            else
            {
                autoIncrement = new AutoIncrement(column, sequence);
            }
        }

        var type = json["type"] is JsonValue tv && tv.TryGetValue<string>(out var t) ? t : "";
        return new VSchemaTable(table, type, columnVindexes, autoIncrement);
    }

    private static T Problem<T>(List<string> problems, string problem, T fallback)
    {
        problems.Add(problem);
        return fallback;
    }
}

public sealed record VindexDefinition(string Name, string Type);

public sealed record ColumnVindex(string Name, IReadOnlyList<string> Columns);

public sealed record AutoIncrement(string Column, string Sequence);

public sealed record VSchemaTable(string Name, string Type, IReadOnlyList<ColumnVindex> ColumnVindexes, AutoIncrement? AutoIncrement);

/// <summary>One routing rule: queries for <see cref="FromTable"/> go to <see cref="ToTables"/>.</summary>
public sealed record RoutingRule(string FromTable, IReadOnlyList<string> ToTables);

/// <summary>
/// Routing rules in Vitess JSON: <c>{"rules":[{"from_table":"commerce.customer@replica","to_tables":["customer.customer"]}]}</c>.
/// Input may also use the camelCase names older Vitess docs show; output always uses the proto names.
/// </summary>
public sealed class RoutingRules
{
    public RoutingRules(IReadOnlyList<RoutingRule> rules) => Rules = rules;

    public static RoutingRules Empty { get; } = new([]);

    public IReadOnlyList<RoutingRule> Rules { get; }

    /// <summary>These rules with <paramref name="rules"/> added, replacing any rule with the same from_table.</summary>
    public RoutingRules With(IEnumerable<RoutingRule> rules)
    {
        var added = rules.ToList();
        var replaced = added.Select(r => r.FromTable).ToHashSet(StringComparer.Ordinal);
        return new RoutingRules([.. Rules.Where(r => !replaced.Contains(r.FromTable)), .. added]);
    }

    /// <summary>These rules less the ones <paramref name="remove"/> selects.</summary>
    public RoutingRules Without(Func<RoutingRule, bool> remove) => new([.. Rules.Where(r => !remove(r))]);

    public string ToJson(bool indented = false)
    {
        var rules = new JsonArray();
        foreach (var rule in Rules)
        {
            rules.Add(new JsonObject
            {
                ["from_table"] = rule.FromTable,
                ["to_tables"] = new JsonArray([.. rule.ToTables.Select(t => (JsonNode)JsonValue.Create(t))]),
            });
        }

        return new JsonObject { ["rules"] = rules }.ToJsonString(indented ? PrintOptions.Indented : PrintOptions.Compact);
    }

    /// <summary>Parses and checks rules; <paramref name="keyspaceExists"/> lets the caller check target keyspaces.</summary>
    public static RoutingRules Parse(string json, Func<string, bool>? keyspaceExists = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return new RoutingRules(RulesDocument.Read(json, "Routing rules", "{\"rules\":[{\"from_table\":\"ks.t\",\"to_tables\":[\"ks2.t\"]}]}",
            (rule, index, problems) => ReadRule(rule, index, seen, keyspaceExists, problems)));
    }

    private static RoutingRule? ReadRule(JsonObject? rule, int index, HashSet<string> seen, Func<string, bool>? keyspaceExists, List<string> problems)
    {
        var from = (rule?["from_table"] ?? rule?["fromTable"]) is JsonValue f && f.TryGetValue<string>(out var fs) ? fs : null;
        var toNode = rule?["to_tables"] ?? rule?["toTables"];
        if (string.IsNullOrWhiteSpace(from))
        {
            problems.Add($"rule {index} has no \"from_table\"");
            return null;
        }

        CheckFromTable(from, problems);
        if (!seen.Add(from))
        {
            problems.Add($"from_table '{from}' appears in more than one rule");
        }

        var to = new List<string>();
        if (toNode is JsonArray toArray && toArray.Count > 0)
        {
            foreach (var t in toArray)
            {
                var target = t is JsonValue tv && tv.TryGetValue<string>(out var ts) ? ts : "";
                var dot = target.IndexOf('.');
                if (dot <= 0 || dot == target.Length - 1)
                {
                    problems.Add($"rule for '{from}': to_table '{target}' must be qualified as <keyspace>.<table>");
                }
                else if (keyspaceExists is not null && !keyspaceExists(target[..dot]))
                {
                    problems.Add($"rule for '{from}': to_table '{target}' names keyspace '{target[..dot]}', which does not exist");
                }

                to.Add(target);
            }
        }
        else
        {
            problems.Add($"rule for '{from}' needs a non-empty \"to_tables\" array");
        }

        return new RoutingRule(from, to);
    }

    private static void CheckFromTable(string from, List<string> problems)
    {
        var at = from.IndexOf('@');
        var name = at >= 0 ? from[..at] : from;
        if (at >= 0 && from[(at + 1)..] is not ("primary" or "replica" or "rdonly"))
        {
            problems.Add($"from_table '{from}' has tablet type suffix '@{from[(at + 1)..]}'; expected @primary, @replica or @rdonly");
        }

        if (name.Length == 0 || name.StartsWith('.') || name.EndsWith('.') || name.Count(c => c == '.') > 1)
        {
            problems.Add($"from_table '{from}' must be <table> or <keyspace>.<table>, optionally with @replica or @rdonly");
        }
    }
}

/// <summary>
/// JSON as people read it (and as vtctldclient prints it): non-ASCII table names and characters such as '+' or '&lt;'
/// appear as themselves, not as \u escapes. The output is data for a terminal or etcd, never embedded in HTML.
/// </summary>
internal static class PrintOptions
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
