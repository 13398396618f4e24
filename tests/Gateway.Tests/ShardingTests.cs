using System.Globalization;
using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;
using Durable.Testing;
using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>
/// Sharded keyspace customer_sharded through the gateway: a private table on both shards' primaries (300: -80, 400:
/// 80-) placed by a hash vindex on id in a private topology's VSchema, and the same rows in an unsharded copy in commerce.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ShardingTests
{
    private static readonly string[] Names = ["a", "A", "á", "b", "B", "é", "e", "E", "c", "ç", "z", "Z"];

    private static string ShardOf(long id) => KeyRange.ParseShard("-80").Contains(HashVindex.Hash((ulong)id)) ? "-80" : "80-";

    private static async Task<List<string>> RowsAsync(MySqlConnection c, string sql)
    {
        var rows = new List<string>();
        await using var reader = await new MySqlCommand(sql, c).ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    [Fact]
    public async Task Statements_route_by_the_vindex_scatter_merges_equal_the_unsharded_answer_and_bad_statements_are_refused()
    {
        var table = $"sh_{Guid.NewGuid():N}"[..20];
        var columns = "id BIGINT PRIMARY KEY, name VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, n INT";
        var vschema = "{\"sharded\": true, \"vindexes\": {\"hash\": {\"type\": \"hash\"}}, \"tables\": {\"" + table + "\": {\"column_vindexes\": [{\"column\": \"id\", \"name\": \"hash\"}]}}}";
        await using var left = await DirectTablet.OpenAsync("customer_sharded", "-80");
        await using var right = await DirectTablet.OpenAsync("customer_sharded", "80-");
        await using var copy = await DirectTablet.OpenAsync("commerce", "0");
        foreach (var c in new[] { left, right, copy })
        {
            await DirectTablet.ExecAsync(c, $"CREATE TABLE {table} ({columns})");
        }

        try
        {
            await using var gateway = await GatewayUnderTest.StartAsync(addToTopology: admin => admin.ApplyVSchemaAsync("customer_sharded", vschema));
            await using var client = new MySqlConnection(gateway.ConnectionString("customer_sharded"));
            await client.OpenAsync();

            var values = string.Join(", ", Names.Select((name, i) => $"({i + 1}, '{name}', {(i * 7) % 5})"));
            Assert.Equal(Names.Length, await new MySqlCommand($"INSERT INTO {table} (id, name, n) VALUES {values}", client).ExecuteNonQueryAsync());
            await DirectTablet.ExecAsync(copy, $"INSERT INTO {table} (id, name, n) VALUES {values}");

            // Every row is on the shard its keyspace id names, and only there.
            var onLeft = (await RowsAsync(left, $"SELECT id FROM {table} ORDER BY id")).Select(long.Parse).ToList();
            var onRight = (await RowsAsync(right, $"SELECT id FROM {table} ORDER BY id")).Select(long.Parse).ToList();
            Assert.NotEmpty(onLeft);
            Assert.NotEmpty(onRight);
            Assert.All(onLeft, id => Assert.Equal("-80", ShardOf(id)));
            Assert.All(onRight, id => Assert.Equal("80-", ShardOf(id)));
            Assert.Equal(Names.Length, onLeft.Count + onRight.Count);

            // A pinned UPDATE changes the row on its shard; a scatter DELETE sums the shards' affected rows.
            var leftId = onLeft[0];
            Assert.Equal(1, await new MySqlCommand($"UPDATE {table} SET n = n + 100 WHERE id = {leftId}", client).ExecuteNonQueryAsync());
            await DirectTablet.ExecAsync(copy, $"UPDATE {table} SET n = n + 100 WHERE id = {leftId}");
            Assert.Equal([$"{leftId}|{100 + (((int)leftId - 1) * 7 % 5)}"], await RowsAsync(left, $"SELECT id, n FROM {table} WHERE id = {leftId}"));

            foreach (var query in new[]
                     {
                         $"SELECT id, name, n FROM {table} ORDER BY name, id",
                         $"SELECT id, name FROM {table} ORDER BY name DESC, id DESC LIMIT 3 OFFSET 2",
                         $"SELECT id FROM {table} ORDER BY n DESC, id LIMIT 5",
                         $"SELECT COUNT(*), SUM(n), MIN(id), MAX(id) FROM {table}",
                         $"SELECT n, COUNT(*), SUM(id) FROM {table} GROUP BY n ORDER BY n",
                         $"SELECT id, name FROM {table} WHERE id IN (1, 2, 3, 4) ORDER BY id",
                     })
            {
                Assert.Equal(await RowsAsync(copy, query), await RowsAsync(client, query));
            }

            // Groups and MIN/MAX of text follow the collation ('a', 'A' and 'á' are one group): compare by weight.
            var grouped = $"SELECT name, COUNT(*), MIN(name) FROM {table} GROUP BY name ORDER BY name";
            var expected = await RowsAsync(copy, grouped);
            var actual = await RowsAsync(client, grouped);
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(0, string.Compare(expected[i], actual[i], CultureInfo.InvariantCulture, CompareOptions.IgnoreCase | CompareOptions.IgnoreNonSpace));
            }

            // A transaction over both shards: ROLLBACK leaves nothing, COMMIT keeps both rows.
            var (a, b) = (Enumerable.Range(1000, 100).First(i => ShardOf(i) == "-80"), Enumerable.Range(1000, 100).First(i => ShardOf(i) == "80-"));
            await DirectTablet.ExecAsync(client, "BEGIN");
            await DirectTablet.ExecAsync(client, $"INSERT INTO {table} (id, name, n) VALUES ({a}, 'x', 1), ({b}, 'y', 2)");
            await DirectTablet.ExecAsync(client, "ROLLBACK");
            Assert.Empty(await RowsAsync(left, $"SELECT id FROM {table} WHERE id = {a}"));
            Assert.Empty(await RowsAsync(right, $"SELECT id FROM {table} WHERE id = {b}"));
            await DirectTablet.ExecAsync(client, "BEGIN");
            await DirectTablet.ExecAsync(client, $"INSERT INTO {table} (id, name, n) VALUES ({a}, 'x', 1)");
            await DirectTablet.ExecAsync(client, $"INSERT INTO {table} (id, name, n) VALUES ({b}, 'y', 2)");
            await DirectTablet.ExecAsync(client, "COMMIT");
            Assert.Single(await RowsAsync(left, $"SELECT id FROM {table} WHERE id = {a}"));
            Assert.Single(await RowsAsync(right, $"SELECT id FROM {table} WHERE id = {b}"));

            // Refusals: clear errors, nothing changed.
            var moved = await Assert.ThrowsAsync<MySqlException>(() => DirectTablet.ExecAsync(client, $"UPDATE {table} SET id = 5000 WHERE id = {a}"));
            Assert.Equal(1235, moved.Number);
            Assert.Contains("primary vindex column", moved.Message, StringComparison.Ordinal);
            var join = await Assert.ThrowsAsync<MySqlException>(() => RowsAsync(client, $"SELECT * FROM {table} x JOIN {table} y ON x.id = y.id"));
            Assert.Contains($"join of sharded tables {table}", join.Message, StringComparison.Ordinal);
            Assert.Single(await RowsAsync(left, $"SELECT id FROM {table} WHERE id = {a}"));
        }
        finally
        {
            foreach (var c in new[] { left, right, copy })
            {
                await DirectTablet.ExecAsync(c, $"DROP TABLE IF EXISTS {table}");
            }
        }
    }
}
