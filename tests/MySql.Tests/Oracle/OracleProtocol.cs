namespace Durable.MySql.Tests.Oracle;

/// <summary>Which protocol both clients read through: COM_QUERY text rows, or prepared statements' binary rows.</summary>
public enum OracleProtocol
{
    Text,
    Prepared,
}
