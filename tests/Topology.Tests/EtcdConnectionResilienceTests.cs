using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Logging;

namespace Durable.Topology.Tests;

/// <summary>
/// What the etcd connection promises through etcd restarts and compaction: a watch never loses an event silently
/// (it delivers it, or reports the compaction so the reader re-reads), expired tokens are renewed, and reconnects
/// are logged through the given logger without the password.
/// </summary>
[Trait("Category", "Integration")]
public class EtcdConnectionResilienceTests
{
    [Fact]
    public async Task A_watch_whose_resume_revision_was_compacted_while_etcd_was_down_reports_the_compaction_then_continues()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        var log = new CapturingLogger();
        using var connection = new EtcdConnection(etcd.Endpoint, log);
        var key = $"/resilience/{Guid.NewGuid():N}";
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (seen, watching) = await StartWatchAsync(connection, key, cts.Token);

        // etcd goes away long enough for the watch's backoff to grow; while it reconnects, the history it would resume
        // from is written and compacted away.
        await etcd.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(3), cts.Token);
        await etcd.RestartAsync();
        long third;
        using (var writer = new EtcdConnection(etcd.Endpoint))
        {
            await writer.PutAsync(key, "a1", ct: cts.Token);
            await writer.PutAsync(key, "a2", ct: cts.Token);
            third = await writer.PutAsync(key, "a3", ct: cts.Token);
            await EtcdTool.RunAsync("etcdctl", "--endpoints", etcd.Endpoint, "compact", third.ToString(CultureInfo.InvariantCulture));
            await writer.PutAsync(key, "after", ct: cts.Token);
        }

        var delivered = new List<string>();
        while (!delivered.Contains("after"))
        {
            var batch = await seen.Reader.ReadAsync(cts.Token);
            delivered.AddRange(batch.Compacted ? [$"compacted@{batch.CompactRevision}"] : batch.Events.Select(e => e.Kv.ValueString));
        }

        // Normally the compaction wins the race with the reconnect; if the watch was back first it saw every write.
        // Either way no event is skipped without the reader being told.
        Assert.True(
            delivered.SequenceEqual([$"compacted@{third}", "a3", "after"]) || delivered.SequenceEqual(["a1", "a2", "a3", "after"]),
            $"delivered: {string.Join(", ", delivered)}");
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("interrupted", StringComparison.Ordinal));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);
    }

    [Fact]
    public async Task Routing_rules_watch_delivers_the_latest_rules_after_a_restart_with_compaction()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        await using var t = TestTopology.Create(etcd.Endpoint);
        await t.Admin.CreateKeyspaceAsync("commerce");
        await t.Admin.CreateKeyspaceAsync("customer");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var watch = t.Store.WatchRoutingRulesAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await watch.MoveNextAsync());
        await t.Admin.ApplyRoutingRulesAsync("""{"rules":[{"from_table":"customer","to_tables":["commerce.customer"]}]}""");
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal("commerce.customer", watch.Current.Value.Rules.Single().ToTables.Single());

        await etcd.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(3), cts.Token);
        await etcd.RestartAsync();
        await t.Admin.ApplyRoutingRulesAsync("""{"rules":[{"from_table":"customer","to_tables":["customer.customer"]}]}""");
        await t.Admin.ApplyRoutingRulesAsync("""{"rules":[{"from_table":"customer","to_tables":["commerce.customer"]},{"from_table":"orders","to_tables":["customer.orders"]}]}""");
        var latest = (await t.Etcd.GetPrefixAsync("/", keysOnly: true)).Revision;
        await EtcdTool.RunAsync("etcdctl", "--endpoints", etcd.Endpoint, "compact", latest.ToString(CultureInfo.InvariantCulture));

        // Whatever was compacted away, the watch ends on the latest rules.
        do
        {
            Assert.True(await watch.MoveNextAsync());
        }
        while (watch.Current.Value.Rules.Count != 2);

        Assert.Equal("customer.orders", watch.Current.Value.Rules.Single(r => r.FromTable == "orders").ToTables.Single());
    }

    [Fact]
    public async Task Calls_and_watches_authenticate_again_after_a_restart_voids_the_token_and_the_password_is_never_logged()
    {
        await using var etcd = await PrivateEtcd.StartAsync();
        const string password = "pw-Resilience-0nly";
        await EtcdTool.RunAsync("etcdctl", "--endpoints", etcd.Endpoint, "user", "add", $"root:{password}");
        await EtcdTool.RunAsync("etcdctl", "--endpoints", etcd.Endpoint, "auth", "enable");
        var log = new CapturingLogger();
        using var connection = new EtcdConnection(
            new EtcdOptions { Endpoints = EtcdOptions.ParseEndpoints(etcd.Endpoint), User = "root", Password = password }, log);
        var key = $"/resilience/{Guid.NewGuid():N}";
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (seen, watching) = await StartWatchAsync(connection, key, cts.Token);

        // etcd's simple tokens live in the member's memory: after a restart the cached token is unknown.
        await etcd.KillAsync();
        await etcd.RestartAsync();
        await connection.PutAsync(key, "after-restart", ct: cts.Token);
        Assert.Equal("after-restart", (await connection.GetAsync(key, cts.Token))!.ValueString);
        var batch = await seen.Reader.ReadAsync(cts.Token);
        Assert.Equal("after-restart", batch.Events.Single().Kv.ValueString);

        Assert.Contains(log.Entries, e => e.Message.Contains("interrupted", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Entries, e => e.Message.Contains(password, StringComparison.Ordinal));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);
    }

    [Fact]
    public async Task A_watch_over_several_endpoints_skips_a_dead_one()
    {
        var live = LocalClusterEndpoint();
        using var connection = new EtcdConnection($"http://127.0.0.1:1,{live}");
        var key = $"/durable-test/{Guid.NewGuid():N}";
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var (seen, watching) = await StartWatchAsync(connection, key, cts.Token);
            await connection.PutAsync(key, "through-the-live-one", ct: cts.Token);
            Assert.Equal("through-the-live-one", (await seen.Reader.ReadAsync(cts.Token)).Events.Single().Kv.ValueString);
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);
        }
        finally
        {
            await connection.DeleteAsync(key);
        }
    }

    [Fact]
    public async Task A_lease_renewal_moves_past_a_dead_endpoint()
    {
        using var live = new EtcdConnection(LocalClusterEndpoint());
        var (lease, _) = await live.LeaseGrantAsync(TimeSpan.FromSeconds(30));
        try
        {
            // The dead endpoint is first, so the very first call (the renewal) has to move on by itself.
            using var connection = new EtcdConnection($"http://127.0.0.1:1,{LocalClusterEndpoint()}");
            Assert.True(await connection.LeaseKeepAliveOnceAsync(lease) > 0);
        }
        finally
        {
            await live.LeaseRevokeAsync(lease);
        }
    }

    private static string LocalClusterEndpoint() => Durable.Testing.LocalCluster.Current.EtcdEndpoints;

    /// <summary>Watches <paramref name="key"/> into a channel and returns once the watch delivers (it is created asynchronously).</summary>
    private static async Task<(Channel<EtcdWatchBatch> Seen, Task Watching)> StartWatchAsync(EtcdConnection connection, string key, CancellationToken ct)
    {
        var seen = Channel.CreateUnbounded<EtcdWatchBatch>();
        var watching = Task.Run(async () =>
        {
            await foreach (var batch in connection.WatchAsync(key, ct: ct))
            {
                await seen.Writer.WriteAsync(batch, ct);
            }
        }, ct);
        await WaitUntilWatchingAsync(connection, key, seen, ct);
        return (seen, watching);
    }

    /// <summary>A watch from "now" is created asynchronously: write probes until one shows up, then drain.</summary>
    private static async Task WaitUntilWatchingAsync(EtcdConnection connection, string key, Channel<EtcdWatchBatch> seen, CancellationToken ct)
    {
        for (var i = 0; ; i++)
        {
            await connection.PutAsync(key, $"probe-{i}", ct: ct);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromMilliseconds(300));
            try
            {
                await seen.Reader.ReadAsync(wait.Token);
                await Task.Delay(300, ct);
                while (seen.Reader.TryRead(out _))
                {
                }

                return;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // not watching yet
            }
        }
    }
}

/// <summary>An ILogger that keeps what was logged, formatted, so a test can check what operators would read.</summary>
public sealed class CapturingLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

    public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((logLevel, formatter(state, exception) + (exception is null ? "" : " " + exception)));
}
