namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// How a column is compared between the own client and MySqlConnector: which typed getter the oracle uses and how its
/// value is rendered back into the SELECT text the own client holds.
/// </summary>
public enum OracleKind
{
    /// <summary>TINYINT..BIGINT, signed or unsigned: the boxed integer's invariant text.</summary>
    Integer,

    /// <summary>DECIMAL: <c>GetMySqlDecimal</c>'s text (it keeps all 65 digits; <c>decimal</c> would throw).</summary>
    Decimal,

    /// <summary>DOUBLE: the same IEEE bits.</summary>
    Double,

    /// <summary>FLOAT: the same IEEE bits over the text protocol; at FLOAT's 6 printed digits over the binary one.</summary>
    Float,

    /// <summary>BIT(n): the oracle's <c>ulong</c> as n/8 big-endian bytes.</summary>
    Bit,

    /// <summary>YEAR: four digits.</summary>
    Year,

    /// <summary>DATE: <c>GetMySqlDateTime</c> (zero dates included) as yyyy-mm-dd.</summary>
    Date,

    /// <summary>DATETIME/TIMESTAMP(fsp): <c>GetMySqlDateTime</c> with exactly fsp fraction digits.</summary>
    DateTime,

    /// <summary>TIME(fsp): the oracle's <c>TimeSpan</c> as [-]hhh:mm:ss with exactly fsp fraction digits.</summary>
    Time,

    /// <summary>Character columns (any charset; ENUM, SET, JSON, UUID, INET): bytes against HEX(CONVERT(col USING utf8mb4)), plus the string.</summary>
    Text,

    /// <summary>Binary strings (BINARY, VARBINARY, BLOB, GEOMETRY, CHARACTER SET binary): bytes against HEX(col), plus the byte array.</summary>
    Binary,
}
