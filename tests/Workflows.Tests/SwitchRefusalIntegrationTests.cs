using Durable.MySql;

namespace Durable.Workflows.Tests;

/// <summary>
/// A switch that cannot succeed is refused before it changes anything or refuses a single write: a stopped stream
/// (the Streamer down) leaves reads where they were too, and a stalled stream (Running, but nothing applies it while
/// the source has new transactions) refuses the write switch within seconds instead of arming the guards and waiting
/// out --timeout.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SwitchRefusalIntegrationTests
{
    [Fact]
    public async Task A_switch_whose_streams_are_stopped_is_refused_and_leaves_reads_and_writes_where_they_were()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("stop", "customer");
        await using var _ = bed;
        var ops = bed.Env.Operations;
        foreach (var s in state.Streams)
        {
            await bed.Env.Engine.StopStreamAsync(s.Keyspace, s.Shard, s.Id, "the Streamer is down");
        }

        var rules = await bed.Env.Store.GetRoutingRulesAsync();

        // All tablet types (the default): reads must not move to target shards whose streams are stopped.
        var all = await ops.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TimeoutSeconds = 5 }, false, "all"), default);
        Assert.False(all.Ok, all.Message);
        Assert.True(all.Traffic.NoneSwitched, $"traffic after the refused switch: {all.Traffic}");
        Assert.Contains("Stopped", all.Message);
        Assert.Contains("Traffic is unchanged: Reads Not Switched. Writes Not Switched", all.Message);

        // Reads alone are refused the same way (stale reads), naming the stream's state.
        var reads = await ops.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TabletTypes = ["REPLICA", "RDONLY"], TimeoutSeconds = 5 }, false, "reads"), default);
        Assert.False(reads.Ok, reads.Message);
        Assert.Contains("not all Running", reads.Message);

        var after = await bed.Env.Store.GetRoutingRulesAsync();
        Assert.Equal(rules.ModRevision, after.ModRevision);
        Assert.Equal($"commerce.{table}", RoutingRulesPlan.Resolve(after.Value, table, "REPLICA"));
        Assert.Equal("0", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce",
            $"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'vt_commerce' AND EVENT_OBJECT_TABLE = '{table}'"));
    }

    [Fact]
    public async Task A_write_switch_whose_stream_has_stalled_is_refused_before_any_write_is_refused()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("stall", "customer");
        await using var _ = bed;
        // The stream has reported (it applied a row), then stays Running in the sidecar while nothing applies it any
        // more; the source moves on.
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (customer_id, email) VALUES (4999, 'applied')");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT COUNT(*) FROM `{table}` WHERE customer_id = 4999") != "1")
        {
            Assert.True(DateTime.UtcNow < deadline, "the stream never applied the row");
            await Task.Delay(100);
        }

        await bed.StopStreamerAsync();
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (customer_id, email) VALUES (5000, 'after the stall')");

        using var stop = new CancellationTokenSource();
        var refused = 0;
        var writes = 0;
        var writer = Task.Run(async () =>
        {
            await using var c = await MySqlConnection.OpenAsync(ClusterBed.Account("app", 100, "vt_commerce"));
            for (var id = 6000; !stop.IsCancellationRequested; id++)
            {
                try
                {
                    await c.ExecuteAsync($"INSERT INTO `{table}` (customer_id, email) VALUES ({id}, 'w')");
                    writes++;
                }
                catch (MySqlException e) when (RoutedWriter.IsGuard(e))
                {
                    refused++;
                }

                await Task.Delay(20);
            }
        });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await bed.Env.Operations.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TabletTypes = ["PRIMARY"], TimeoutSeconds = 30 }, false, "stalled"), default);
        var took = clock.Elapsed;
        await stop.CancelAsync();
        await writer;

        Assert.False(result.Ok, result.Message);
        Assert.Contains("has not moved for", result.Message);
        Assert.Contains("no write was refused", result.Message);
        Assert.True(refused == 0, $"{refused} of {writes + refused} writes were refused while the switch ran ({took.TotalSeconds:0.0} s): {result.Message}");
        Assert.True(writes > 0);
        Assert.False(result.Traffic.Primary);
        Assert.Null(await bed.Env.Registry.GetJournalAsync(state.Spec.TargetKeyspace, state.Spec.Workflow, default));
    }
}
