namespace Durable.Routing;

/// <summary>
/// One pass over a statement's text into tokens, as MariaDB reads it with its default sql_mode (backslash escapes on,
/// ANSI_QUOTES off: "..." is a string). Comments are skipped, except executable comments (<c>/*! ... */</c>,
/// <c>/*!50700 ... */</c>, MariaDB's <c>/*M!100100 ... */</c>) whose contents MySQL runs as part of the statement, so
/// they are tokens here too; their openers and closers are skipped and left in the text untouched.
/// </summary>
internal static class SqlLexer
{
    public static void Tokenize(string sql, List<SqlToken> tokens)
    {
        tokens.Clear();
        var executable = 0;
        var i = 0;
        var n = sql.Length;
        while (true)
        {
            i = SkipSpaceAndComments(sql, i, ref executable);
            if (i >= n)
            {
                if (executable > 0)
                {
                    throw SqlErrors.Syntax(sql, n, "an executable comment /*! is not closed with */");
                }

                tokens.Add(new SqlToken(SqlTokenKind.End, SqlKeyword.None, n, 0, n, 0, false));
                return;
            }

            var c = sql[i];
            var start = i;
            switch (c)
            {
                case '(':
                    tokens.Add(Simple(SqlTokenKind.LeftParen, i++));
                    continue;
                case ')':
                    tokens.Add(Simple(SqlTokenKind.RightParen, i++));
                    continue;
                case ',':
                    tokens.Add(Simple(SqlTokenKind.Comma, i++));
                    continue;
                case ';':
                    tokens.Add(Simple(SqlTokenKind.Semicolon, i++));
                    continue;
                case '?':
                    tokens.Add(Simple(SqlTokenKind.Placeholder, i++));
                    continue;
                case '*':
                    tokens.Add(Simple(SqlTokenKind.Star, i++));
                    continue;
                case '`':
                    i = QuotedIdentifier(sql, i, tokens);
                    continue;
                case '\'' or '"':
                    i = StringEnd(sql, i);
                    tokens.Add(new SqlToken(SqlTokenKind.String, SqlKeyword.None, start, i - start, start, i - start, false));
                    continue;
                case '@':
                    i = Variable(sql, i, tokens);
                    continue;
                case '.':
                    if (i + 1 < n && char.IsAsciiDigit(sql[i + 1]) && !AfterName(tokens))
                    {
                        i = NumberEnd(sql, i);
                        tokens.Add(new SqlToken(SqlTokenKind.Number, SqlKeyword.None, start, i - start, start, i - start, false));
                    }
                    else
                    {
                        tokens.Add(Simple(SqlTokenKind.Dot, i++));
                    }

                    continue;
            }

            if (IsWordChar(c))
            {
                i = Word(sql, i, tokens);
                continue;
            }

            i = OperatorEnd(sql, i);
            var kind = i - start == 2 && sql[start] == ':' && sql[start + 1] == '=' ? SqlTokenKind.Assign : SqlTokenKind.Operator;
            tokens.Add(new SqlToken(kind, SqlKeyword.None, start, i - start, start, i - start, false));
        }
    }

    private static SqlToken Simple(SqlTokenKind kind, int at) => new(kind, SqlKeyword.None, at, 1, at, 1, false);

    private static bool AfterName(List<SqlToken> tokens) =>
        tokens.Count > 0 && tokens[^1].Kind is SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier;

    public static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '$' || c >= '\u0080';

    private static int SkipSpaceAndComments(string sql, int i, ref int executable)
    {
        var n = sql.Length;
        while (i < n)
        {
            var c = sql[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '#' || (c == '-' && i + 1 < n && sql[i + 1] == '-' && (i + 2 == n || char.IsWhiteSpace(sql[i + 2]) || char.IsControl(sql[i + 2]))))
            {
                // '-- ' needs the space (or control character) after it: "--1" is minus minus one, as in MySQL.
                while (i < n && sql[i] != '\n')
                {
                    i++;
                }
            }
            else if (c == '/' && i + 1 < n && sql[i + 1] == '*')
            {
                var opener = i;
                if (i + 2 < n && (sql[i + 2] == '!' || (sql[i + 2] == 'M' && i + 3 < n && sql[i + 3] == '!')))
                {
                    // An executable comment: MySQL runs its contents (after an optional version number) as statement text.
                    i += sql[i + 2] == '!' ? 3 : 4;
                    while (i < n && char.IsAsciiDigit(sql[i]))
                    {
                        i++;
                    }

                    executable++;
                    continue;
                }

                var close = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw SqlErrors.Syntax(sql, opener, "the comment /* is not closed with */");
                }

                i = close + 2;
            }
            else if (c == '*' && executable > 0 && i + 1 < n && sql[i + 1] == '/')
            {
                executable--;
                i += 2;
            }
            else
            {
                break;
            }
        }

