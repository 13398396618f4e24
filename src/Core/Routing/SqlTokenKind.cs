namespace Durable.Routing;

/// <summary>What a lexed piece of statement text is (see <see cref="SqlLexer"/>).</summary>
internal enum SqlTokenKind : byte
{
    End,
    /// <summary>A plain identifier or keyword (<see cref="SqlToken.Keyword"/> says which keyword, if any).</summary>
    Identifier,
    /// <summary>A backtick-quoted identifier; never a keyword.</summary>
    QuotedIdentifier,
    /// <summary>'..' or ".." (with an optional _charset introducer or N prefix), X'..', B'..'.</summary>
    String,
    /// <summary>Integers, decimals, 0x.. and 0b.. literals.</summary>
    Number,
    /// <summary>@name, @'name', @`name`.</summary>
    UserVariable,
    /// <summary>@@name (a scope such as global. follows as Dot and Identifier tokens).</summary>
    SystemVariable,
    /// <summary>A ? placeholder of a prepared statement.</summary>
    Placeholder,
    LeftParen,
    RightParen,
    Comma,
    Semicolon,
    Dot,
    Star,
    /// <summary>:= (assignment in expressions).</summary>
    Assign,
    /// <summary>= and every other operator.</summary>
    Operator,
}
