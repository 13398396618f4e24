using System.Globalization;
using System.Text;

namespace Durable.Routing.Sharding;

/// <summary>
/// A SELECT run on several shards, rewritten so the gateway can merge it as vtgate does: each ORDER BY key and each
/// GROUP BY column gets a hidden <c>WEIGHT_STRING(expr)</c> column (collation order, not bytes), a key not among the
/// select items is added as a hidden column too, <c>LIMIT n OFFSET m</c> becomes <c>LIMIT n+m</c> on each shard
/// (the merge skips m and cuts at n), and a grouped query loses its LIMIT on the shards (groups span shards).
/// COUNT/SUM/MIN/MAX over plain GROUP BY columns are combined; what the merge cannot do exactly is refused.
/// </summary>
internal sealed class ScatterSelect
{
    private static readonly HashSet<string> OtherAggregates = new(StringComparer.OrdinalIgnoreCase)
    {
        "AVG", "GROUP_CONCAT", "STD", "STDDEV", "STDDEV_POP", "STDDEV_SAMP", "VARIANCE", "VAR_POP", "VAR_SAMP", "BIT_AND", "BIT_OR", "BIT_XOR", "JSON_ARRAYAGG", "JSON_OBJECTAGG",
    };

    private readonly ShardSql _q;
    private readonly List<string> _hidden = [];

    private ScatterSelect(ShardSql q) => _q = q;

    public static (string Sql, ScatterMerge Merge) Plan(ShardSql q)
    {
        var plan = new ScatterSelect(q);
        return plan.Build();
    }

    private sealed record Item(int Start, int End, int ExprEnd, string? Alias, AggregateKind? Aggregate, bool Star, int Position);

