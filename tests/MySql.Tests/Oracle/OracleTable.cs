namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// A table the oracle tests create, fill and read through both clients. Every table has an <c>id INT PRIMARY KEY</c>
/// that orders the rows and names them in mismatch reports; <see cref="Columns"/> lists the compared columns after it.
/// </summary>
public sealed record OracleTable(string Name, string CreateTable, IReadOnlyList<string> Inserts, IReadOnlyList<OracleColumn> Columns)
{
    /// <summary>The one SELECT both clients run: id, then each column followed by its hex expression where it has one.</summary>
    public string SelectSql =>
        "SELECT id, " + string.Join(", ", Columns.SelectMany(c => c.HexExpression is { } hex ? new[] { c.Name, hex } : [c.Name])) +
        $" FROM {Name} ORDER BY id";

    /// <summary>The ordinals of a column's value and hex expression (-1 without one) in <see cref="SelectSql"/>'s result.</summary>
    public (int Value, int Hex) Ordinals(int column)
    {
        var ordinal = 1;
        for (var i = 0; i < column; i++)
        {
            ordinal += Columns[i].HexExpression is null ? 1 : 2;
        }

        return (ordinal, Columns[column].HexExpression is null ? -1 : ordinal + 1);
    }

    public override string ToString() => Name;
}
