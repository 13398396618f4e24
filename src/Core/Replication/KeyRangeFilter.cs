using System.Text.Json.Serialization;
using CoreKeyRange = Durable.Core.KeyRanges.KeyRange;
using Durable.Core.Vindexes;

namespace Durable.Replication;

/// <summary>
/// Rows of a table go to this stream only when the primary vindex of the target keyspace maps them into the key range
/// (the target shard's range); Vitess writes the same thing as <c>in_keyrange(col, 'hash', '-80')</c>.
/// </summary>
public sealed record KeyRangeFilter(
    [property: JsonPropertyName("vindex_type")] string VindexType,
    [property: JsonPropertyName("columns")] IReadOnlyList<string> Columns,
    [property: JsonPropertyName("key_range")] string KeyRange)
{
    public void Validate(string table)
    {
        if (!VindexFactory.IsKnown(VindexType))
        {
            throw new ArgumentException($"Table '{table}': unknown vindex type '{VindexType}'; known: {string.Join(", ", VindexFactory.KnownTypes)}.");
        }

        if (Columns.Count != 1)
        {
            throw new ArgumentException($"Table '{table}': the key-range filter needs exactly one vindex column, got {Columns.Count}.");
        }

        if (!CoreKeyRange.TryParseShard(KeyRange, out _, out var error))
        {
            throw new ArgumentException($"Table '{table}': key range '{KeyRange}' is invalid: {error}");
        }
    }
}
