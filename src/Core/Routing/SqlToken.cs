namespace Durable.Routing;

/// <summary>
/// One token of a statement: where it is in the text (<see cref="Start"/>, <see cref="Length"/>), and for identifiers the
/// name's characters (<see cref="ValueStart"/>, <see cref="ValueLength"/>: inside the backticks for a quoted one;
/// <see cref="Escaped"/> when they contain a doubled backtick, so the name must be unescaped to be read).
/// </summary>
internal readonly record struct SqlToken(SqlTokenKind Kind, SqlKeyword Keyword, int Start, int Length, int ValueStart, int ValueLength, bool Escaped)
{
    public int End => Start + Length;

    public bool IsName => Kind is SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier;

    public bool Is(SqlKeyword keyword) => Kind == SqlTokenKind.Identifier && Keyword == keyword;

    /// <summary>The name an identifier token stands for (quotes removed, doubled backticks undone); allocates only when escaped.</summary>
    public ReadOnlySpan<char> NameSpan(string sql) => sql.AsSpan(ValueStart, ValueLength);

    public string Name(string sql) => Escaped ? sql.Substring(ValueStart, ValueLength).Replace("``", "`", StringComparison.Ordinal) : sql.Substring(ValueStart, ValueLength);
}
