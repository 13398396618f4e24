using Durable.MySql;

namespace Durable.Workflows;

/// <summary>The AUTO_INCREMENT column of each of a set of tables, read from a server's catalog.</summary>
public static class AutoIncrementColumns
{
    /// <summary>Table name to its AUTO_INCREMENT column, for those of <paramref name="tables"/> in <paramref name="db"/> that have one.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ReadAsync(MySqlConnection c, string db, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var columns = new Dictionary<string, string>(StringComparer.Ordinal);
        if (tables.Count == 0)
        {
            return columns;
        }

        var q = c.Quoter;
        await using var r = await c.QueryAsync(
            $"SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {q.String(db)} " +
            $"AND EXTRA LIKE '%auto_increment%' AND TABLE_NAME IN ({string.Join(", ", tables.Select(q.String))})", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            columns[r.GetString(0)!] = r.GetString(1)!;
        }

        return columns;
    }
}
