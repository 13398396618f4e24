using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;
using Durable.Routing;
using Durable.Testing;
using Durable.Topology;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>
/// A statement held while its table switches from an unsharded keyspace into a sharded one is planned on the sharded
/// side when the hold ends: its auto-increment value comes from the sequence and it lands on the shard the vindex names.
/// (Found by the sharded walkthrough: the released insert went to one shard as it was, without its id.)
/// </summary>
[Trait("Category", "Integration")]
public sealed class ShardedSwitchHoldTests
{
    [Fact]
    public async Task An_insert_held_across_a_switch_into_a_sharded_keyspace_gets_its_sequence_value_and_its_shard()
    {
        var table = $"sw_{Guid.NewGuid():N}"[..20];
        var sequence = table + "_seq";
        var vschema = "{\"sharded\": true, \"vindexes\": {\"hash\": {\"type\": \"hash\"}}, \"tables\": {\"" + table +
                      "\": {\"column_vindexes\": [{\"column\": \"id\", \"name\": \"hash\"}], \"auto_increment\": {\"column\": \"id\", \"sequence\": \"commerce." + sequence + "\"}}}}";
        await using var source = await DirectTablet.OpenAsync("commerce", "0");
        await using var left = await DirectTablet.OpenAsync("customer_sharded", "-80");
        await using var right = await DirectTablet.OpenAsync("customer_sharded", "80-");
        await DirectTablet.ExecAsync(source, $"CREATE TABLE {table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(32))");
        await DirectTablet.ExecAsync(source, $"CREATE TABLE {sequence} (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'");
        await DirectTablet.ExecAsync(source, $"INSERT INTO {sequence} VALUES (0, 5000, 10)");
        await DirectTablet.ExecAsync(left, $"CREATE TABLE {table} (id BIGINT PRIMARY KEY, v VARCHAR(32))");
        await DirectTablet.ExecAsync(right, $"CREATE TABLE {table} (id BIGINT PRIMARY KEY, v VARCHAR(32))");
        try
        {
            TopologyAdmin? admin = null;
            await using var gateway = await GatewayUnderTest.StartAsync(manualHolds: true, addToTopology: async a =>
            {
                admin = a;
                await a.ApplyVSchemaAsync("customer_sharded", vschema);
            });
            var topology = gateway.App.Services.GetRequiredService<IGatewayTopology>();
            await using var client = new MySqlConnection(gateway.ConnectionString("commerce"));
            await client.OpenAsync();

            gateway.ManualHolds!.Hold(new QualifiedTable("commerce", table));
            var insert = new MySqlCommand($"INSERT INTO {table} (v) VALUES ('held')", client).ExecuteNonQueryAsync();
            await Task.Delay(300);
            Assert.False(insert.IsCompleted);

            // The switch: the rules now send the table to customer_sharded.
            var rules = "{\"rules\": [{\"from_table\": \"" + table + "\", \"to_tables\": [\"customer_sharded." + table + "\"]}, " +
                        "{\"from_table\": \"commerce." + table + "\", \"to_tables\": [\"customer_sharded." + table + "\"]}]}";
            await admin!.ApplyRoutingRulesAsync(rules);
            for (var i = 0; i < 100 && topology.Current.Rules.Rules.Count == 0; i++)
            {
                await Task.Delay(50);
            }

            gateway.ManualHolds.Release();
            Assert.Equal(1, await insert.WaitAsync(TimeSpan.FromSeconds(10)));

            var shard = KeyRange.ParseShard("-80").Contains(HashVindex.Hash(5000UL)) ? left : right;
            var other = ReferenceEquals(shard, left) ? right : left;
            Assert.Equal("5000", Convert.ToString(await new MySqlCommand($"SELECT id FROM {table} WHERE v = 'held'", shard).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(0L, Convert.ToInt64(await new MySqlCommand($"SELECT COUNT(*) FROM {table}", other).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(0L, Convert.ToInt64(await new MySqlCommand($"SELECT COUNT(*) FROM {table}", source).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(5000UL, Convert.ToUInt64(await new MySqlCommand("SELECT LAST_INSERT_ID()", client).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            await DirectTablet.ExecAsync(source, $"DROP TABLE IF EXISTS {table}, {sequence}");
            await DirectTablet.ExecAsync(left, $"DROP TABLE IF EXISTS {table}");
            await DirectTablet.ExecAsync(right, $"DROP TABLE IF EXISTS {table}");
        }
    }
}
