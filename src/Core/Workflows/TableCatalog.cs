using Durable.MySql;

namespace Durable.Workflows;

/// <summary>What a tablet's information_schema says about the tables of one database.</summary>
public static class TableCatalog
{
    /// <summary>The database's table names, in name order.</summary>
    public static async Task<List<string>> ListTablesAsync(MySqlConnection c, string db, CancellationToken ct)
    {
        var result = new List<string>();
        await using var r = await c.QueryAsync(
            $"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c.Quoter.String(db)} ORDER BY TABLE_NAME", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(r.GetString(0)!);
        }

        return result;
    }

    /// <summary>The server's row estimate of each table (0 for a table it does not list).</summary>
    public static async Task<Dictionary<string, long>> EstimateRowsAsync(MySqlConnection c, string db, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var result = tables.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        await using var r = await c.QueryAsync(
            $"SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c.Quoter.String(db)} " +
            $"AND TABLE_NAME IN ({string.Join(", ", tables.Select(c.Quoter.String))})", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result[r.GetString(0)!] = r.GetInt64(1);
        }

        return result;
    }
}
