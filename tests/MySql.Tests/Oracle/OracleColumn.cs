namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// One column of an oracle table: its name, how it is compared, and the width a comparison needs (BIT's bit count,
/// the fractional digits of temporal types, the D of the display-width forms FLOAT(M,D)/DOUBLE(M,D); 0 otherwise).
/// </summary>
public sealed record OracleColumn(string Name, OracleKind Kind, int Width = 0)
{
    /// <summary>
    /// A server-side expression both clients select beside the column, read as a plain string, so that MySqlConnector
    /// can check what it cannot read itself: the hex of the bytes a utf8mb4 session receives for a character column
    /// and of the stored bytes for a binary one (no byte-exact text reads in MySqlConnector), and the server's printed
    /// text of a FLOAT/DOUBLE (MySqlConnector parses it into a number; the own client must print binary rows the
    /// same way); null for the other kinds.
    /// </summary>
    public string? ServerTextExpression => Kind switch
    {
        OracleKind.Text => $"HEX(CONVERT({Name} USING utf8mb4))",
        OracleKind.Binary => $"HEX({Name})",
        OracleKind.Float or OracleKind.Double => $"CAST({Name} AS CHAR)",
        _ => null,
    };

    /// <summary>Whether <see cref="ServerTextExpression"/> is the hex of the value's bytes (else it is the value's text).</summary>
    public bool ServerTextIsHex => Kind is OracleKind.Text or OracleKind.Binary;
}