    private (string, ScatterMerge) Build()
    {
        var q = _q;
        if (!q.Is(0, SqlKeyword.Select))
        {
            throw ShardingErrors.Refused("a scatter statement starting with " + q.Text(0), "only a plain SELECT can run on several shards and be merged");
        }

        var union = q.FindTop(0, q.Count, SqlKeyword.Union, SqlKeyword.Except, SqlKeyword.Intersect);
        if (union < q.Count)
        {
            throw ShardingErrors.Refused("UNION/EXCEPT/INTERSECT on a sharded table", "the gateway does not merge set operations across shards");
        }

        var first = 1;
        while (first < q.Count && q.Tokens[first].Kind == SqlTokenKind.Identifier && q.Tokens[first].Keyword is SqlKeyword.All or SqlKeyword.Distinct or SqlKeyword.SqlCalcFoundRows
                   or SqlKeyword.HighPriority or SqlKeyword.StraightJoin or SqlKeyword.SqlNoCache or SqlKeyword.SqlCache or SqlKeyword.SqlSmallResult or SqlKeyword.SqlBigResult or SqlKeyword.SqlBufferResult
               || (q.Tokens[first].Kind == SqlTokenKind.Identifier && q.Text(first).Equals("DISTINCTROW", StringComparison.OrdinalIgnoreCase)))
        {
            if (q.Is(first, SqlKeyword.Distinct) || q.Text(first).Equals("DISTINCTROW", StringComparison.OrdinalIgnoreCase))
            {
                throw ShardingErrors.Refused("SELECT DISTINCT over several shards", "write it as GROUP BY on the columns, which the gateway merges");
            }

            if (q.Is(first, SqlKeyword.SqlCalcFoundRows))
            {
                throw ShardingErrors.Refused("SQL_CALC_FOUND_ROWS over several shards", "run a COUNT(*) instead");
            }

            first++;
        }

        var from = q.FindTop(first, q.Count, SqlKeyword.From);
        var clauses = q.FindTop(from, q.Count, SqlKeyword.Group, SqlKeyword.Having, SqlKeyword.Order, SqlKeyword.Limit, SqlKeyword.For, SqlKeyword.Lock, SqlKeyword.Window, SqlKeyword.Into);
        var group = q.Is(clauses, SqlKeyword.Group) ? clauses : -1;
        var groupEnd = group < 0 ? clauses : q.FindTop(group + 2, q.Count, SqlKeyword.Having, SqlKeyword.Order, SqlKeyword.Limit, SqlKeyword.For, SqlKeyword.Lock, SqlKeyword.Window, SqlKeyword.Into);
        if (q.Is(groupEnd, SqlKeyword.Having) || q.Is(groupEnd, SqlKeyword.Window) || q.Is(groupEnd, SqlKeyword.Into) || q.FindTop(first, from, SqlKeyword.Into) < from)
        {
            throw ShardingErrors.Refused($"{q.Text(groupEnd < q.Count ? groupEnd : q.FindTop(first, from, SqlKeyword.Into)).ToUpperInvariant()} in a SELECT over several shards",
                "HAVING, WINDOW and INTO need every shard's rows at once; filter in WHERE, or add the vindex column to the WHERE so it runs on one shard");
        }

        var order = q.Is(groupEnd, SqlKeyword.Order) ? groupEnd : -1;
        var orderEnd = order < 0 ? groupEnd : q.FindTop(order + 2, q.Count, SqlKeyword.Limit, SqlKeyword.For, SqlKeyword.Lock);
        var limit = q.Is(orderEnd, SqlKeyword.Limit) ? orderEnd : -1;
        var limitEnd = limit < 0 ? orderEnd : q.FindTop(limit + 1, q.Count, SqlKeyword.For, SqlKeyword.Lock);

        var items = Items(first, from);
        var aggregated = items.Exists(i => i.Aggregate is not null);
        var grouped = aggregated || group >= 0;
        var merge = new MergeBuilder();

        if (grouped)
        {
            GroupKeys(items, group, groupEnd, merge);
            foreach (var item in items)
            {
                if (item.Aggregate is { } kind)
                {
                    int? weight = kind is AggregateKind.Min or AggregateKind.Max ? Hide("WEIGHT_STRING(" + q.Text(item.Start, item.ExprEnd) + ")") : null;
                    merge.Aggregates.Add(new MergeAggregate(item.Position, kind, weight));
                }
            }
        }

        if (order >= 0)
        {
            OrderKeys(items, order + 2, orderEnd, grouped, merge);
        }

        var (count, offset) = limit >= 0 ? Limit(limit + 1, limitEnd) : (null, 0L);

        // The shards' text: hidden columns after the items, the LIMIT widened (or dropped when grouped).
        var sql = new StringBuilder(q.Sql.Length + 64);
        sql.Append(q.Sql, 0, q.Tokens[from - 1].End);
        foreach (var hidden in _hidden)
        {
            sql.Append(", ").Append(hidden);
        }

        var tailStart = q.Tokens[from].Start;
        if (limit >= 0)
        {
            sql.Append(q.Sql, q.Tokens[from - 1].End, q.Tokens[limit].Start - q.Tokens[from - 1].End);
            if (!grouped)
            {
                sql.Append("LIMIT ").Append((count!.Value + offset).ToString(CultureInfo.InvariantCulture));
            }

            tailStart = limitEnd < q.Count ? q.Tokens[limitEnd].Start : q.Sql.Length;
            if (limitEnd < q.Count)
            {
                sql.Append(' ');
            }
        }
        else
        {
            tailStart = q.Tokens[from - 1].End;
        }

        var tailEnd = q.Count > 0 ? q.Tokens[q.Count - 1].End : q.Sql.Length;
        if (tailStart < tailEnd)
        {
            sql.Append(q.Sql, tailStart, tailEnd - tailStart);
        }

        return (sql.ToString().TrimEnd(), new ScatterMerge
        {
            HiddenColumns = _hidden.Count,
            Order = merge.Order,
            Grouped = grouped,
            GroupKeys = merge.GroupKeys,
            Aggregates = merge.Aggregates,
            Limit = count,
            Offset = offset,
        });
    }

    private sealed class MergeBuilder
    {
        public List<MergeKey> Order { get; } = [];

        public List<MergeKey> GroupKeys { get; } = [];

        public List<MergeAggregate> Aggregates { get; } = [];
    }

    private int Hide(string expression)
    {
        _hidden.Add(expression);
        return ~(_hidden.Count - 1);
    }

