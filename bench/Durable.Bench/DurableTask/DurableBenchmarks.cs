using System.Diagnostics;
using System.Globalization;
using Azure.Storage.Queues;
using Durable.Functions.Engine;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Bench.DurableTask;

/// <summary>
/// Durable engine throughput on Azurite: a chain of sequential activities and a fan-out/fan-in, in activities/s, run by
/// the host's engine (<see cref="TaskHub"/>: Microsoft.DurableTask orchestrators on the Durable Task Framework's Azure
/// Storage provider) in this process with the product's default settings; plus the anchors: raw queue round trips
/// (send, receive, delete of one message) with the Azure Storage SDK the engine itself uses. Each run uses a fresh
/// task hub and deletes it afterwards.
/// </summary>
public static class DurableBenchmarks
{
    private const string Activity = "Work";

    /// <summary>durable-sequential [N=100]: one orchestration calling N activities one after another.</summary>
    public static Task<int> SequentialAsync(string[] args) =>
        RunOrchestrationAsync(Count(args, 100), "Sequential", static async (ctx, n) =>
        {
            var sum = 0;
            for (var i = 0; i < n; i++)
            {
                sum += await ctx.CallActivityAsync<int>(Activity, i);
            }

            return sum;
        });

    /// <summary>durable-fanout [N=1000]: one orchestration fanning out N activities and waiting for all.</summary>
    public static Task<int> FanOutAsync(string[] args) =>
        RunOrchestrationAsync(Count(args, 1000), "FanOut", static async (ctx, n) =>
            (await Task.WhenAll(Enumerable.Range(0, n).Select(i => ctx.CallActivityAsync<int>(Activity, i)))).Sum());