        return i;
    }

    private static int QuotedIdentifier(string sql, int i, List<SqlToken> tokens)
    {
        var start = i;
        var escaped = false;
        i++;
        while (true)
        {
            if (i >= sql.Length)
            {
                throw SqlErrors.Syntax(sql, start, "the quoted identifier ` is not closed");
            }

            if (sql[i] == '`')
            {
                if (i + 1 < sql.Length && sql[i + 1] == '`')
                {
                    escaped = true;
                    i += 2;
                    continue;
                }

                break;
            }

            i++;
        }

        tokens.Add(new SqlToken(SqlTokenKind.QuotedIdentifier, SqlKeyword.None, start, i + 1 - start, start + 1, i - start - 1, escaped));
        return i + 1;
    }

    /// <summary>The end of a '..' or ".." string: backslash escapes and doubled quotes.</summary>
    private static int StringEnd(string sql, int i)
    {
        var start = i;
        var quote = sql[i++];
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c == '\\')
            {
                i += 2;
                continue;
            }

            if (c == quote)
            {
                if (i + 1 < sql.Length && sql[i + 1] == quote)
                {
                    i += 2;
                    continue;
                }

                return i + 1;
            }

            i++;
        }

        throw SqlErrors.Syntax(sql, start, $"the string starting with {quote} is not closed");
    }

    private static int Variable(string sql, int i, List<SqlToken> tokens)
    {
        var start = i;
        if (i + 1 < sql.Length && sql[i + 1] == '@')
        {
            i += 2;
            var nameStart = i;
            while (i < sql.Length && IsWordChar(sql[i]))
            {
                i++;
            }

            if (i == nameStart)
            {
                throw SqlErrors.Syntax(sql, start, "@@ must be followed by a system variable name");
            }

            tokens.Add(new SqlToken(SqlTokenKind.SystemVariable, SqlKeyword.None, start, i - start, nameStart, i - nameStart, false));
            return i;
        }

        i++;
        if (i < sql.Length && sql[i] is '\'' or '"')
        {
            i = StringEnd(sql, i);
        }
        else if (i < sql.Length && sql[i] == '`')
        {
            var scratch = new List<SqlToken>(1);
            i = QuotedIdentifier(sql, i, scratch);
        }
        else
        {
            while (i < sql.Length && (IsWordChar(sql[i]) || sql[i] == '.'))
            {
                i++;
            }
        }

        if (i == start + 1)
        {
            throw SqlErrors.Syntax(sql, start, "@ must be followed by a user variable name");
        }

        tokens.Add(new SqlToken(SqlTokenKind.UserVariable, SqlKeyword.None, start, i - start, start + 1, i - start - 1, false));
        return i;
    }

    private static int Word(string sql, int i, List<SqlToken> tokens)
    {
        var start = i;
        var n = sql.Length;
        var c = sql[i];

        // X'..', B'..', N'..' literals; _charset'..' introducers make one string literal with the string after them.
        if (i + 1 < n && sql[i + 1] == '\'' && c is 'x' or 'X' or 'b' or 'B' or 'n' or 'N')
        {
            i = StringEnd(sql, i + 1);
            tokens.Add(new SqlToken(SqlTokenKind.String, SqlKeyword.None, start, i - start, start, i - start, false));
            return i;
        }

        if (char.IsAsciiDigit(c))
        {
            var numberEnd = NumberEnd(sql, i);
            if (numberEnd >= n || !IsWordChar(sql[numberEnd]))
            {
                tokens.Add(new SqlToken(SqlTokenKind.Number, SqlKeyword.None, start, numberEnd - start, start, numberEnd - start, false));
                return numberEnd;
            }
        }

        while (i < n && IsWordChar(sql[i]))
        {
            i++;
        }

        if (c == '_' && i < n && sql[i] is '\'' or '"')
        {
            i = StringEnd(sql, i);
            tokens.Add(new SqlToken(SqlTokenKind.String, SqlKeyword.None, start, i - start, start, i - start, false));
            return i;
        }

        var word = sql.AsSpan(start, i - start);
        if (char.IsAsciiDigit(c) && IsHexOrBitLiteral(word))
        {
            tokens.Add(new SqlToken(SqlTokenKind.Number, SqlKeyword.None, start, i - start, start, i - start, false));
            return i;
        }

        tokens.Add(new SqlToken(SqlTokenKind.Identifier, SqlKeywords.Find(word), start, i - start, start, i - start, false));
        return i;
    }

    private static bool IsHexOrBitLiteral(ReadOnlySpan<char> word)
    {
        if (word.Length > 2 && word[0] == '0' && word[1] == 'x')
        {
            foreach (var ch in word[2..])
            {
                if (!char.IsAsciiHexDigit(ch))
                {
                    return false;
                }
            }

            return true;
        }

        if (word.Length > 2 && word[0] == '0' && word[1] == 'b')
        {
            foreach (var ch in word[2..])
            {
                if (ch is not ('0' or '1'))
                {
                    return false;
                }
            }

            return true;
        }

        return false;
    }

    /// <summary>Digits, an optional fraction and an optional exponent (1, 1.5, .5, 1e10, 1.5E-3).</summary>
    private static int NumberEnd(string sql, int i)
    {
        var n = sql.Length;
        while (i < n && char.IsAsciiDigit(sql[i]))
        {
            i++;
        }

        if (i < n && sql[i] == '.')
        {
            i++;
            while (i < n && char.IsAsciiDigit(sql[i]))
            {
                i++;
            }
        }

        if (i + 1 < n && sql[i] is 'e' or 'E' && (char.IsAsciiDigit(sql[i + 1]) || (sql[i + 1] is '+' or '-' && i + 2 < n && char.IsAsciiDigit(sql[i + 2]))))
        {
            i += 2;
            while (i < n && char.IsAsciiDigit(sql[i]))
            {
                i++;
            }
        }

        return i;
    }

    private static int OperatorEnd(string sql, int i)
    {
        var n = sql.Length;
        var c = sql[i];
        var next = i + 1 < n ? sql[i + 1] : '\0';
        switch (c)
        {
            case ':' when next == '=':
            case '>' when next is '=' or '>':
            case '!' when next == '=':
            case '&' when next == '&':
            case '|' when next == '|':
                return i + 2;
            case '<' when next == '=' && i + 2 < n && sql[i + 2] == '>':
                return i + 3;
            case '<' when next is '=' or '>' or '<':
                return i + 2;
            case '-' when next == '>':
                return i + 2 < n && sql[i + 2] == '>' ? i + 3 : i + 2;
            default:
                return i + 1;
        }
    }
}
