using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;
using Durable.Topology;

namespace Durable.Routing.Sharding;

/// <summary>
/// A sharded keyspace as the planner maps rows to shards: its shards' key ranges, and each table's primary vindex
/// (created once per keyspace snapshot, so a statement's planning does not build vindexes).
/// </summary>
internal sealed class ShardMap
{
    private static readonly ConditionalWeakTable<RoutedKeyspace, ShardMap> All = new();

    private readonly RoutedKeyspace _keyspace;
    private readonly (string Shard, KeyRange Range)[] _ranges;
    private readonly ConcurrentDictionary<string, (IVindex Vindex, string Column)> _vindexes = new(StringComparer.Ordinal);

    private ShardMap(RoutedKeyspace keyspace)
    {
        _keyspace = keyspace;
        _ranges = [.. keyspace.Shards.Select(s => (s, KeyRange.ParseShard(s)))];
    }

    public static ShardMap For(RoutedKeyspace keyspace) => All.GetValue(keyspace, k => new ShardMap(k));

    public IReadOnlyList<string> Shards => _keyspace.Shards;

    /// <summary>The table's primary vindex and its column; 1235 naming the table when the VSchema gives it none.</summary>
    public (IVindex Vindex, string Column) PrimaryVindex(string table)
    {
        if (_vindexes.TryGetValue(table, out var found))
        {
            return found;
        }

        var vschema = _keyspace.VSchema;
        if (vschema is null || !vschema.Tables.TryGetValue(table, out var t) || t.ColumnVindexes.Count == 0)
        {
            var known = vschema is null ? "(the keyspace has no VSchema)" : string.Join(", ", vschema.Tables.Where(x => x.Value.ColumnVindexes.Count > 0).Select(x => x.Key).Order(StringComparer.Ordinal));
            throw ShardingErrors.NoVindex(_keyspace.Name, table, known);
        }

        var (vindex, columns) = vschema.PrimaryVindex(table);
        if (columns.Count != 1)
        {
            throw SqlErrors.Unsupported($"table {table}'s primary vindex over {columns.Count} columns ({string.Join(", ", columns)})", "the gateway routes by single-column primary vindexes");
        }

        found = (vindex, columns[0]);
        _vindexes.TryAdd(table, found);
        return found;
    }

    /// <summary>The table's auto-increment (column and sequence), or null.</summary>
    public AutoIncrement? AutoIncrement(string table) =>
        _keyspace.VSchema is { } v && v.Tables.TryGetValue(table, out var t) ? t.AutoIncrement : null;

    /// <summary>The shard whose key range holds the value's keyspace id; an error naming the value when it maps to none.</summary>
    public string ShardOf(IVindex vindex, VindexValue value, string table, string column, string written)
    {
        byte[]? keyspaceId;
        try
        {
            keyspaceId = vindex.Map(value);
        }
        catch (VindexException e)
        {
            throw ShardingErrors.Unmappable(table, column, written, vindex.Type, e.Message);
        }

        if (keyspaceId is null)
        {
            throw ShardingErrors.Unmappable(table, column, written, vindex.Type, "it maps to no keyspace id");
        }

        foreach (var (shard, range) in _ranges)
        {
            if (range.Contains(keyspaceId))
            {
                return shard;
            }
        }

        throw ShardingErrors.Unmappable(table, column, written, vindex.Type,
            $"keyspace id 0x{Convert.ToHexStringLower(keyspaceId)} is in no shard ({string.Join(", ", _keyspace.Shards)})");
    }
}
