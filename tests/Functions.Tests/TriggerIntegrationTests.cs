using System.Collections.Concurrent;
using System.Net.Http;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Functions.Queues;
using Durable.Functions.Storage;
using Durable.Functions.Tests.Support;
using Durable.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>
/// Queue and timer triggers against the local cluster's real Azurite, with two real hosts (Kestrel, each its own
/// service provider and trigger loops) sharing the storage account, as two replicas would.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TriggerIntegrationTests : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..10];
    private readonly List<string> _queues = [];
    private readonly List<AzureTriggerStorage> _stores = [];
    private AzureTriggerStorage _storage = null!;

    public Task InitializeAsync()
    {
        _storage = Storage("ft" + _suffix + "-timers");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        // The hosts of a test share one task hub, as replicas do; it goes once they have all stopped.
        await TestHost.DeleteHubAsync(HubName);
        foreach (var q in _queues)
        {
            await _storage.DeleteQueueAsync(q, CancellationToken.None);
            await _storage.DeleteQueueAsync(q + "-poison", CancellationToken.None);
        }

        foreach (var s in _stores)
        {
            await s.DeleteScheduleContainerAsync(CancellationToken.None);
        }
    }

    private AzureTriggerStorage Storage(string container)
    {
        var s = AzureTriggerStorage.FromConnectionString(LocalCluster.Current.AzureStorageConnectionString, "AzureWebJobsStorage", container);
        _stores.Add(s);
        return s;
    }

    private string HubName => "Ft" + _suffix;

    private string NewQueue(string purpose)
    {
        var q = $"ft-{purpose}-{_suffix}";
        _queues.Add(q);
        return q;
    }

    private static string HostJson(string hub, int maxDequeueCount = 3) => $$"""
        {
          "version": "2.0",
          "functionTimeout": "00:01:00",
          "extensions": {
            "durableTask": { "hubName": "{{hub}}", "storageProvider": { "type": "AzureStorage", "partitionCount": 1, "maxQueuePollingInterval": "00:00:00.100" } },
            "queues": { "maxPollingInterval": "00:00:00.500", "visibilityTimeout": "00:00:00", "maxDequeueCount": {{maxDequeueCount}}, "batchSize": 8, "newBatchThreshold": 4 }
          }
        }
        """;

    private Task<TestHost> StartHost(string replica, Action<IServiceCollection> functions, int maxDequeueCount = 3) =>
        TestHost.StartAsync(functions, new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = LocalCluster.Current.AzureStorageConnectionString,
            [FunctionsHostSettings.ReplicaIdSetting] = replica,
        }, HostJson(HubName, maxDequeueCount), kestrel: true, deleteHub: false);

    private static readonly QueueTriggerSettings Base64 = new();

    [Fact]
    public async Task Queue_trigger_processes_each_message_once_across_two_hosts()
    {
        var queue = NewQueue("once");
        var seen = new ConcurrentDictionary<string, ConcurrentBag<string>>();
        Action<IServiceCollection> functions(string replica) => s => s.AddFunction(new QueueTriggerFunction("Collect", queue, async (ctx, m) =>
        {
            seen.GetOrAdd(m.Text, _ => []).Add(replica);
            // Slow enough that one replica (12 in flight) cannot drain the queue alone before the other polls.
            await Task.Delay(100, ctx.CancellationToken);
        }));

        await _storage.CreateIfNotExistsAsync(queue, CancellationToken.None);
        await using var a = await StartHost("replica-a", functions("replica-a"));
        await using var b = await StartHost("replica-b", functions("replica-b"));
        const int count = 60;
        foreach (var i in Enumerable.Range(0, count))
        {
            await _storage.SendAsync(queue, QueueTriggerListener.Encode($"msg-{i}", Base64), CancellationToken.None);
        }

        await TestHost.WaitUntilAsync(() => seen.Count == count, TimeSpan.FromSeconds(60), $"{count} messages processed");
        // Give a duplicate time to show up if a message were delivered twice.
        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.Equal(count, seen.Count);
        Assert.All(seen, p => Assert.Single(p.Value));
        // Both replicas really competed for the queue.
        Assert.Equal(["replica-a", "replica-b"], seen.SelectMany(p => p.Value).Distinct().Order());
        Assert.Equal(0, await _storage.ApproximateCountAsync(queue, CancellationToken.None));
    }

    [Fact]
    public async Task Failing_message_moves_to_the_poison_queue_after_max_dequeue_count()
    {
        var queue = NewQueue("poison");
        var attempts = new ConcurrentBag<long>();
        await _storage.CreateIfNotExistsAsync(queue, CancellationToken.None);
        var text = QueueTriggerListener.Encode("""{"instanceId":"nobody","eventName":"Approval"}""", Base64);
        await _storage.SendAsync(queue, text, CancellationToken.None);

        await using var a = await StartHost("replica-a", s => s.AddFunction(new QueueTriggerFunction("AlwaysFails", queue, (_, m) =>
        {
            attempts.Add(m.DequeueCount);
            throw new InvalidOperationException("downstream unavailable");
        })), maxDequeueCount: 2);

        await TestHost.WaitUntilAsync(() => CountSync(queue + "-poison") == 1, TimeSpan.FromSeconds(30), "the message in the poison queue");
        Assert.Equal([1L, 2L], attempts.Order());
        Assert.Equal(0, await _storage.ApproximateCountAsync(queue, CancellationToken.None));
        var parked = await _storage.ReceiveAsync(queue + "-poison", 1, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(text, Assert.Single(parked).Text);
    }

    [Fact]
    public async Task A_message_the_function_refuses_as_poison_is_parked_at_once_without_retries()
    {
        var queue = NewQueue("refused");
        var attempts = new ConcurrentBag<long>();
        await _storage.CreateIfNotExistsAsync(queue, CancellationToken.None);
        var text = QueueTriggerListener.Encode("""{"eventName":"Anything"}""", Base64);
        await _storage.SendAsync(queue, text, CancellationToken.None);

        await using var a = await StartHost("replica-a", s => s.AddFunction(new QueueTriggerFunction("Refuses", queue, (_, m) =>
        {
            attempts.Add(m.DequeueCount);
            throw new PoisonMessageException("not a signed approval");
        })), maxDequeueCount: 5);

        await TestHost.WaitUntilAsync(() => CountSync(queue + "-poison") == 1, TimeSpan.FromSeconds(30), "the refused message in the poison queue");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal([1L], attempts.ToArray());
        Assert.Equal(0, await _storage.ApproximateCountAsync(queue, CancellationToken.None));
        var parked = await _storage.ReceiveAsync(queue + "-poison", 1, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(text, Assert.Single(parked).Text);
    }

    [Fact]
    public async Task Undecodable_message_is_parked_at_once()
    {
        var queue = NewQueue("undecodable");
        var calls = 0;
        await _storage.CreateIfNotExistsAsync(queue, CancellationToken.None);
        await _storage.SendAsync(queue, "not base64 at all!", CancellationToken.None);
        await using var a = await StartHost("replica-a", s => s.AddFunction(new QueueTriggerFunction("Decode", queue, (_, _) =>
        {
            Interlocked.Increment(ref calls);
            return Task.CompletedTask;
        })));
        await TestHost.WaitUntilAsync(() => CountSync(queue + "-poison") == 1, TimeSpan.FromSeconds(30), "the undecodable message parked");
        Assert.Equal(0, calls);
    }

    // The approvals queue no longer raises arbitrary events: ApprovalsQueueTests covers what it takes and what it parks.

    [Fact]
    public async Task Timer_trigger_fires_each_occurrence_once_across_two_hosts()
    {
        var fired = new ConcurrentBag<(DateTime Occurrence, string Replica)>();
        Action<IServiceCollection> functions(string replica) => s => s.AddFunction(new TimerTriggerFunction("EveryTwoSeconds", "*/2 * * * * *", (_, info) =>
        {
            fired.Add((info.ScheduledTime, replica));
            return Task.CompletedTask;
        }));

        var started = DateTime.UtcNow;
        var metrics = new List<string>();
        await using (var a = await StartHost("replica-a", functions("replica-a")))
        await using (var b = await StartHost("replica-b", functions("replica-b")))
        {
            await Task.Delay(TimeSpan.FromSeconds(9));
            metrics.Add(await a.Client.GetStringAsync("/metrics"));
            metrics.Add(await b.Client.GetStringAsync("/metrics"));
        }

        // Both replicas saw the occurrences: the one that did not fire an occurrence counted it as claimed elsewhere.
        Assert.Contains(metrics, m => m.Contains("durable_timer_occurrences_total{function=\"EveryTwoSeconds\",outcome=\"claimed_elsewhere\"}", StringComparison.Ordinal));

        var byOccurrence = fired.GroupBy(f => f.Occurrence).ToList();
        Assert.True(byOccurrence.Count >= 3, $"expected at least 3 occurrences in 9 s, got {byOccurrence.Count}");
        Assert.All(byOccurrence, g => Assert.Single(g));
        Assert.All(byOccurrence, g => Assert.Equal(0, g.Key.Second % 2));
        Assert.All(byOccurrence, g => Assert.True(g.Key > started));

        // The shared record names the last occurrence and who fired it.
        var record = await Storage(HubName.ToLowerInvariant() + "-timers").ReadAsync("EveryTwoSeconds", CancellationToken.None);
        Assert.NotNull(record);
        Assert.Equal(byOccurrence.Max(g => g.Key), record.Status.Last);
        Assert.Contains(record.Status.FiredBy, new[] { "replica-a", "replica-b" });
    }

    [Fact]
    public async Task Missed_occurrence_fires_once_as_past_due_when_a_host_starts()
    {
        var store = Storage(HubName.ToLowerInvariant() + "-timers");
        var missed = new DateTime(2026, 1, 1, 3, 0, 0, DateTimeKind.Utc);
        Assert.True(await store.TryWriteAsync("Nightly", new ScheduleStatus(missed.AddDays(-1), missed, missed.AddDays(-1), "old-replica"), null, CancellationToken.None));
        var fired = new ConcurrentBag<TimerOccurrence>();
        Action<IServiceCollection> functions = s => s.AddFunction(new TimerTriggerFunction("Nightly", "0 0 3 * * *", (_, info) =>
        {
            fired.Add(info);
            return Task.CompletedTask;
        }));
        await using (var a = await StartHost("replica-a", functions))
        await using (var b = await StartHost("replica-b", functions))
        {
            await TestHost.WaitUntilAsync(() => !fired.IsEmpty, TimeSpan.FromSeconds(20), "the past-due occurrence");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        // One catch-up for the whole gap, for its latest occurrence (today's or yesterday's 03:00), however many
        // replicas start.
        var info = Assert.Single(fired);
        Assert.True(info.IsPastDue);
        var now = DateTime.UtcNow;
        var latest = now.Date.AddHours(3) <= now ? now.Date.AddHours(3) : now.Date.AddDays(-1).AddHours(3);
        Assert.Equal(latest, info.ScheduledTime);
        Assert.Equal(latest.AddDays(1), info.Next);
        Assert.Equal(latest, (await store.ReadAsync("Nightly", CancellationToken.None))!.Status.Last);
    }

    [Fact]
    public async Task Graceful_shutdown_finishes_the_running_message_and_releases_interrupted_ones()
    {
        var queue = NewQueue("shutdown");
        await _storage.CreateIfNotExistsAsync(queue, CancellationToken.None);
        var started = new TaskCompletionSource();
        var finished = 0;
        await _storage.SendAsync(queue, QueueTriggerListener.Encode("slow", Base64), CancellationToken.None);
        var a = await StartHost("replica-a", s => s.AddFunction(new QueueTriggerFunction("Slow", queue, async (_, _) =>
        {
            started.TrySetResult();
            // Ignores the shutdown signal on purpose: graceful shutdown must wait for it.
            await Task.Delay(TimeSpan.FromSeconds(2));
            Interlocked.Increment(ref finished);
        })));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await a.StopAsync();
        Assert.Equal(1, finished);
        Assert.Equal(0, await _storage.ApproximateCountAsync(queue, CancellationToken.None));
        await a.DisposeAsync();

        // A handler that honours cancellation is interrupted; its message goes straight back for another replica.
        var taken = new TaskCompletionSource();
        var completedElsewhere = new TaskCompletionSource<string>();
        await _storage.SendAsync(queue, QueueTriggerListener.Encode("interrupted", Base64), CancellationToken.None);
        var c = await StartHost("replica-c", s => s.AddFunction(new QueueTriggerFunction("Slow", queue, async (ctx, _) =>
        {
            taken.TrySetResult();
            await Task.Delay(TimeSpan.FromMinutes(5), ctx.CancellationToken);
        })));
        await taken.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await c.DisposeAsync();
        await using var d = await StartHost("replica-d", s => s.AddFunction(new QueueTriggerFunction("Slow", queue, (_, m) =>
        {
            completedElsewhere.TrySetResult(m.Text);
            return Task.CompletedTask;
        })));
        // Well before the 60 s processing hold would have expired on its own.
        Assert.Equal("interrupted", await completedElsewhere.Task.WaitAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task A_slow_handler_keeps_its_message_hidden_from_other_replicas_by_renewing_the_hold()
    {
        var queue = NewQueue("renew");
        await _storage.CreateIfNotExistsAsync(queue, CancellationToken.None);
        var runs = new ConcurrentBag<string>();
        var metrics = new Metrics.FunctionsMetrics(new Metrics.MetricsScope());
        QueueTriggerListener Listener(string replica) => new(
            new QueueTriggerFunction("Slow", queue, async (_, m) =>
            {
                runs.Add(replica);
                // Several times the 3 s hold: without renewal the other listener would take the message meanwhile.
                await Task.Delay(TimeSpan.FromSeconds(9));
            }),
            queue, _storage, new QueueTriggerSettings { MaxPollingInterval = TimeSpan.FromMilliseconds(200) }, null,
            new ServiceCollection().BuildServiceProvider(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, metrics,
            processingVisibility: TimeSpan.FromSeconds(3));

        using var stop = new CancellationTokenSource();
        var a = Listener("a").RunAsync(stop.Token);
        var b = Listener("b").RunAsync(stop.Token);
        await _storage.SendAsync(queue, QueueTriggerListener.Encode("slow", Base64), CancellationToken.None);
        await TestHost.WaitUntilAsync(() => CountSync(queue) == 0 && runs.Count >= 1, TimeSpan.FromSeconds(30), "the message taken");
        await Task.Delay(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await Task.WhenAll(a, b);
        Assert.Single(runs);
        Assert.Equal(0, await _storage.ApproximateCountAsync(queue, CancellationToken.None));
    }

    private int CountSync(string queue)
    {
        try
        {
            return _storage.ApproximateCountAsync(queue, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Azure.RequestFailedException)
        {
            return -1;
        }
    }
}
