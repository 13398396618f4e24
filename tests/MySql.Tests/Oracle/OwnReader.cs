namespace Durable.MySql.Tests.Oracle;

/// <summary>Reads an oracle table through the project's own client: text rows (COM_QUERY) or a prepared statement's binary rows.</summary>
public static class OwnReader
{
    public static async Task<List<MySqlValue[]>> ReadAsync(MySqlConnection connection, OracleTable table, OracleProtocol protocol)
    {
        var rows = new List<MySqlValue[]>();
        if (protocol == OracleProtocol.Text)
        {
            await using var reader = await connection.QueryAsync(table.SelectSql);
            await CollectAsync(reader, rows);
        }
        else
        {
            await using var statement = await connection.PrepareAsync(table.SelectSql);
            await using var reader = await statement.ExecuteReaderAsync([]);
            await CollectAsync(reader, rows);
        }

        return rows;
    }

    private static async Task CollectAsync(MySqlDataReader reader, List<MySqlValue[]> rows)
    {
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetRow());
        }
    }
}