    /// <summary>durable-queue-floor [SECONDS=10]: sequential send+receive+delete round trips of one message per second.</summary>
    public static async Task<int> QueueFloorAsync(string[] args)
    {
        var seconds = Count(args, 10);
        var trips = await QueueRoundTripsAsync(watch => watch.Elapsed >= TimeSpan.FromSeconds(seconds));
        var rate = trips.Count / (trips.Sum() / 1000);
        Console.Error.WriteLine($"{trips.Count} round trips in {trips.Sum() / 1000:F1} s, median {BenchHub.Median(trips):F1} ms");
        Console.WriteLine(rate.ToString("F1", CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>
    /// durable-queue-roundtrip [N=20]: N sequential send+receive+delete round trips of one message (after 3 not
    /// counted, as the event benchmark does not count its first post); prints 1/median round trip in seconds.
    /// </summary>
    public static async Task<int> QueueRoundTripAsync(string[] args)
    {
        var n = Count(args, 20);
        var trips = await QueueRoundTripsAsync(_ => false, warmUp: 3, count: n);
        var median = BenchHub.Median(trips);
        Console.Error.WriteLine($"{n} round trips: median {median:F1} ms, p99 {BenchHub.Percentile(trips, 99):F1} ms, min {trips.Min():F1} ms");
        Console.WriteLine((1000 / median).ToString("F1", CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>
    /// Runs one orchestration of N activities on a fresh hub and prints activities/s. The clock starts once this
    /// worker owns every partition and one warm-up instance has run (steady state: a fresh process would otherwise
    /// time its own start-up, lease claims and JIT); it stops when the client sees the instance completed.
    /// </summary>
    private static async Task<int> RunOrchestrationAsync(int n, string orchestrator, Func<TaskOrchestrationContext, int, Task<int>> body)
    {
        using var logging = BenchHub.CreateLogging();
        var counter = new StorageRequestCounter();
        var settings = BenchHub.Settings(BenchHub.NewHubName("Bench"), logging);
        settings.StorageAccountClientProvider = counter.Provider(BenchHub.ConnectionString());
        var registry = new DurableTaskRegistry();
        registry.AddOrchestratorFunc(orchestrator, body);
        registry.AddActivityFunc<int, int>(Activity, static (_, i) => i);
        await using var services = new ServiceCollection().BuildServiceProvider();
        var hub = new TaskHub(settings, registry, services, logging);
        try
        {
            await hub.StartAsync();
            // Poll the status every 100 ms at most: the hub's own client backs off to 1 s, which would round a
            // few-second run up by as much; each poll is one table read, counted with the run.
            var client = new DurableHubClient(hub.Service, hub.Name) { MaxPollingInterval = TimeSpan.FromMilliseconds(100) };
            await BenchHub.WaitForOwnersAsync(hub.Name, TimeSpan.FromSeconds(90), owners => owners.Values.All(o => o == settings.WorkerId));
            await RunInstanceAsync(client, orchestrator, 1);

            var before = counter.Snapshot();
            var watch = Stopwatch.StartNew();
            var result = await RunInstanceAsync(client, orchestrator, n);
            watch.Stop();
            if (result.RuntimeStatus != OrchestrationRuntimeStatus.Completed || result.ReadOutputAs<int>() != Enumerable.Range(0, n).Sum())
            {
                Console.Error.WriteLine($"{orchestrator} ended {result.RuntimeStatus}: {result.FailureDetails}");
                return 1;
            }

            Console.Error.WriteLine($"{n} activities in {watch.Elapsed.TotalSeconds:F2} s ({orchestrator}, hub {hub.Name}); {counter.Since(before, n, "activity")}");
            Console.WriteLine((n / watch.Elapsed.TotalSeconds).ToString("F1", CultureInfo.InvariantCulture));
            return 0;
        }
        finally
        {
            await hub.DeleteAsync();
            await hub.DisposeAsync();
            await BenchHub.DeleteAppLeaseContainerAsync(hub.Name);
        }
    }

    /// <summary>
    /// durable-idle [SECONDS=60]: the storage requests an idle host's engine makes per minute with the product's
    /// default settings (queue polls backing off to maxQueuePollingInterval, lease renewals and balancing), counted
    /// once the worker owns every partition. The goal is about 400 a minute.
    /// </summary>
    public static async Task<int> IdleAsync(string[] args)
    {
        var seconds = Count(args, 60);
        using var logging = BenchHub.CreateLogging();
        var counter = new StorageRequestCounter();
        var settings = BenchHub.Settings(BenchHub.NewHubName("Idle"), logging);
        settings.StorageAccountClientProvider = counter.Provider(BenchHub.ConnectionString());
        await using var services = new ServiceCollection().BuildServiceProvider();
        var hub = new TaskHub(settings, new DurableTaskRegistry(), services, logging);
        try
        {
            await hub.StartAsync();
            await BenchHub.WaitForOwnersAsync(hub.Name, TimeSpan.FromSeconds(90), owners => owners.Values.All(o => o == settings.WorkerId));
            // Let the queue polls back off to their ceiling before counting.
            await Task.Delay(TimeSpan.FromSeconds(10));
            var before = counter.Snapshot();
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            var perMinute = counter.Snapshot().Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key)) * 60.0 / seconds;
            Console.Error.WriteLine($"idle {seconds} s, {settings.PartitionCount} partitions: {counter.Since(before, seconds / 60 == 0 ? 1 : seconds / 60, "minute")}");
            Console.WriteLine(perMinute.ToString("F0", CultureInfo.InvariantCulture));
            return 0;
        }
        finally
        {
            await hub.DeleteAsync();
            await hub.DisposeAsync();
            await BenchHub.DeleteAppLeaseContainerAsync(hub.Name);
        }
    }

    private static async Task<OrchestrationMetadata> RunInstanceAsync(DurableTaskClient client, string orchestrator, int n)
    {
        var id = await client.ScheduleNewOrchestrationInstanceAsync(orchestrator, n);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        return await client.WaitForInstanceCompletionAsync(id, true, timeout.Token);
    }

    /// <summary>
    /// Sequential round trips of one message on a fresh queue, in ms each: send, receive (30 s invisibility, as a
    /// worker takes a message), delete. Stops after <paramref name="count"/> counted trips or when
    /// <paramref name="done"/> says so; the first <paramref name="warmUp"/> trips are not counted.
    /// </summary>
    private static async Task<List<double>> QueueRoundTripsAsync(Func<Stopwatch, bool> done, int warmUp = 0, int count = int.MaxValue)
    {
        var queue = new QueueClient(BenchHub.ConnectionString(), "bench-floor-" + Guid.NewGuid().ToString("N")[..12]);
        await queue.CreateIfNotExistsAsync();
        try
        {
            // About the size of the engine's activity message.
            const string payload = "{\"TaskMessage\":{\"Event\":{\"EventType\":4,\"Name\":\"Work\",\"Input\":\"1\"},\"OrchestrationInstance\":{\"InstanceId\":\"bench\"}}}";
            var trips = new List<double>();
            var total = Stopwatch.StartNew();
            for (var i = 0; trips.Count < count && !done(total); i++)
            {
                var start = Stopwatch.GetTimestamp();
                await queue.SendMessageAsync(payload);
                var got = (await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(30))).Value;
                await queue.DeleteMessageAsync(got[0].MessageId, got[0].PopReceipt);
                if (i >= warmUp)
                {
                    trips.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }

            return trips;
        }
        finally
        {
            await queue.DeleteIfExistsAsync();
        }
    }

    internal static int Count(string[] args, int fallback, int index = 0)
    {
        if (args.Length <= index)
        {
            return fallback;
        }

        return int.TryParse(args[index], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"'{args[index]}' is not a positive whole number (expected a count).");
    }
}
