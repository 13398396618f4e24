namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// A table the oracle tests create, fill and read through both clients. Every table has an <c>id INT PRIMARY KEY</c>
/// that orders the rows and names them in mismatch reports; <see cref="Columns"/> lists the compared columns after it.
/// </summary>
public sealed record OracleTable(string Name, string CreateTable, IReadOnlyList<string> Inserts, IReadOnlyList<OracleColumn> Columns)
{
    /// <summary>The one SELECT both clients run: id, then each column followed by its server text expression where it has one.</summary>
    public string SelectSql =>
        "SELECT id, " + string.Join(", ", Columns.SelectMany(c => c.ServerTextExpression is { } text ? new[] { c.Name, text } : [c.Name])) +
        $" FROM {Name} ORDER BY id";

    /// <summary>The ordinals of a column's value and server text expression (-1 without one) in <see cref="SelectSql"/>'s result.</summary>
    public (int Value, int ServerText) Ordinals(int column)
    {
        var ordinal = 1;
        for (var i = 0; i < column; i++)
        {
            ordinal += Columns[i].ServerTextExpression is null ? 1 : 2;
        }

        return (ordinal, Columns[column].ServerTextExpression is null ? -1 : ordinal + 1);
    }

    public override string ToString() => Name;
}
