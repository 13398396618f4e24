namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// One column of an oracle table: its name, how it is compared, and the width a comparison needs (BIT's bit count,
/// the fractional digits of temporal types; 0 otherwise).
/// </summary>
public sealed record OracleColumn(string Name, OracleKind Kind, int Width = 0)
{
    /// <summary>
    /// The server-side expression both clients select beside the column for byte-exact checks: the bytes a utf8mb4
    /// session receives for a character column, the stored bytes for a binary one; null for the other kinds.
    /// </summary>
    public string? HexExpression => Kind switch
    {
        OracleKind.Text => $"HEX(CONVERT({Name} USING utf8mb4))",
        OracleKind.Binary => $"HEX({Name})",
        _ => null,
    };
}
