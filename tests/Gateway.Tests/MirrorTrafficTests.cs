using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;
using Durable.Gateway.Mirroring;
using Durable.Routing;
using Durable.Testing;
using Durable.Topology;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>
/// MirrorTraffic through a private gateway: a table of the same name in commerce (the source) and customer (the
/// target), a mirror rule commerce.T -> customer.T, and statements that call a function which, on the target only,
/// counts its calls in a table: the target's server says how many statements the mirror sent.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MirrorTrafficTests
{
    private const int Rows = 50;

    [Fact]
    public async Task Ten_percent_of_5000_selects_reach_the_target_and_every_answer_is_the_unmirrored_one()
    {
        await using var setup = await MirrorSetup.CreateAsync(targetDelayMs: 0);
        await using var gateway = await GatewayUnderTest.StartAsync();
        var expected = await setup.SourceAnswersAsync();

        // Before any rule: nothing is mirrored.
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        Assert.Equal(expected[1], await AnswerAsync(connection, setup.Query(1)));

        var revision = await ApplyAsync(gateway, setup.Rules(10));
        var mirror = gateway.App.Services.GetRequiredService<TrafficMirror>();
        for (var i = 0; i < 5000; i++)
        {
            var id = (i % Rows) + 1;
            Assert.Equal(expected[id], await AnswerAsync(connection, setup.Query(id)));
        }

        await WaitDrainedAsync(mirror);
        var reached = await setup.TargetHitsAsync();
        Assert.InRange(reached, 400, 600); // the acceptance: 10 % ± 2 percentage points
        Assert.Equal(500, mirror.Metrics.Mirrored + mirror.Metrics.Dropped); // exactly the share the sampler takes
        Assert.Equal(mirror.Metrics.Mirrored - mirror.Metrics.TargetErrors, reached);
        Assert.Equal(0, mirror.Metrics.TargetErrors);
        Assert.True(revision > 0);

        // A statement that also names an unmirrored table, and a write, are never mirrored.
        var before = mirror.Metrics.Mirrored + mirror.Metrics.Dropped;
        for (var i = 0; i < 50; i++)
        {
            await AnswerAsync(connection, $"SELECT t.v FROM {setup.Table} t JOIN {setup.Other} o ON o.id = t.id WHERE t.id = 1");
            await new MySqlCommand($"UPDATE {setup.Table} SET v = v WHERE id = 1", connection).ExecuteNonQueryAsync();
        }

        Assert.Equal(before, mirror.Metrics.Mirrored + mirror.Metrics.Dropped);

        // /status shows the counters; removing the rules stops mirroring at once.
        using (var http = new HttpClient())
        {
            var status = await http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{gateway.HttpPort}/status");
            Assert.Equal(mirror.Metrics.Mirrored, status.GetProperty("mirror").GetProperty("statements_mirrored").GetInt64());
            Assert.True(status.GetProperty("mirror").GetProperty("target_latency").GetProperty("count").GetInt64() > 0);
            var metrics = await http.GetStringAsync($"http://127.0.0.1:{gateway.HttpPort}/metrics");
            Assert.Contains($"durable_gateway_mirror_statements_total {mirror.Metrics.Mirrored}", metrics, StringComparison.Ordinal);
        }

        await ApplyAsync(gateway, "{\"rules\":[]}");
        for (var i = 0; i < 100; i++)
        {
            await AnswerAsync(connection, setup.Query(2));
        }

        Assert.Equal(before, mirror.Metrics.Mirrored + mirror.Metrics.Dropped);
    }

    [Fact]
    public async Task Mirroring_into_a_sharded_keyspace_sends_each_copy_to_the_shard_of_its_row()
    {
        await using var setup = await MirrorSetup.CreateAsync(targetDelayMs: 0, targetKeyspace: "customer_sharded");
        await using var gateway = await GatewayUnderTest.StartAsync(addToTopology: admin => admin.ApplyVSchemaAsync("customer_sharded", setup.ShardedVSchema));
        var expected = await setup.SourceAnswersAsync();
        await ApplyAsync(gateway, setup.Rules(20));
        var mirror = gateway.App.Services.GetRequiredService<TrafficMirror>();
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        for (var i = 0; i < 1000; i++)
        {
            var id = (i % Rows) + 1;
            Assert.Equal(expected[id], await AnswerAsync(connection, setup.Query(id)));
        }

        await WaitDrainedAsync(mirror);
        Assert.Equal(0, mirror.Metrics.TargetErrors);
        Assert.Equal(200, mirror.Metrics.Mirrored);

        // Every fifth statement is mirrored (ids 5, 10, …, 50, each 20 times), each to the one shard its id hashes to.
        var mirroredIds = Enumerable.Range(0, 1000).Where(i => (i + 1) % 5 == 0).Select(i => (i % Rows) + 1).ToList();
        var left = mirroredIds.Count(id => KeyRange.ParseShard("-80").Contains(HashVindex.Hash((ulong)id)));
        Assert.Equal([left, 200 - left], await setup.TargetHitsPerServerAsync());
        Assert.InRange(left, 1, 199); // both shards got copies
    }

    [Fact]
    public async Task A_slow_target_fills_the_bounded_queue_and_copies_are_dropped_while_the_client_keeps_its_pace()
    {
        // Every mirrored copy takes 20 ms on the target; four workers manage 200 a second. The client does not wait.
        await using var setup = await MirrorSetup.CreateAsync(targetDelayMs: 20);
        await using var gateway = await GatewayUnderTest.StartAsync(configure: s => s.MirrorQueueSize = 300);
        var expected = await setup.SourceAnswersAsync();
        await ApplyAsync(gateway, setup.Rules(100));
        var mirror = gateway.App.Services.GetRequiredService<TrafficMirror>();
        Assert.Equal(300, mirror.QueueCapacity);
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        var clock = Stopwatch.StartNew();
        const int statements = 3000;
        for (var i = 0; i < statements; i++)
        {
            var id = (i % Rows) + 1;
            Assert.Equal(expected[id], await AnswerAsync(connection, setup.Query(id)));
        }

        clock.Stop();
        Assert.Equal(statements, mirror.Metrics.Mirrored + mirror.Metrics.Dropped);
        Assert.True(mirror.Metrics.Dropped > 0, "the queue never filled");

        // Had the client waited for the mirror, 3,000 statements would take 3000 × 20 ms / 4 = 15 s.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the client took {clock.Elapsed} for {statements} statements");
        await WaitDrainedAsync(mirror);
        Assert.Equal(mirror.Metrics.Mirrored, await setup.TargetHitsAsync());
    }

    [Fact]
    public async Task ApplyMirrorRules_refuses_bad_rules_with_the_reason_and_writes_nothing()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var etcd = new EtcdOwner();
        var admin = etcd.Admin(gateway.Root);
        (string Json, string Expect)[] bad =
        [
            ("{\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"customer.customer\",\"percent\":101}]}", "percent 101 is outside 0-100"),
            ("{\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"customer.customer\",\"percent\":-1}]}", "percent -1 is outside 0-100"),
            ("{\"rules\":[{\"from_table\":\"customer\",\"to_table\":\"customer.customer\",\"percent\":5}]}", "from_table 'customer' must be qualified as <keyspace>.<table>"),
            ("{\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"customer\",\"percent\":5}]}", "to_table 'customer' must be qualified as <keyspace>.<table>"),
            ("{\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"nosuch.customer\",\"percent\":5}]}", "names keyspace 'nosuch', which does not exist"),
            ("{\"rules\":[{\"from_table\":\"nosuch.customer@replica\",\"to_table\":\"customer.customer\",\"percent\":5}]}", "names keyspace 'nosuch', which does not exist"),
            ("{\"rules\":[{\"from_table\":\"commerce.customer@master2\",\"to_table\":\"customer.customer\",\"percent\":5}]}", "expected @primary, @replica or @rdonly"),
            ("{\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"commerce.customer2\",\"percent\":5}]}", "is in the same keyspace"),
            ("{\"rules\":[{\"from_table\":\"commerce.customer\",\"to_table\":\"customer.customer\"}]}", "needs a numeric \"percent\" from 0 to 100"),
            ("[1]", "must be a JSON object"),
        ];
        var valid = "{\"rules\":[{\"from_table\":\"commerce.customer@primary\",\"to_table\":\"customer.customer\",\"percent\":2.5}]}";
        await admin.ApplyMirrorRulesAsync(valid);
        var stored = await admin.GetMirrorRulesAsync();
        Assert.Contains("\"from_table\": \"commerce.customer\"", stored, StringComparison.Ordinal); // @primary is the unsuffixed name
        foreach (var (json, expect) in bad)
        {
            var error = await Assert.ThrowsAsync<TopologyValidationException>(() => admin.ApplyMirrorRulesAsync(json));
            Assert.Contains(expect, error.Message, StringComparison.Ordinal);
            Assert.Equal(stored, await admin.GetMirrorRulesAsync());
        }
    }

    private static async Task<long> ApplyAsync(GatewayUnderTest gateway, string rules)
    {
        await using var etcd = new EtcdOwner();
        var result = await etcd.Admin(gateway.Root).ApplyMirrorRulesAsync(rules);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await gateway.App.Services.GetRequiredService<IGatewayTopology>().WaitForRevisionAsync(result.Revision, cts.Token);
        return result.Revision;
    }

    private static async Task WaitDrainedAsync(TrafficMirror mirror)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (mirror.Metrics.Completed < mirror.Metrics.Mirrored && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(mirror.Metrics.Mirrored, mirror.Metrics.Completed);
    }

    private static async Task<string> AnswerAsync(MySqlConnection connection, string sql)
    {
        await using var reader = await new MySqlCommand(sql, connection).ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return string.Join("\n", rows);
    }

    /// <summary>A private etcd connection for the tests' own topology writes.</summary>
    private sealed class EtcdOwner : IAsyncDisposable
    {
        private readonly Durable.Topology.Etcd.EtcdConnection _etcd = new(LocalCluster.Current.EtcdEndpoints);

        public TopologyAdmin Admin(string root) => new(new TopologyStore(_etcd, new TopologyOptions { Root = root }));

        public ValueTask DisposeAsync()
        {
            _etcd.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
