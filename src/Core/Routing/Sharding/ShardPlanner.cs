using Durable.Core.Vindexes;
using Durable.Topology;

namespace Durable.Routing.Sharding;

/// <summary>
/// Plans a routed statement whose tables are in a sharded keyspace, as vtgate's planner does for the statements it
/// can route by the primary vindex: INSERT rows by their vindex value (split per shard); SELECT/UPDATE/DELETE to the
/// shards an equality or IN on the vindex column pins them to, else to every shard (a SELECT merged by
/// <see cref="ScatterMerge"/>); DDL to every shard; SHOW/DESCRIBE to the first. Refuses what it cannot run correctly:
/// an UPDATE of the vindex column (a row would have to move between shards), joins and subqueries it cannot prove
/// single-shard, LIMIT on multi-shard DML, multi-statement texts. Pure: no I/O.
/// </summary>
public static class ShardPlanner
{
    /// <param name="routed">The statement as <see cref="StatementRouter"/> routed it (its <see cref="RoutedStatement.ShardedKeyspace"/> set).</param>
    /// <param name="snapshot">The snapshot it was routed on (sequences are looked up in it).</param>
    /// <param name="parameters">A prepared statement's bound values by '?' ordinal; null for a plain query.</param>
    public static ShardedStatement Analyze(RoutedStatement routed, RoutingSnapshot snapshot, IReadOnlyList<VindexValue>? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(routed);
        ArgumentNullException.ThrowIfNull(snapshot);
        var keyspace = routed.ShardedKeyspace ?? throw new ArgumentException("The statement is not on a sharded keyspace.", nameof(routed));
        var map = ShardMap.For(keyspace);
        if (map.Shards.Count == 0)
        {
            throw new GatewaySqlException(GatewaySqlException.Unknown, "HY000", $"sharded keyspace '{keyspace.Name}' has no shards in the topology");
        }

        if (routed.Parts > 1)
        {
            throw ShardingErrors.Refused("a multi-statement text", "send the statements on a sharded keyspace one at a time");
        }

        var tables = routed.Tables.Where(t => t.Keyspace == keyspace.Name).Select(t => t.Table).Distinct(StringComparer.Ordinal).ToList();
        switch (routed.Kind)
        {
            case StatementKind.Ddl:
                return Fixed(keyspace, [.. map.Shards.Select(s => new ShardQuery(s, routed.Sql))], scatter: true, readOnly: false);
            case StatementKind.Show or StatementKind.Describe:
                return Fixed(keyspace, [new ShardQuery(map.Shards[0], routed.Sql)], scatter: false, readOnly: true);
            case StatementKind.Insert or StatementKind.Replace:
                return Insert(routed, snapshot, keyspace, map, tables, parameters);
            case StatementKind.Select or StatementKind.Update or StatementKind.Delete:
                return Filtered(routed, keyspace, map, tables, parameters);
            default:
                throw ShardingErrors.Refused($"a {routed.Kind} statement", "the gateway routes SELECT, INSERT, REPLACE, UPDATE, DELETE, DDL, SHOW and DESCRIBE on sharded tables");
        }
    }

    private static ShardedStatement Fixed(RoutedKeyspace keyspace, IReadOnlyList<ShardQuery> queries, bool scatter, bool readOnly)
    {
        var plan = new ShardedPlan { Keyspace = keyspace, Queries = queries, Scatter = scatter, ReadOnly = readOnly };
        return new ShardedStatement(_ => plan);
    }

    private static ShardedStatement Insert(RoutedStatement routed, RoutingSnapshot snapshot, RoutedKeyspace keyspace, ShardMap map, List<string> tables, IReadOnlyList<VindexValue>? parameters)
    {
        if (tables.Count != 1)
        {
            throw ShardingErrors.Refused($"an INSERT naming tables {string.Join(", ", tables)}", "INSERT ... SELECT is not routed on sharded keyspaces; insert the rows with VALUES");
        }

        var q = new ShardSql(routed.Sql);
        var split = new InsertSplit(q, map, tables[0], parameters);
        if (split.AutoIncrement is null)
        {
            var queries = split.Split(null);
            return Fixed(keyspace, queries, scatter: false, readOnly: false);
        }

        var (sequenceKeyspace, sequenceTable) = Sequence(split.AutoIncrement.Sequence, snapshot, tables[0]);
        return new ShardedStatement(first => new ShardedPlan { Keyspace = keyspace, Queries = split.Split(first), FirstInsertId = first }, sequenceKeyspace, sequenceTable, split.ValuesNeeded);
    }

    /// <summary>Where the sequence table is: <c>ks.seq</c> as written, else the unsharded keyspace whose VSchema lists it.</summary>
    private static (string Keyspace, string Table) Sequence(string sequence, RoutingSnapshot snapshot, string table)
    {
        var dot = sequence.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            return (sequence[..dot].Trim('`'), sequence[(dot + 1)..].Trim('`'));
        }

        var found = snapshot.Keyspaces.Values.Where(k => !k.Sharded && k.VSchemaTables.Contains(sequence)).Select(k => k.Name).Order(StringComparer.Ordinal).ToList();
        return found.Count == 1
            ? (found[0], sequence)
            : throw new GatewaySqlException(GatewaySqlException.Unknown, "HY000",
                $"table {table}'s auto-increment names sequence '{sequence}', which {(found.Count == 0 ? "no unsharded keyspace's VSchema lists" : "the VSchemas of " + string.Join(", ", found) + " all list")}; qualify it as <keyspace>.{sequence} in the VSchema");
    }

