using Microsoft.Extensions.Logging;
using System.Diagnostics;
using System.Globalization;
using Azure.Storage.Queues;
using Durable.DurableTask;
using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.Client;
using Durable.DurableTask.Worker;

namespace Durable.Bench.DurableTask;

/// <summary>
/// Durable runtime throughput on Azurite: a chain of sequential activities and a fan-out/fan-in, in activities/s,
/// plus the anchor: raw queue round trips (put, get, delete of one message) per second through the Azure Storage SDK,
/// the storage floor every activity pays. Each run uses a fresh task hub and deletes it afterwards.
/// </summary>
public static class DurableBenchmarks
{
    private static string ConnectionString() =>
        Environment.GetEnvironmentVariable("AzureWebJobsStorage")
        ?? throw new InvalidOperationException("AzureWebJobsStorage is not set; run eval \"$(./infra/local/cluster.sh env)\" first.");

    /// <summary>durable-sequential [N=100]: one orchestration calling N activities one after another.</summary>
    public static Task<int> SequentialAsync(string[] args) =>
        RunAsync(Count(args, 100), "Sequential", static async (ctx, n) =>
        {
            var sum = 0;
            for (var i = 0; i < n; i++)
            {
                sum += await ctx.CallActivityAsync<int>("Work", i);
            }

            return sum;
        });

    /// <summary>durable-fanout [N=1000]: one orchestration fanning out N activities and waiting for all.</summary>
    public static Task<int> FanOutAsync(string[] args) =>
        RunAsync(Count(args, 1000), "FanOut", static async (ctx, n) =>
            (await Task.WhenAll(Enumerable.Range(0, n).Select(i => ctx.CallActivityAsync<int>("Work", i)))).Sum());

    /// <summary>durable-queue-floor [SECONDS=10]: sequential put+get+delete round trips of one message per second.</summary>
    public static async Task<int> QueueFloorAsync(string[] args)
    {
        var seconds = Count(args, 10);
        var queue = new QueueClient(ConnectionString(), "bench-floor-" + Guid.NewGuid().ToString("N")[..12]);
        await queue.CreateIfNotExistsAsync();
        try
        {
            var payload = "{\"message\":{\"instanceId\":\"bench\",\"event\":{\"$type\":\"TaskScheduled\",\"name\":\"Work\",\"input\":\"1\"}}}";
            var watch = Stopwatch.StartNew();
            var trips = 0;
            while (watch.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                await queue.SendMessageAsync(payload);
                var got = (await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(30))).Value;
                await queue.DeleteMessageAsync(got[0].MessageId, got[0].PopReceipt);
                trips++;
            }

            var rate = trips / watch.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"{trips} round trips in {watch.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine(rate.ToString("F1", CultureInfo.InvariantCulture));
            return 0;
        }
        finally
        {
            await queue.DeleteIfExistsAsync();
        }
    }

    private static int Count(string[] args, int fallback)
    {
        if (args.Length == 0)
        {
            return fallback;
        }

        return int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"'{args[0]}' is not a positive whole number (expected a count).");
    }

    private static async Task<int> RunAsync(int n, string orchestrator, Func<TaskOrchestrationContext, int, Task<int>> body)
    {
        var settings = new AzureStorageOrchestrationServiceSettings
        {
            StorageConnectionString = ConnectionString(),
            TaskHubName = "bench" + Guid.NewGuid().ToString("N")[..12],
            PartitionCount = 4,
            LeaseInterval = TimeSpan.FromSeconds(15),
            LeaseRenewInterval = TimeSpan.FromSeconds(5),
            MaxQueuePollingInterval = TimeSpan.FromSeconds(1),
        };
        // DURABLE_BENCH_LOG=1 shows the runtime's own log on stderr (lease moves, abandons, conflicts).
        using var logging = Microsoft.Extensions.Logging.LoggerFactory.Create(b =>
        {
            if (Environment.GetEnvironmentVariable("DURABLE_BENCH_LOG") == "1")
            {
                Microsoft.Extensions.Logging.ConsoleLoggerExtensions.AddConsole(b, o => o.LogToStandardErrorThreshold = Microsoft.Extensions.Logging.LogLevel.Trace);
                b.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Debug);
            }
        });
        await using var service = new AzureStorageOrchestrationService(settings, logging);
        var registry = new DurableTaskRegistry()
            .AddOrchestratorFunc(orchestrator, body)
            .AddActivityFunc<int, int>("Work", static (_, i) => i);
        var worker = new DurableTaskWorker(service, registry, new DurableTaskWorkerOptions { MaxConcurrentActivities = 64, MaxConcurrentOrchestrations = 8 }, logging);
        try
        {
            await worker.StartAsync();
            // Poll gently: every status poll downloads the instance record and competes with the run for Azurite.
            var client = new DurableTaskClient(service) { MaxPollingInterval = TimeSpan.FromMilliseconds(100) };
            var requestsBefore = service.StorageRequestCounts;
            var watch = Stopwatch.StartNew();
            var id = await client.ScheduleNewOrchestrationInstanceAsync(orchestrator, n);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            var result = await client.WaitForInstanceCompletionAsync(id, true, timeout.Token);
            watch.Stop();
            if (result.RuntimeStatus != OrchestrationRuntimeStatus.Completed || result.ReadOutputAs<int>() != Enumerable.Range(0, n).Sum())
            {
                Console.Error.WriteLine($"{orchestrator} ended {result.RuntimeStatus}: {result.FailureDetails}");
                return 1;
            }

            var rate = n / watch.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"{n} activities in {watch.Elapsed.TotalSeconds:F2} s ({orchestrator}, hub {settings.TaskHubName})");
            // The real cost metric: storage REST calls per activity (the anchor pays 3 per round trip), status polls included.
            var requests = service.StorageRequestCounts.Select(kv => (kv.Key, Count: kv.Value - requestsBefore.GetValueOrDefault(kv.Key))).Where(x => x.Count > 0).OrderByDescending(x => x.Count).ToList();
            Console.Error.WriteLine($"storage requests: {requests.Sum(x => x.Count)} ({requests.Sum(x => x.Count) / (double)n:F2} per activity): " +
                                    string.Join(", ", requests.Select(x => $"{x.Key} {x.Count}")));
            Console.WriteLine(rate.ToString("F1", CultureInfo.InvariantCulture));
            return 0;
        }
        finally
        {
            await worker.StopAsync();
            await service.DeleteAsync();
        }
    }
}
