using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Durable.Functions.Engine;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Testing;

/// <summary>
/// A private task hub on the local cluster's Azurite for one test: its own name (so tests never share queues or
/// history), one partition, and short polling and visibility so a test waits milliseconds, not the production
/// seconds. The caller starts it and ends it with <see cref="DisposeAndDeleteAsync"/>, which removes its storage.
/// </summary>
public static class TestTaskHub
{
    public static TaskHub Create(DurableTaskRegistry registry, IServiceProvider services, string? name = null, ILoggerFactory? loggerFactory = null,
        Action<AzureStorageOrchestrationServiceSettings>? tune = null, Func<IOrchestrationService, IOrchestrationService>? decorate = null)
    {
        var settings = Settings(name ?? NewName());
        tune?.Invoke(settings);
        return new TaskHub(settings, registry, services, loggerFactory ?? NullLoggerFactory.Instance, decorate);
    }

    /// <summary>Creates and starts a hub; end with <see cref="DisposeAndDeleteAsync"/> when the test ends.</summary>
    public static async Task<TaskHub> StartAsync(DurableTaskRegistry registry, IServiceProvider services, string? name = null,
        Action<AzureStorageOrchestrationServiceSettings>? tune = null, Func<IOrchestrationService, IOrchestrationService>? decorate = null)
    {
        var hub = Create(registry, services, name, tune: tune, decorate: decorate);
        await hub.StartAsync();
        return hub;
    }

    public static string NewName() => "T" + Guid.NewGuid().ToString("N")[..20];

    public static AzureStorageOrchestrationServiceSettings Settings(string name) => new()
    {
        StorageAccountClientProvider = new StorageAccountClientProvider(LocalCluster.Current.AzureStorageConnectionString),
        TaskHubName = name,
        PartitionCount = 1,
        MaxQueuePollingInterval = TimeSpan.FromMilliseconds(100),
        WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(20),
        ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
        UseTablePartitionManagement = true,
        MaxConcurrentTaskActivityWorkItems = 8,
        MaxConcurrentTaskOrchestrationWorkItems = 8,
        // As the product's settings (TaskHubSettings.ToAzureStorage): a start with a taken id is refused, not ignored.
        ThrowExceptionOnInvalidDedupeStatus = true,
    };

    /// <summary>Stops the hub's worker and deletes its tables, queues and containers; errors are ignored (the test already has its verdict).</summary>
    public static async Task DisposeAndDeleteAsync(this TaskHub hub)
    {
        try
        {
            await hub.StopAsync();
            await BreakAppLeaseAsync(hub.Name);
            await hub.Service.DeleteAsync();
            await DeleteAppLeaseContainerAsync(hub.Name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"deleting test task hub {hub.Name}: {e.Message}");
        }

        await hub.DisposeAsync();
    }

    /// <summary>
    /// Deletes a hub this process no longer runs (several hosts shared it, or a child process ran it) by name; errors
    /// are ignored, as in <see cref="DisposeAndDeleteAsync"/>.
    /// </summary>
    public static async Task DeleteAsync(string name)
    {
        try
        {
            await BreakAppLeaseAsync(name);
            await new AzureStorageOrchestrationService(Settings(name)).DeleteAsync();
            await DeleteAppLeaseContainerAsync(name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"deleting test task hub {name}: {e.Message}");
        }
    }

    /// <summary>
    /// The provider's DeleteAsync leaves the app lease container (&lt;hub&gt;-applease) its workers create by default;
    /// without this every test would leave one behind on the shared Azurite. Call <see cref="BreakAppLeaseAsync"/> first.
    /// </summary>
    public static Task DeleteAppLeaseContainerAsync(string name) => AppLeaseContainer(name).DeleteIfExistsAsync();

    /// <summary>
    /// The app lease is a lease on that container itself, and a stopped worker still holds it (it runs out after a
    /// minute): the container cannot be deleted until the lease is broken.
    /// </summary>
    public static async Task BreakAppLeaseAsync(string name)
    {
        try
        {
            await AppLeaseContainer(name).GetBlobLeaseClient().BreakAsync(TimeSpan.Zero);
        }
        catch (RequestFailedException e) when (e.Status is 404 or 409)
        {
            // No container, or no lease on it: nothing to break.
        }
    }

    private static BlobContainerClient AppLeaseContainer(string name) =>
        new(LocalCluster.Current.AzureStorageConnectionString, name.ToLowerInvariant() + "-applease");
}