    private static ShardedStatement Filtered(RoutedStatement routed, RoutedKeyspace keyspace, ShardMap map, List<string> tables, IReadOnlyList<VindexValue>? parameters)
    {
        var q = new ShardSql(routed.Sql);
        if (q.Is(0, SqlKeyword.With))
        {
            throw ShardingErrors.Refused("WITH (a common table expression) on a sharded table", "write it as one SELECT");
        }

        var where = q.FindTop(0, q.Count, SqlKeyword.Where);
        var whereEnd = where >= q.Count ? q.Count : q.FindTop(where + 1, q.Count, SqlKeyword.Group, SqlKeyword.Having, SqlKeyword.Order, SqlKeyword.Limit, SqlKeyword.For, SqlKeyword.Lock, SqlKeyword.Window, SqlKeyword.Into, SqlKeyword.Union);
        var subquery = q.HasSubquery(0, q.Count);
        if (tables.Count != 1 || subquery || Joins(q, where))
        {
            throw ShardingErrors.Refused(
                subquery ? $"a subquery in a statement on sharded table{(tables.Count > 1 ? "s" : "")} {string.Join(", ", tables)}" : $"a join of sharded tables {string.Join(", ", tables)}",
                "the gateway cannot prove it runs on one shard, and does not merge joins across shards; query each table on its own");
        }

        var table = tables[0];
        map.PrimaryVindex(table); // a table the VSchema does not place is refused, not guessed
        if (routed.Kind == StatementKind.Update)
        {
            CheckAssignments(q, map, table, where < q.Count ? where : q.Count);
        }

        var pinned = WherePinning.Shards(q, where < q.Count ? where : -1, whereEnd, map, table, parameters);
        var shards = pinned is null ? map.Shards : [.. map.Shards.Where(pinned.Contains)];
        if (shards.Count == 0)
        {
            shards = [map.Shards[0]]; // values on no common shard: no row matches; one shard answers with the right columns
        }

        var readOnly = routed.Kind == StatementKind.Select && !routed.Writes;
        if (shards.Count == 1)
        {
            return Fixed(keyspace, [new ShardQuery(shards[0], routed.Sql)], scatter: false, readOnly);
        }

        if (routed.Kind != StatementKind.Select)
        {
            var limit = q.FindTop(whereEnd, q.Count, SqlKeyword.Limit);
            if (limit < q.Count)
            {
                throw ShardingErrors.Refused($"{routed.Kind.ToString().ToUpperInvariant()} ... LIMIT on {shards.Count} shards of {table}",
                    "which rows the limit keeps depends on every shard at once; pin the statement to one shard with the vindex column, or drop the LIMIT");
            }

            return Fixed(keyspace, [.. shards.Select(s => new ShardQuery(s, routed.Sql))], scatter: pinned is null, readOnly: false);
        }

        var (sql, merge) = ScatterSelect.Plan(q);
        var plan = new ShardedPlan { Keyspace = keyspace, Queries = [.. shards.Select(s => new ShardQuery(s, sql))], Scatter = pinned is null, Merge = merge, ReadOnly = readOnly };
        return new ShardedStatement(_ => plan);
    }

    /// <summary>A join (JOIN, or a comma between table references) before the WHERE: also a self-join, which the routed tables list once.</summary>
    private static bool Joins(ShardSql q, int where)
    {
        var start = q.Is(0, SqlKeyword.Select) ? q.FindTop(0, where, SqlKeyword.From) : 1;
        var end = q.Is(0, SqlKeyword.Update) ? q.FindTop(1, where, SqlKeyword.Set) : where;
        if (q.Is(0, SqlKeyword.Select))
        {
            end = q.FindTop(start, where, SqlKeyword.Group, SqlKeyword.Having, SqlKeyword.Order, SqlKeyword.Limit, SqlKeyword.For, SqlKeyword.Lock, SqlKeyword.Window, SqlKeyword.Union);
        }

        for (var i = start; i < end; i++)
        {
            if (q.Tokens[i].Kind == SqlTokenKind.LeftParen)
            {
                i = q.AfterGroup(i) - 1;
                continue;
            }

            if (q.Tokens[i].Kind == SqlTokenKind.Comma || q.Is(i, SqlKeyword.Join) || q.Is(i, SqlKeyword.StraightJoin) || q.Is(i, SqlKeyword.Using))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>UPDATE ... SET assigning the primary vindex column is refused: the row would have to move to another shard.</summary>
    private static void CheckAssignments(ShardSql q, ShardMap map, string table, int where)
    {
        var set = q.FindTop(1, where, SqlKeyword.Set);
        var end = q.FindTop(set + 1, q.Count, SqlKeyword.Where, SqlKeyword.Order, SqlKeyword.Limit);
        var (_, column) = map.PrimaryVindex(table);
        foreach (var (s, e) in q.SplitTop(set + 1, end))
        {
            var eq = s;
            while (eq < e && !(q.Tokens[eq].Kind == SqlTokenKind.Operator && q.Text(eq) == "="))
            {
                eq++;
            }

            if (q.ColumnName(s, eq) is { } name && name.Equals(column, StringComparison.OrdinalIgnoreCase))
            {
                throw ShardingErrors.Refused($"UPDATE {table} SET {q.Text(s, e)}",
                    $"{column} is the table's primary vindex column, so the new value may belong on another shard, and moving rows between shards is not supported; DELETE the row and INSERT it with the new value");
            }
        }
    }
}
