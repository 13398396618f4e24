namespace Durable.Routing.Sharding;

/// <summary>
/// A statement text lexed for shard planning, with the token walks the planner needs: the top-level (parenthesis
/// depth 0) position of a clause keyword, the end of a parenthesised group, the text of a token range.
/// </summary>
internal sealed class ShardSql
{
    private int[]? _placeholders;

    public ShardSql(string sql)
    {
        Sql = sql;
        SqlLexer.Tokenize(sql, Tokens);
        Count = Tokens.Count - 1; // the End token
        while (Count > 0 && Tokens[Count - 1].Kind == SqlTokenKind.Semicolon)
        {
            Count--;
        }
    }

    public string Sql { get; }

    public List<SqlToken> Tokens { get; } = [];

    /// <summary>The number of tokens before End and any trailing ';'.</summary>
    public int Count { get; }

    public string Text(int token) => Sql.Substring(Tokens[token].Start, Tokens[token].Length);

    /// <summary>The text from the start of token <paramref name="start"/> to the end of token <paramref name="end"/>-1.</summary>
    public string Text(int start, int end) => end <= start ? string.Empty : Sql[Tokens[start].Start..Tokens[end - 1].End];

    public bool Is(int token, SqlKeyword keyword) => token < Count && Tokens[token].Is(keyword);

    public bool IsKind(int token, SqlTokenKind kind) => token < Count && Tokens[token].Kind == kind;

    /// <summary>The index after the ')' that closes the '(' at <paramref name="open"/>.</summary>
    public int AfterGroup(int open)
    {
        var depth = 0;
        for (var i = open; i < Count; i++)
        {
            if (Tokens[i].Kind == SqlTokenKind.LeftParen)
            {
                depth++;
            }
            else if (Tokens[i].Kind == SqlTokenKind.RightParen && --depth == 0)
            {
                return i + 1;
            }
        }

        throw SqlErrors.Syntax(Sql, Tokens[open].Start, "a '(' is not closed");
    }

    /// <summary>The first top-level token in [from, to) that is one of <paramref name="keywords"/>; <paramref name="to"/> if none.</summary>
    public int FindTop(int from, int to, params ReadOnlySpan<SqlKeyword> keywords)
    {
        for (var i = from; i < to; i++)
        {
            if (Tokens[i].Kind == SqlTokenKind.LeftParen)
            {
                i = AfterGroup(i) - 1;
                continue;
            }

            if (Tokens[i].Kind == SqlTokenKind.Identifier && keywords.Contains(Tokens[i].Keyword))
            {
                return i;
            }
        }

        return to;
    }

    /// <summary>Splits [from, to) at top-level commas into (start, end) ranges.</summary>
    public List<(int Start, int End)> SplitTop(int from, int to)
    {
        var items = new List<(int, int)>();
        var start = from;
        for (var i = from; i < to; i++)
        {
            if (Tokens[i].Kind == SqlTokenKind.LeftParen)
            {
                i = AfterGroup(i) - 1;
            }
            else if (Tokens[i].Kind == SqlTokenKind.Comma)
            {
                items.Add((start, i));
                start = i + 1;
            }
        }

        if (to > start)
        {
            items.Add((start, to));
        }

        return items;
    }

    /// <summary>True when [from, to) holds a nested SELECT (a subquery, derived table or IN (SELECT ...)).</summary>
    public bool HasSubquery(int from, int to)
    {
        for (var i = from + 1; i < to; i++)
        {
            if (Tokens[i].Is(SqlKeyword.Select) && Tokens[i - 1].Kind == SqlTokenKind.LeftParen)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Which '?' of the text (0-based) token <paramref name="token"/> is.</summary>
    public int PlaceholderOrdinal(int token)
    {
        _placeholders ??= [.. Enumerable.Range(0, Count).Where(i => Tokens[i].Kind == SqlTokenKind.Placeholder)];
        return Array.IndexOf(_placeholders, token);
    }

    /// <summary>
    /// A column reference <c>[qualifier.]name</c> spanning [start, end) exactly: its name (unquoted), else null.
    /// </summary>
    public string? ColumnName(int start, int end)
    {
        if (end - start == 1 && Tokens[start].IsName && !SqlKeywords.IsReserved(Tokens[start].Keyword))
        {
            return Tokens[start].Name(Sql);
        }

        if (end - start is 3 or 5 && Tokens[end - 1].IsName && Tokens[end - 2].Kind == SqlTokenKind.Dot)
        {
            for (var i = start; i < end - 1; i += 2)
            {
                if (!Tokens[i].IsName || Tokens[i + 1].Kind != SqlTokenKind.Dot)
                {
                    return null;
                }
            }

            return Tokens[end - 1].Name(Sql);
        }

        return null;
    }

    /// <summary>The text of [start, end) with whitespace normalised and case folded, to compare expressions as written.</summary>
    public string Normalized(int start, int end)
    {
        var parts = new List<string>(end - start);
        for (var i = start; i < end; i++)
        {
            parts.Add(Tokens[i].Kind == SqlTokenKind.QuotedIdentifier ? Tokens[i].Name(Sql).ToLowerInvariant() : Text(i).ToLowerInvariant());
        }

        return string.Join(' ', parts);
    }
}