    private List<Item> Items(int first, int from)
    {
        var q = _q;
        var items = new List<Item>();
        var star = false;
        var position = 0;
        foreach (var (s, e) in q.SplitTop(first, from))
        {
            var isStar = q.Tokens[e - 1].Kind == SqlTokenKind.Star && (e - s == 1 || q.Tokens[e - 2].Kind == SqlTokenKind.Dot);
            string? alias = null;
            var exprEnd = e;
            var last = q.Tokens[e - 1];
            if (!isStar && e - s >= 2 && last.IsName && q.Tokens[e - 2].Kind != SqlTokenKind.Dot)
            {
                if (q.Is(e - 2, SqlKeyword.As) && !SqlKeywords.IsReserved(last.Keyword))
                {
                    alias = last.Name(q.Sql);
                    exprEnd = e - 2;
                }
                // Without AS only a plain name is an alias: non-reserved keywords such as END (of CASE) or UNKNOWN
                // (of IS UNKNOWN) end expressions there.
                else if (last.Keyword == SqlKeyword.None && q.Tokens[e - 2].Kind is SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier or SqlTokenKind.RightParen or SqlTokenKind.Number or SqlTokenKind.String)
                {
                    alias = last.Name(q.Sql);
                    exprEnd = e - 1;
                }
            }
            else if (!isStar && e - s >= 2 && q.Tokens[e - 1].Kind == SqlTokenKind.String && q.Is(e - 2, SqlKeyword.As))
            {
                alias = SqlLiteral.Unquote(q.Text(e - 1));
                exprEnd = e - 2;
            }

            items.Add(new Item(s, e, exprEnd, alias, Aggregate(s, exprEnd), isStar, star ? -1 : position));
            star |= isStar;
            position++;
        }

        return items;
    }

    /// <summary>The aggregate an item is (the whole item one COUNT/SUM/MIN/MAX call); refuses others and nested ones.</summary>
    private AggregateKind? Aggregate(int start, int end)
    {
        var q = _q;
        for (var i = start; i < end - 1; i++)
        {
            if (q.Tokens[i].Kind != SqlTokenKind.Identifier || !q.IsKind(i + 1, SqlTokenKind.LeftParen))
            {
                continue;
            }

            var name = q.Text(i).ToUpperInvariant();
            AggregateKind? kind = name switch
            {
                "COUNT" => AggregateKind.Count,
                "SUM" => AggregateKind.Sum,
                "MIN" => AggregateKind.Min,
                "MAX" => AggregateKind.Max,
                _ => null,
            };
            if (kind is null && OtherAggregates.Contains(name))
            {
                throw ShardingErrors.Refused($"{name}() over several shards",
                    name == "AVG" ? "select SUM(x) and COUNT(x) and divide, which the gateway merges exactly" : "only COUNT, SUM, MIN and MAX are combined across shards");
            }

            if (kind is null)
            {
                continue;
            }

            if (i != start || q.AfterGroup(i + 1) != end)
            {
                throw ShardingErrors.Refused($"the expression {q.Text(start, end)} over several shards", "an aggregate must be a select item of its own (COUNT(x), SUM(x), MIN(x), MAX(x)) to be combined");
            }

            if (q.Is(i + 2, SqlKeyword.Distinct))
            {
                throw ShardingErrors.Refused($"{name}(DISTINCT ...) over several shards", "distinct values cannot be counted from per-shard counts");
            }

            return kind;
        }

        return null;
    }

    private void GroupKeys(List<Item> items, int group, int groupEnd, MergeBuilder merge)
    {
        var q = _q;
        if (items.Exists(i => i.Star))
        {
            throw ShardingErrors.Refused("SELECT * with GROUP BY or aggregates over several shards", "name the grouped columns");
        }

        var groupColumns = new List<string>();
        if (group >= 0)
        {
            if (q.FindTop(group, groupEnd, SqlKeyword.With) < groupEnd)
            {
                throw ShardingErrors.Refused("GROUP BY ... WITH ROLLUP over several shards", "the rollup rows cannot be merged");
            }

            foreach (var (s, e) in q.SplitTop(group + 2, groupEnd))
            {
                var item = Resolve(items, s, e);
                var name = item is not null ? q.ColumnName(item.Start, item.ExprEnd) : q.ColumnName(s, e);
                if (name is null || item?.Aggregate is not null)
                {
                    throw ShardingErrors.Refused($"GROUP BY {q.Text(s, e)} over several shards", "the gateway merges groups of plain columns");
                }

                var expr = item is not null ? q.Text(item.Start, item.ExprEnd) : q.Text(s, e);
                var value = item is not null && item.Position >= 0 ? item.Position : Hide(expr);
                merge.GroupKeys.Add(new MergeKey(value, Hide("WEIGHT_STRING(" + expr + ")")));
                groupColumns.Add(name);
            }
        }

        foreach (var item in items)
        {
            if (item.Aggregate is null && (q.ColumnName(item.Start, item.ExprEnd) is not { } column || !groupColumns.Contains(column, StringComparer.OrdinalIgnoreCase)))
            {
                throw ShardingErrors.Refused($"the select item {q.Text(item.Start, item.End)} in a grouped SELECT over several shards",
                    "every item must be a GROUP BY column or COUNT/SUM/MIN/MAX, so each group's value is the same on every shard");
            }
        }
    }

