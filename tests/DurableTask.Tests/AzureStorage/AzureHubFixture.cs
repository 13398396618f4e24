using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.Client;
using Durable.DurableTask.Worker;
using Durable.Testing;

namespace Durable.DurableTask.Tests.AzureStorage;

/// <summary>A private task hub (unique name) on the cluster's Azurite, with hosts started in this process; deleted afterwards.</summary>
public sealed class AzureHub : IAsyncDisposable
{
    private readonly List<(DurableTaskWorker Worker, AzureStorageOrchestrationService Service)> _hosts = new();

    public AzureHub(string? hubName = null, int partitions = 4)
    {
        HubName = hubName ?? "t" + Guid.NewGuid().ToString("N")[..16];
        Partitions = partitions;
        Service = NewService();
    }

    public string HubName { get; }

    public int Partitions { get; }

    /// <summary>Client-side service (it never starts a worker, so it owns no partitions).</summary>
    public AzureStorageOrchestrationService Service { get; }

    public DurableTaskClient Client => new(Service) { MaxPollingInterval = TimeSpan.FromMilliseconds(200) };

    public static AzureStorageOrchestrationServiceSettings Settings(string hubName, int partitions) => new()
    {
        StorageConnectionString = LocalCluster.Current.AzureStorageConnectionString,
        TaskHubName = hubName,
        PartitionCount = partitions,
        LeaseInterval = TimeSpan.FromSeconds(15),
        LeaseRenewInterval = TimeSpan.FromSeconds(3),
        MaxQueuePollingInterval = TimeSpan.FromSeconds(1),
        ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
        WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
        MaxDequeueCount = 3,
        BaseAbandonDelay = TimeSpan.FromMilliseconds(200),
        MaxAbandonDelay = TimeSpan.FromSeconds(2),
    };

    public AzureStorageOrchestrationService NewService(Func<AzureStorageOrchestrationServiceSettings, AzureStorageOrchestrationServiceSettings>? tweak = null)
    {
        var s = Settings(HubName, Partitions);
        return new AzureStorageOrchestrationService(tweak is null ? s : tweak(s));
    }

    public async Task<(DurableTaskWorker Worker, AzureStorageOrchestrationService Service)> StartHostAsync(Action<DurableTaskRegistry> register, DurableTaskWorkerOptions? options = null)
    {
        var registry = new DurableTaskRegistry();
        register(registry);
        var service = NewService();
        var worker = new DurableTaskWorker(service, registry, options ?? new DurableTaskWorkerOptions { MaxConcurrentActivities = 32, MaxConcurrentOrchestrations = 8 });
        await worker.StartAsync();
        _hosts.Add((worker, service));
        return (worker, service);
    }

    public async Task StopHostAsync((DurableTaskWorker Worker, AzureStorageOrchestrationService Service) host)
    {
        await host.Worker.StopAsync();
        _hosts.Remove(host);
    }

    public async Task<OrchestrationMetadata> WaitAsync(string id, int seconds = 60)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            return await Client.WaitForInstanceCompletionAsync(id, true, cts.Token);
        }
        catch (OperationCanceledException)
        {
            var m = await Client.GetInstanceAsync(id, true);
            throw new TimeoutException($"Instance {id} did not finish in {seconds}s; it is {m?.RuntimeStatus.ToString() ?? "missing"}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts.ToList())
        {
            await h.Worker.StopAsync();
        }

        await Service.DeleteAsync();
        await Service.DisposeAsync();
    }
}
