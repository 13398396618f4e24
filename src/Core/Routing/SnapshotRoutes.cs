using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Durable.Topology;

namespace Durable.Routing;

/// <summary>
/// Table resolution against one <see cref="RoutingSnapshot"/>, as vtgate's <c>VSchema.FindRoutedTable</c> does for
/// unsharded keyspaces, with what depends only on (snapshot, session target, table name) cached: a snapshot is
/// immutable, so its cache lives exactly as long as it does (a weak table keyed by the snapshot).
/// </summary>
internal sealed class SnapshotRoutes
{
    /// <summary>A bound on cached names per session target, so a client naming endless unknown tables cannot grow memory.</summary>
    private const int MaxCachedNames = 10_000;

    private static readonly ConditionalWeakTable<RoutingSnapshot, SnapshotRoutes> All = new();

    private static readonly string[] SystemSchemas = ["information_schema", "mysql", "performance_schema", "sys"];

    private readonly RoutingSnapshot _snapshot;
    private readonly Dictionary<string, RoutingRule> _rules = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, TabletType), KeyspaceTarget> _targets = new();
    private readonly ConcurrentDictionary<KeyspaceTarget, ConcurrentDictionary<string, TableRoute>> _bySession = new();
    private readonly ConcurrentDictionary<string, TableRoute> _noSession = new(StringComparer.Ordinal);

    private SnapshotRoutes(RoutingSnapshot snapshot)
    {
        _snapshot = snapshot;
        foreach (var rule in snapshot.Rules.Rules)
        {
            _rules.TryAdd(rule.FromTable, rule);
        }
    }

    public static SnapshotRoutes For(RoutingSnapshot snapshot) => All.GetValue(snapshot, s => new SnapshotRoutes(s));

    public RoutingSnapshot Snapshot => _snapshot;

    public static bool IsSystemSchema(ReadOnlySpan<char> name)
    {
        foreach (var schema in SystemSchemas)
        {
            if (name.Equals(schema, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The one <see cref="KeyspaceTarget"/> instance for a keyspace and type (statements share it).</summary>
    public KeyspaceTarget Target(string keyspace, TabletType type) =>
        _targets.GetOrAdd((keyspace, type), static k => new KeyspaceTarget(k.Item1, k.Item2));

    /// <summary>The keyspace a session or statement names; 1049 naming the known ones when it does not exist.</summary>
    public RoutedKeyspace Keyspace(string name)
    {
        if (!_snapshot.Keyspaces.TryGetValue(name, out var keyspace))
        {
            throw SqlErrors.UnknownKeyspace(name, _snapshot);
        }

        return keyspace;
    }

    /// <summary>
    /// Resolves an unqualified table name read straight from the statement text (the hot path: a cache hit allocates
    /// nothing).
    /// </summary>
    public TableRoute Resolve(ReadOnlySpan<char> table, KeyspaceTarget? session)
    {
        var cache = Cache(session);
        if (cache.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(table, out var route))
        {
            return route;
        }

        var name = table.ToString();
        route = Find(null, null, name, session);
        if (cache.Count < MaxCachedNames && !name.Contains('.', StringComparison.Ordinal))
        {
            cache.TryAdd(name, route);
        }

        return route;
    }

    /// <summary>Resolves <c>qualifier.table</c> (the qualifier may carry a tablet type: <c>`commerce@replica`.t</c>).</summary>
    public TableRoute Resolve(string qualifier, string table, KeyspaceTarget? session)
    {
        if (IsSystemSchema(qualifier))
        {
            return TableRoute.SystemTable;
        }

        var key = qualifier + "." + table;
        var cache = Cache(session);
        if (cache.TryGetValue(key, out var route))
        {
            return route;
        }

        var at = qualifier.IndexOf('@', StringComparison.Ordinal);
        var named = at < 0 ? null : KeyspaceTarget.Parse(qualifier);
        route = Find(named?.Keyspace ?? qualifier, named?.Type, table, session);
        if (cache.Count < MaxCachedNames)
        {
            cache.TryAdd(key, route);
        }

        return route;
    }

    private ConcurrentDictionary<string, TableRoute> Cache(KeyspaceTarget? session) =>
        session is null ? _noSession : _bySession.GetOrAdd(session, static _ => new ConcurrentDictionary<string, TableRoute>(StringComparer.Ordinal));

    /// <summary>
    /// vtgate's FindRoutedTable: the keyspace is the qualifier's or else the session's; the tablet type the qualifier's or
    /// else the session's. Rules are looked up for "[ks.]t@type" (no suffix for the primary), then "[ks.]t"; a rule's first
    /// to_table is where it runs, none means the table is disabled. Without a rule: the keyspace named, or with none
    /// global routing (the only keyspace, or the one whose VSchema lists the table).
    /// </summary>
    private TableRoute Find(string? qualifierKeyspace, TabletType? qualifierType, string table, KeyspaceTarget? session)
    {
        var keyspace = qualifierKeyspace ?? session?.Keyspace;
        var type = qualifierType ?? session?.Type ?? TabletType.Primary;
        var qualified = keyspace is null ? table : keyspace + "." + table;
        var suffix = type switch
        {
            TabletType.Replica => "@replica",
            TabletType.Rdonly => "@rdonly",
            _ => string.Empty,
        };

        if ((suffix.Length > 0 && _rules.TryGetValue(qualified + suffix, out var rule)) || _rules.TryGetValue(qualified, out rule))
        {
            if (rule.ToTables.Count == 0)
            {
                throw SqlErrors.Disabled(table, rule.FromTable);
            }

            var to = rule.ToTables[0];
            var dot = to.IndexOf('.', StringComparison.Ordinal);
            var toKeyspace = Keyspace(to[..dot]);
            return Routed(toKeyspace, to[(dot + 1)..], type);
        }

        if (keyspace is not null)
        {
            return Routed(Keyspace(keyspace), table, type);
        }

        return Routed(Global(table), table, type);
    }

    /// <summary>vtgate's findGlobalTable: the only keyspace, else the one keyspace whose VSchema lists the table.</summary>
    private RoutedKeyspace Global(string table)
    {
        if (_snapshot.Keyspaces.Count == 1)
        {
            return _snapshot.Keyspaces.Values.First();
        }

        var found = _snapshot.Keyspaces.Values.Where(k => k.VSchemaTables.Contains(table)).OrderBy(k => k.Name, StringComparer.Ordinal).ToList();
        return found.Count switch
        {
            1 => found[0],
            0 => throw SqlErrors.NoDatabase(table, _snapshot),
            _ => throw SqlErrors.Ambiguous(table, found.Select(k => k.Name)),
        };
    }

    private TableRoute Routed(RoutedKeyspace keyspace, string table, TabletType type)
    {
        return new TableRoute(Target(keyspace.Name, type), keyspace, table);
    }
}
