using Durable.Core.Vindexes;

namespace Durable.Routing.Sharding;

/// <summary>
/// The shards a WHERE clause pins a table to, as vtgate's planner finds them: a conjunct <c>col = literal</c> (or
/// <c>literal = col</c>, <c>col &lt;=&gt; literal</c>) or <c>col IN (literal, ...)</c> on the primary vindex column,
/// anywhere in the top-level AND of the WHERE, narrows the statement to those values' shards (several such conjuncts:
/// the intersection). An OR at the top, an expression, or a value the vindex cannot map leaves it unpinned (null: every
/// shard), which is never wrong, only slower.
/// </summary>
internal static class WherePinning
{
    /// <param name="where">The WHERE keyword's token (-1: none).</param>
    /// <param name="end">The token ending the WHERE clause.</param>
    public static HashSet<string>? Shards(ShardSql q, int where, int end, ShardMap map, string table, IReadOnlyList<VindexValue>? parameters)
    {
        if (where < 0)
        {
            return null;
        }

        var (vindex, column) = map.PrimaryVindex(table);
        HashSet<string>? pinned = null;
        foreach (var (start, stop) in Conjuncts(q, where + 1, end))
        {
            var shards = ConjunctShards(q, start, stop, map, vindex, table, column, parameters);
            if (shards is null)
            {
                continue;
            }

            if (pinned is null)
            {
                pinned = shards;
            }
            else
            {
                pinned.IntersectWith(shards);
            }
        }

        return pinned;
    }

    /// <summary>The top-level AND terms of [from, to); none when an OR/XOR/|| sits at the top.</summary>
    private static List<(int, int)> Conjuncts(ShardSql q, int from, int to)
    {
        var terms = new List<(int, int)>();
        var tokens = q.Tokens;
        var start = from;
        var between = false;
        for (var i = from; i < to; i++)
        {
            var t = tokens[i];
            if (t.Kind == SqlTokenKind.LeftParen)
            {
                i = q.AfterGroup(i) - 1;
                continue;
            }

            if (t.Is(SqlKeyword.Or) || t.Is(SqlKeyword.Xor) || (t.Kind == SqlTokenKind.Operator && q.Text(i) == "||"))
            {
                return [];
            }

            if (t.Is(SqlKeyword.Between))
            {
                between = true;
            }
            else if (t.Is(SqlKeyword.And) || (t.Kind == SqlTokenKind.Operator && q.Text(i) == "&&"))
            {
                if (between)
                {
                    between = false; // BETWEEN x AND y: this AND is the BETWEEN's
                    continue;
                }

                terms.Add((start, i));
                start = i + 1;
            }
        }

        terms.Add((start, to));
        return terms;
    }

    private static HashSet<string>? ConjunctShards(ShardSql q, int start, int stop, ShardMap map, IVindex vindex, string table, string column, IReadOnlyList<VindexValue>? parameters)
    {
        // A term wholly in parentheses: look inside.
        if (q.IsKind(start, SqlTokenKind.LeftParen) && q.AfterGroup(start) == stop)
        {
            var inner = Conjuncts(q, start + 1, stop - 1);
            return inner.Count == 1 ? ConjunctShards(q, start + 1, stop - 1, map, vindex, table, column, parameters) : null;
        }

        for (var i = start; i < stop; i++)
        {
            var t = q.Tokens[i];
            if (t.Kind == SqlTokenKind.LeftParen)
            {
                i = q.AfterGroup(i) - 1;
                continue;
            }

            if (t.Kind == SqlTokenKind.Operator && q.Text(i) is "=" or "<=>")
            {
                if (IsColumn(q, start, i, column))
                {
                    return Place(q, [(i + 1, stop)], map, vindex, table, column, parameters);
                }

                return IsColumn(q, i + 1, stop, column) ? Place(q, [(start, i)], map, vindex, table, column, parameters) : null;
            }

            if (t.Is(SqlKeyword.In) && IsColumn(q, start, i, column) && q.IsKind(i + 1, SqlTokenKind.LeftParen) && q.AfterGroup(i + 1) == stop)
            {
                return Place(q, q.SplitTop(i + 2, stop - 1), map, vindex, table, column, parameters);
            }

            if (t.Is(SqlKeyword.Not))
            {
                return null;
            }
        }

        return null;
    }

    private static bool IsColumn(ShardSql q, int start, int end, string column) =>
        q.ColumnName(start, end) is { } name && name.Equals(column, StringComparison.OrdinalIgnoreCase);

    private static HashSet<string>? Place(ShardSql q, List<(int Start, int End)> values, ShardMap map, IVindex vindex, string table, string column, IReadOnlyList<VindexValue>? parameters)
    {
        var shards = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (s, e) in values)
        {
            var value = SqlLiteral.Read(q, s, e, parameters);
            if (value is null || value.Kind == VindexValueKind.Null)
            {
                return null;
            }

            try
            {
                shards.Add(map.ShardOf(vindex, value, table, column, q.Text(s, e)));
            }
            catch (GatewaySqlException)
            {
                return null; // a value the vindex cannot place may still equal rows after MySQL's conversions: ask every shard
            }
        }

        return shards;
    }
}
