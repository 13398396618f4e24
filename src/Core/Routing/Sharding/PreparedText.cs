using System.Text;

namespace Durable.Routing.Sharding;

/// <summary>
/// A prepared statement's text with its bound values written in place of the '?' placeholders, so an execute on a
/// sharded keyspace is planned and run as the same statement sent as a plain query (vtgate binds a prepared
/// statement's values into its plan the same way). Only placeholder tokens are replaced: a '?' inside a string,
/// comment or quoted name stays.
/// </summary>
public static class PreparedText
{
    /// <summary>Where the placeholders of the statement text are (character offsets, in order): read once per statement.</summary>
    public static int[] Placeholders(string sql)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);
        return [.. tokens.Where(t => t.Kind == SqlTokenKind.Placeholder).Select(t => t.Start)];
    }

    /// <param name="sql">The client's statement text.</param>
    /// <param name="placeholders">Its <see cref="Placeholders"/>.</param>
    /// <param name="literals">One SQL literal per placeholder, in order (already quoted and escaped).</param>
    public static string Inline(string sql, IReadOnlyList<int> placeholders, IReadOnlyList<string> literals)
    {
        if (placeholders.Count != literals.Count)
        {
            throw new GatewaySqlException(1210, "HY000",
                $"Incorrect arguments to mysqld_stmt_execute: the statement has {placeholders.Count} placeholders but {literals.Count} values were bound");
        }

        var text = new StringBuilder(sql.Length + literals.Sum(l => l.Length));
        var at = 0;
        for (var i = 0; i < placeholders.Count; i++)
        {
            text.Append(sql, at, placeholders[i] - at).Append(literals[i]);
            at = placeholders[i] + 1;
        }

        return text.Append(sql, at, sql.Length - at).ToString();
    }
}