    private void OrderKeys(List<Item> items, int from, int to, bool grouped, MergeBuilder merge)
    {
        var q = _q;
        foreach (var (s, e0) in q.SplitTop(from, to))
        {
            var e = e0;
            var descending = false;
            if (q.Is(e - 1, SqlKeyword.Desc) || q.Is(e - 1, SqlKeyword.Asc))
            {
                descending = q.Is(e - 1, SqlKeyword.Desc);
                e--;
            }

            var item = Resolve(items, s, e);
            if (grouped)
            {
                if (item is null)
                {
                    throw ShardingErrors.Refused($"ORDER BY {q.Text(s, e)} in a grouped SELECT over several shards", "order by a select item (a GROUP BY column or an aggregate)");
                }

                if (item.Aggregate is { } kind)
                {
                    var aggregate = merge.Aggregates.First(a => a.Column == item.Position);
                    merge.Order.Add(new MergeKey(item.Position, kind is AggregateKind.Min or AggregateKind.Max ? aggregate.WeightColumn : null, descending));
                }
                else
                {
                    merge.Order.Add(new MergeKey(item.Position, Hide("WEIGHT_STRING(" + q.Text(item.Start, item.ExprEnd) + ")"), descending));
                }

                continue;
            }

            var expr = item is not null ? q.Text(item.Start, item.ExprEnd) : q.Text(s, e);
            if (q.HasSubquery(s - 1, e))
            {
                throw ShardingErrors.Refused($"ORDER BY {q.Text(s, e)}", "a subquery cannot be merged across shards");
            }

            var value = item is not null && item.Position >= 0 ? item.Position : Hide(expr);
            merge.Order.Add(new MergeKey(value, Hide("WEIGHT_STRING(" + expr + ")"), descending));
        }
    }

    /// <summary>The select item an ORDER/GROUP BY term names: by position, alias, or the same expression text.</summary>
    private Item? Resolve(List<Item> items, int s, int e)
    {
        var q = _q;
        if (e - s == 1 && q.Tokens[s].Kind == SqlTokenKind.Number && int.TryParse(q.Text(s), NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal))
        {
            if (ordinal < 1 || ordinal > items.Count || items.Take(ordinal).Any(i => i.Star))
            {
                throw ShardingErrors.Refused($"ORDER/GROUP BY position {ordinal}", "over several shards the position must name one of the select items before any *; name the column");
            }

            return items[ordinal - 1];
        }

        if (e - s == 1 && q.Tokens[s].IsName)
        {
            var name = q.Tokens[s].Name(q.Sql);
            var byAlias = items.Find(i => i.Alias is not null && i.Alias.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (byAlias is not null)
            {
                return byAlias;
            }
        }

        var text = q.Normalized(s, e);
        var column = q.ColumnName(s, e);
        return items.Find(i => !i.Star && (q.Normalized(i.Start, i.ExprEnd) == text
                                           || (column is not null && i.Alias is null && q.ColumnName(i.Start, i.ExprEnd) is { } c && c.Equals(column, StringComparison.OrdinalIgnoreCase) && e - s == 1)));
    }

    private (long?, long) Limit(int from, int to)
    {
        var q = _q;
        long Number(int i) => q.IsKind(i, SqlTokenKind.Number) && long.TryParse(q.Text(i), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw ShardingErrors.Refused($"LIMIT {q.Text(from, to)} over several shards", "LIMIT and OFFSET must be plain numbers");

        if (to - from == 1)
        {
            return (Number(from), 0);
        }

        if (to - from == 3 && q.IsKind(from + 1, SqlTokenKind.Comma))
        {
            return (Number(from + 2), Number(from));
        }

        if (to - from == 3 && q.Is(from + 1, SqlKeyword.Offset))
        {
            return (Number(from), Number(from + 2));
        }

        throw ShardingErrors.Refused($"LIMIT {q.Text(from, to)} over several shards", "write LIMIT n, LIMIT m, n or LIMIT n OFFSET m");
    }
}
