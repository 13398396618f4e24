using System.Text.Json;
using System.Text.Json.Serialization;

namespace Durable.Replication;

/// <summary>One table a stream carries; the target table has the same name.</summary>
public sealed record TableRule(
    [property: JsonPropertyName("table")] string Table,
    [property: JsonPropertyName("key_range_filter")] KeyRangeFilter? KeyRangeFilter = null);

/// <summary>The stream's filter: which tables, and for a sharded target, which rows.</summary>
public sealed record StreamFilter([property: JsonPropertyName("rules")] IReadOnlyList<TableRule> Rules)
{
    public string ToJson() => JsonSerializer.Serialize(this);

    public static StreamFilter Parse(string json)
    {
        var filter = JsonSerializer.Deserialize<StreamFilter>(json) ?? throw new ArgumentException("The stream filter is empty.");
        filter.Validate();
        return filter;
    }

    public void Validate()
    {
        if (Rules is null || Rules.Count == 0)
        {
            throw new ArgumentException("A stream filter needs at least one table rule.");
        }

        foreach (var rule in Rules)
        {
            if (string.IsNullOrWhiteSpace(rule.Table) || rule.Table.Length > 64)
            {
                throw new ArgumentException($"Table name '{rule.Table}' is invalid: 1 to 64 characters.");
            }

            rule.KeyRangeFilter?.Validate(rule.Table);
        }

        var duplicate = Rules.GroupBy(r => r.Table, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Table '{duplicate.Key}' appears {duplicate.Count()} times in the stream filter.");
        }
    }

    public TableRule? Find(string table) => Rules.FirstOrDefault(r => string.Equals(r.Table, table, StringComparison.OrdinalIgnoreCase));
}
