using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Engine;

/// <summary>
/// A task hub served by one process without the Functions host: the Azure Storage orchestration service, a client
/// and a worker over one shared service object (an event raised here reaches an instance on a partition this process
/// owns at once). For tools, benchmarks and tests that run orchestrations in-process; the host wires the same parts
/// through its service container.
/// </summary>
public sealed class TaskHub : IAsyncDisposable
{
    /// <param name="decorate">Wraps the worker's view of the hub (inside the fault points); tests use it to deliver a message twice.</param>
    public TaskHub(AzureStorageOrchestrationServiceSettings settings, DurableTaskRegistry registry, IServiceProvider services, ILoggerFactory loggerFactory,
        Func<IOrchestrationService, IOrchestrationService>? decorate = null)
    {
        Name = settings.TaskHubName;
        // The client refuses a start whose id belongs to an unfinished instance; the provider only says so when told to.
        settings.ThrowExceptionOnInvalidDedupeStatus = true;
        Service = new AzureStorageOrchestrationService(settings);
        Client = new DurableHubClient(Service, settings.TaskHubName);
        Engine = new TaskHubEngine(new FaultPointOrchestrationService(decorate?.Invoke(Service) ?? Service), registry, services, loggerFactory);
    }

    public string Name { get; }

    public AzureStorageOrchestrationService Service { get; }

    public DurableHubClient Client { get; }

    public TaskHubEngine Engine { get; }

    public Task StartAsync() => Engine.StartAsync();

    public Task StopAsync(bool forced = false) => Engine.StopAsync(forced);

    /// <summary>
    /// Stops the worker and deletes the hub's tables, queues and containers, except the app-lease container the
    /// framework leaves behind (break its lease and delete "&lt;hub&gt;-applease" to remove every trace).
    /// </summary>
    public async Task DeleteAsync()
    {
        await Engine.StopAsync().ConfigureAwait(false);
        await Service.DeleteAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => Engine.DisposeAsync();
}
