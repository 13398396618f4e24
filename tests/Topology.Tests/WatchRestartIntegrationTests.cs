using System.Threading.Channels;
using Durable.Topology.Etcd;

namespace Durable.Topology.Tests;

[Trait("Category", "Integration")]
public class WatchRestartIntegrationTests
{
    [Fact]
    public async Task A_watch_survives_etcd_being_killed_and_restarted_without_losing_or_repeating_events()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        await using var t = TestTopology.Create(etcd.Endpoint);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var events = Channel.CreateUnbounded<string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var batch in t.Etcd.WatchAsync($"{t.Root}/w/", prefix: true, ct: cts.Token))
            {
                foreach (var e in batch.Events)
                {
                    await events.Writer.WriteAsync(e.Kv.ValueString, cts.Token);
                }
            }
        }, cts.Token);

        // The watch is created asynchronously; write until its first event shows up.
        await WaitForWatchAsync(t, events, cts.Token);
        await t.Etcd.PutAsync($"{t.Root}/w/k", "before");
        Assert.Equal("before", await events.Reader.ReadAsync(cts.Token));

        await etcd.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(1), cts.Token);
        await etcd.RestartAsync();

        // Written after the restart, possibly before the watch has reconnected: resuming from the last revision
        // delivers them anyway, once each and in order.
        using (var writer = new EtcdConnection(etcd.Endpoint))
        {
            await writer.PutAsync($"{t.Root}/w/k", "after-1");
            await writer.PutAsync($"{t.Root}/w/k", "after-2");
        }

        Assert.Equal("after-1", await events.Reader.ReadAsync(cts.Token));
        Assert.Equal("after-2", await events.Reader.ReadAsync(cts.Token));
        await Task.Delay(TimeSpan.FromMilliseconds(500), cts.Token);
        Assert.False(events.Reader.TryRead(out var extra), $"unexpected repeated event {extra}");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);
    }

    [Fact]
    public async Task A_watch_from_a_compacted_revision_reports_the_compaction_and_continues()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        await using var t = TestTopology.Create(etcd.Endpoint);
        var first = await t.Etcd.PutAsync($"{t.Root}/c", "1");
        await t.Etcd.PutAsync($"{t.Root}/c", "2");
        var third = await t.Etcd.PutAsync($"{t.Root}/c", "3");
        await EtcdTool.RunAsync("etcdctl", "--endpoints", etcd.Endpoint, "compact", third.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var batches = new List<EtcdWatchBatch>();
        var writer = Task.Run(async () =>
        {
            await Task.Delay(500, cts.Token);
            await t.Etcd.PutAsync($"{t.Root}/c", "4");
        }, cts.Token);
        await foreach (var batch in t.Etcd.WatchAsync($"{t.Root}/c", startRevision: first, ct: cts.Token))
        {
            batches.Add(batch);
            if (batch.Events.Any(e => e.Kv.ValueString == "4"))
            {
                break;
            }
        }

        await writer;
        Assert.True(batches[0].Compacted);
        Assert.Equal(third, batches[0].CompactRevision);
        // From the compaction point on nothing is lost: revision `third` itself ("3") and the later write.
        Assert.Equal(["3", "4"], batches.Skip(1).SelectMany(b => b.Events).Select(e => e.Kv.ValueString).ToArray());
    }

    [Fact]
    public async Task Routing_rule_watch_delivers_the_current_rules_then_each_change()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        await using var t = TestTopology.Create(etcd.Endpoint);
        await t.Admin.CreateKeyspaceAsync("commerce");
        await t.Admin.CreateKeyspaceAsync("customer");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = t.Store.WatchRoutingRulesAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await watch.MoveNextAsync());
        Assert.Empty(watch.Current.Value.Rules);

        await t.Admin.ApplyRoutingRulesAsync("""{"rules":[{"from_table":"customer","to_tables":["commerce.customer"]}]}""");
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal("commerce.customer", watch.Current.Value.Rules.Single().ToTables.Single());

        await t.Admin.ApplyRoutingRulesAsync("""{"rules":[{"from_table":"customer","to_tables":["customer.customer"]}]}""");
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal("customer.customer", watch.Current.Value.Rules.Single().ToTables.Single());
    }

    private static async Task WaitForWatchAsync(TestTopology t, Channel<string> events, CancellationToken ct)
    {
        for (var i = 0; ; i++)
        {
            await t.Etcd.PutAsync($"{t.Root}/w/probe", $"probe-{i}", ct: ct);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromMilliseconds(300));
            try
            {
                await events.Reader.ReadAsync(wait.Token);
                while (events.Reader.TryRead(out _))
                {
                }

                await Task.Delay(300, ct);
                while (events.Reader.TryRead(out _))
                {
                }

                return;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // watch not created yet
            }
        }
    }
}
