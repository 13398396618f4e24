using MySqlConnector;
// Four type names exist in both clients; inside Durable.MySql.* the bare names bind to the own client's types.
using ConnectorConnection = MySqlConnector.MySqlConnection;
using ConnectorDataReader = MySqlConnector.MySqlDataReader;

namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// Reads an oracle table through MySqlConnector, the independent client: the connection options keep every value
/// readable (zero dates, 65-digit decimals through <c>GetMySqlDecimal</c>, TINYINT as a number, no GUID guessing), and
/// each column is taken with the typed getter its kind calls for.
/// </summary>
public static class ConnectorReader
{
    /// <summary>The connector's connection string for the server the own client's tests use.</summary>
    public static string ConnectionString(MySqlConnectionOptions own) => new MySqlConnectionStringBuilder
    {
        Server = own.Host,
        Port = (uint)own.Port,
        UserID = own.User,
        Password = own.Password,
        Database = own.Database ?? string.Empty,
        SslMode = MySqlSslMode.None,
        // Zero dates ('0000-00-00', '2024-00-00') are values the product moves; read them as MySqlDateTime, never DateTime.MinValue.
        AllowZeroDateTime = true,
        ConvertZeroDateTime = false,
        AllowUserVariables = true,
        TreatTinyAsBoolean = false,
        GuidFormat = MySqlGuidFormat.None,
        // A fresh session per test: a pooled one could carry a session variable or a lock from an earlier test.
        Pooling = false,
        IgnorePrepare = false,
    }.ConnectionString;

    /// <summary>Opens a connector session with the SELECT conventions of the own client's tests (UTC TIMESTAMPs).</summary>
    public static async Task<ConnectorConnection> OpenAsync(MySqlConnectionOptions own)
    {
        var connection = new ConnectorConnection(ConnectionString(own));
        await connection.OpenAsync();
        await using var command = new MySqlCommand("SET SESSION time_zone = '+00:00'", connection);
        await command.ExecuteNonQueryAsync();
        return connection;
    }

    /// <summary>Reads every row: the id and one cell per column of the table.</summary>
    public static async Task<List<(long Id, ConnectorCell[] Cells)>> ReadAsync(ConnectorConnection connection, OracleTable table, OracleProtocol protocol)
    {
        await using var command = new MySqlCommand(table.SelectSql, connection);
        if (protocol == OracleProtocol.Prepared)
        {
            await command.PrepareAsync();
        }

        var rows = new List<(long, ConnectorCell[])>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var cells = new ConnectorCell[table.Columns.Count];
            for (var i = 0; i < cells.Length; i++)
            {
                var (value, serverText) = table.Ordinals(i);
                cells[i] = new ConnectorCell(
                    reader.IsDBNull(value) ? null : Typed(reader, value, table.Columns[i].Kind),
                    serverText < 0 || reader.IsDBNull(serverText) ? null : reader.GetString(serverText));
            }

            rows.Add((Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture), cells));
        }

        return rows;
    }

    private static object Typed(ConnectorDataReader reader, int ordinal, OracleKind kind)
    {
        try
        {
            return kind switch
            {
                OracleKind.Integer => reader.GetValue(ordinal),
                OracleKind.Decimal => reader.GetMySqlDecimal(ordinal),
                OracleKind.Double => reader.GetDouble(ordinal),
                OracleKind.Float => reader.GetFloat(ordinal),
                OracleKind.Bit => reader.GetUInt64(ordinal),
                OracleKind.Year => reader.GetInt32(ordinal),
                OracleKind.Date or OracleKind.DateTime => reader.GetMySqlDateTime(ordinal),
                OracleKind.Time => reader.GetTimeSpan(ordinal),
                _ => reader.GetValue(ordinal),
            };
        }
        catch (Exception ex) when (ex is InvalidCastException or FormatException or OverflowException or InvalidOperationException or NotSupportedException)
        {
            // Kept as the value: the comparison reports it with the row and column instead of aborting the read.
            return ex;
        }
    }
}
