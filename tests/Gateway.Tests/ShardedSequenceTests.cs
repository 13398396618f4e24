using System.Collections.Concurrent;
using System.Globalization;
using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;
using Durable.Testing;
using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>
/// Inserts into a sharded table whose VSchema names a sequence, from 8 sessions at once through the gateway: every
/// id comes from the sequence, none is used twice across the shards, each row is on the shard its id hashes to, and
/// every id is above the sequence's starting value (what --initialize-target-sequences sets above the existing ids);
/// plain queries and prepared statements alike.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ShardedSequenceTests
{
    [Fact]
    public async Task Eight_sessions_inserting_through_the_gateway_get_unique_ids_across_the_shards()
    {
        const int sessions = 8, perSession = 40, start = 7000;
        var table = $"sq_{Guid.NewGuid():N}"[..20];
        var sequence = table + "_seq";
        var vschema = "{\"sharded\": true, \"vindexes\": {\"hash\": {\"type\": \"hash\"}}, \"tables\": {\"" + table +
                      "\": {\"column_vindexes\": [{\"column\": \"id\", \"name\": \"hash\"}], \"auto_increment\": {\"column\": \"id\", \"sequence\": \"commerce." + sequence + "\"}}}}";
        await using var global = await DirectTablet.OpenAsync("commerce", "0");
        await using var left = await DirectTablet.OpenAsync("customer_sharded", "-80");
        await using var right = await DirectTablet.OpenAsync("customer_sharded", "80-");
        await DirectTablet.ExecAsync(global, $"CREATE TABLE {sequence} (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'");
        await DirectTablet.ExecAsync(global, $"INSERT INTO {sequence} VALUES (0, {start}, 16)");
        await DirectTablet.ExecAsync(left, $"CREATE TABLE {table} (id BIGINT PRIMARY KEY, sid INT, n INT)");
        await DirectTablet.ExecAsync(right, $"CREATE TABLE {table} (id BIGINT PRIMARY KEY, sid INT, n INT)");
        try
        {
            await using var gateway = await GatewayUnderTest.StartAsync(addToTopology: a => a.ApplyVSchemaAsync("customer_sharded", vschema));
            var insertIds = new ConcurrentBag<long>();
            await Task.WhenAll(Enumerable.Range(0, sessions).Select(s => Task.Run(async () =>
            {
                // Half the sessions send server-side prepared statements (COM_STMT_EXECUTE, the NULL a bound value).
                var prepared = s % 2 == 1;
                await using var client = new MySqlConnection(gateway.ConnectionString("customer_sharded", prepared ? "IgnorePrepare=false;" : ""));
                await client.OpenAsync();
                for (var n = 0; n < perSession; n++)
                {
                    // Alternately an absent column and an explicit NULL: both are filled from the sequence.
                    var sql = n % 2 == 0
                        ? $"INSERT INTO {table} (sid, n) VALUES (@sid, @n)"
                        : $"INSERT INTO {table} (id, sid, n) VALUES (@id, @sid, @n)";
                    await using var command = new MySqlCommand(sql, client);
                    command.Parameters.AddWithValue("@id", null);
                    command.Parameters.AddWithValue("@sid", s);
                    command.Parameters.AddWithValue("@n", n);
                    if (prepared)
                    {
                        await command.PrepareAsync();
                    }

                    await command.ExecuteNonQueryAsync();
                    insertIds.Add(command.LastInsertedId);
                }
            })));

            var rows = new List<(long Id, string Shard)>();
            foreach (var (connection, shard) in new[] { (left, "-80"), (right, "80-") })
            {
                await using var reader = await new MySqlCommand($"SELECT id FROM {table}", connection).ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows.Add((reader.GetInt64(0), shard));
                }
            }

            Assert.Equal(sessions * perSession, rows.Count);
            Assert.Equal(rows.Count, rows.Select(r => r.Id).Distinct().Count());
            Assert.All(rows, r => Assert.True(r.Id >= start, $"id {r.Id} is below the sequence's start {start}"));
            Assert.All(rows, r => Assert.Equal(KeyRange.ParseShard("-80").Contains(HashVindex.Hash((ulong)r.Id)) ? "-80" : "80-", r.Shard));
            Assert.Contains(rows, r => r.Shard == "-80");
            Assert.Contains(rows, r => r.Shard == "80-");
            // The OK packet's insert id is the value the gateway filled in.
            Assert.Equal(rows.Select(r => r.Id).Order(), insertIds.Order());
        }
        finally
        {
            await DirectTablet.ExecAsync(global, $"DROP TABLE IF EXISTS {sequence}");
            await DirectTablet.ExecAsync(left, $"DROP TABLE IF EXISTS {table}");
            await DirectTablet.ExecAsync(right, $"DROP TABLE IF EXISTS {table}");
        }
    }
}
