namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// What MySqlConnector read for one column of one row: the typed value its getter for the column's
/// <see cref="OracleKind"/> returned (null for NULL, the exception if the getter threw) and the string of the column's
/// <see cref="OracleColumn.ServerTextExpression"/> (null when NULL or when the column has none).
/// </summary>
public sealed record ConnectorCell(object? Value, string? ServerText);
