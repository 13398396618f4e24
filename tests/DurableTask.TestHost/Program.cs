using Durable.DurableTask;
using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.Worker;

// Test host: runs a worker on the hub named by DURABLE_TESTHOST_HUB until stdin closes or it is killed.
// Activities append "run <instance> <step>" to DURABLE_TESTHOST_LOG, so a test can see which activities ran, and how often.
var connection = Environment.GetEnvironmentVariable("AzureWebJobsStorage")
                 ?? throw new InvalidOperationException("AzureWebJobsStorage is not set.");
var hub = Environment.GetEnvironmentVariable("DURABLE_TESTHOST_HUB")
          ?? throw new InvalidOperationException("DURABLE_TESTHOST_HUB is not set.");
var log = Environment.GetEnvironmentVariable("DURABLE_TESTHOST_LOG")
          ?? throw new InvalidOperationException("DURABLE_TESTHOST_LOG is not set.");
var partitions = int.Parse(Environment.GetEnvironmentVariable("DURABLE_TESTHOST_PARTITIONS") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
var gate = new SemaphoreSlim(1);

var registry = new DurableTaskRegistry()
    .AddOrchestratorFunc<int, int>("Chain", async (ctx, n) =>
    {
        var sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += await ctx.CallActivityAsync<int>("Step", i);
        }

        return sum;
    })
    .AddOrchestratorFunc<int, int>("FanOut", async (ctx, n) =>
        (await Task.WhenAll(Enumerable.Range(0, n).Select(i => ctx.CallActivityAsync<int>("Step", i)))).Sum())
    .AddOrchestratorFunc<int, string>("Timer", async (ctx, seconds) =>
    {
        await ctx.CreateTimer(TimeSpan.FromSeconds(seconds), CancellationToken.None);
        await ctx.CallActivityAsync<int>("Step", 0);
        return "fired";
    })
    .AddActivityFunc<int, int>("Step", async (ctx, i) =>
    {
        await gate.WaitAsync();
        try
        {
            await File.AppendAllTextAsync(log, $"run {ctx.InstanceId} {i}\n");
        }
        finally
        {
            gate.Release();
        }

        // Slow enough that a kill can land while an activity is in flight.
        await Task.Delay(200);
        return i;
    });

await using var service = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
{
    StorageConnectionString = connection,
    TaskHubName = hub,
    PartitionCount = partitions,
    LeaseInterval = TimeSpan.FromSeconds(15),
    LeaseRenewInterval = TimeSpan.FromSeconds(3),
    ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(10),
    WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(10),
    MaxQueuePollingInterval = TimeSpan.FromMilliseconds(500),
});
var worker = new DurableTaskWorker(service, registry, new DurableTaskWorkerOptions
{
    MaxConcurrentActivities = 4,
    MaxConcurrentOrchestrations = 4,
    ActivityRenewInterval = TimeSpan.FromSeconds(3),
});
await worker.StartAsync();
Console.WriteLine("ready");

// Stop gracefully when the test closes stdin.
await Console.In.ReadToEndAsync();
await worker.StopAsync();
return 0;
