using System.Globalization;
using System.Text;
using Durable.Core.Vindexes;

namespace Durable.Routing.Sharding;

/// <summary>
/// A literal of a statement as a vindex sees it: integers, decimals, plain quoted strings (backslash escapes and doubled
/// quotes undone, as MySQL reads them under the default sql_mode), NULL, and a '?' placeholder's bound value. Anything
/// else (expressions, hex and introduced strings, functions) is not a literal the gateway evaluates.
/// </summary>
internal static class SqlLiteral
{
    /// <summary>
    /// Reads the literal spanning tokens [<paramref name="start"/>, <paramref name="end"/>): a value, or null when it is
    /// not one. <paramref name="parameters"/> are a prepared statement's bound values by placeholder ordinal.
    /// </summary>
    public static VindexValue? Read(ShardSql q, int start, int end, IReadOnlyList<VindexValue>? parameters)
    {
        var tokens = q.Tokens;
        if (end - start == 2 && tokens[start].Kind == SqlTokenKind.Operator && q.Text(start) is "-" && tokens[start + 1].Kind == SqlTokenKind.Number)
        {
            var negative = "-" + q.Text(start + 1);
            return long.TryParse(negative, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? VindexValue.FromInt64(n) : VindexValue.FromDecimalText(negative);
        }

        if (end - start != 1)
        {
            return null;
        }

        var token = tokens[start];
        switch (token.Kind)
        {
            case SqlTokenKind.Number:
            {
                var text = q.Text(start);
                if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || text.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
                {
                    return null;
                }

                if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var u))
                {
                    return u <= long.MaxValue ? VindexValue.FromInt64((long)u) : VindexValue.FromUInt64(u);
                }

                return text.Contains('e', StringComparison.OrdinalIgnoreCase) ? null : VindexValue.FromDecimalText(text);
            }

            case SqlTokenKind.String:
                return Unquote(q.Text(start)) is { } s ? VindexValue.FromText(s) : null;
            case SqlTokenKind.Identifier when token.Keyword == SqlKeyword.Null:
                return VindexValue.Null;
            case SqlTokenKind.Placeholder when parameters is not null:
            {
                var ordinal = q.PlaceholderOrdinal(start);
                return ordinal < parameters.Count ? parameters[ordinal] : null;
            }

            default:
                return null;
        }
    }

    /// <summary>The characters of a plain '..' or ".." literal; null for hex, bit, N'..' or _charset'..' forms.</summary>
    public static string? Unquote(string text)
    {
        if (text.Length < 2 || text[0] is not ('\'' or '"') || text[^1] != text[0])
        {
            return null;
        }

        var quote = text[0];
        var result = new StringBuilder(text.Length);
        for (var i = 1; i < text.Length - 1; i++)
        {
            var c = text[i];
            if (c == '\\' && i + 1 < text.Length - 1)
            {
                var next = text[++i];
                result.Append(next switch
                {
                    '0' => '\0',
                    'b' => '\b',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'Z' => '\u001A',
                    _ => next,
                });
                if (next is '%' or '_')
                {
                    result.Insert(result.Length - 1, '\\'); // MySQL keeps \% and \_ as written
                }
            }
            else if (c == quote && i + 1 < text.Length - 1 && text[i + 1] == quote)
            {
                result.Append(quote);
                i++;
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }

    /// <summary>A value as SQL text (what the gateway writes for a filled auto-increment value).</summary>
    public static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);
}
