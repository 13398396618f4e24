using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Worker;
using Microsoft.DurableTask.Worker.Shims;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using DtfxTaskActivity = DurableTask.Core.TaskActivity;

namespace Durable.Functions.Engine;

/// <summary>
/// Runs the orchestrators and activities of a Microsoft.DurableTask <see cref="DurableTaskRegistry"/> on the Durable
/// Task Framework's <see cref="TaskHubWorker"/>: each registration becomes a framework object creator that builds the
/// worker's shim around the registered class, activities in a service scope per work item. This is the bridge
/// Microsoft.DurableTask offers for the framework's own providers (<see cref="DurableTaskShimFactory"/>); the replay
/// engine, history and storage are the framework's.
/// </summary>
public sealed class TaskHubEngine : IAsyncDisposable
{
    private readonly TaskHubWorker _worker;
    private readonly IOrchestrationService _service;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;
    private bool _started;

    /// <param name="metrics">Where episodes and activity executions are counted; null: not measured.</param>
    public TaskHubEngine(IOrchestrationService service, DurableTaskRegistry registry, IServiceProvider services, ILoggerFactory loggerFactory,
        EngineMetrics? metrics = null, DurableTaskWorkerOptions? workerOptions = null)
    {
        _service = service;
        _logger = loggerFactory.CreateLogger<TaskHubEngine>();
        var shims = new DurableTaskShimFactory(workerOptions ?? new DurableTaskWorkerOptions(), loggerFactory);
        var scopes = services.GetRequiredService<IServiceScopeFactory>();
        _worker = new TaskHubWorker(service, loggerFactory)
        {
            // Microsoft.DurableTask reads failures as FailureDetails (as its own hosts configure the framework): with the
            // framework's default (serialized exceptions) a failed sub-orchestration has none, its caller's shim throws
            // NullReferenceException instead of TaskFailedException, and a failed instance's status shows no failure.
            ErrorPropagationMode = ErrorPropagationMode.UseFailureDetails,
        };

        foreach (var (name, factory) in registry.GetOrchestrators())
        {
            OrchestratorNames.Add(name.Name);
            _worker.AddTaskOrchestrations(new FactoryObjectCreator<TaskOrchestration>(name.Name, () => new RegisteredOrchestration(name, () => factory(services), shims)));
        }

        foreach (var (name, factory) in registry.GetActivities())
        {
            ActivityNames.Add(name.Name);
            _worker.AddTaskActivities(new FactoryObjectCreator<DtfxTaskActivity>(name.Name, () => new RegisteredActivity(name, factory, scopes, shims, _stopping.Token)));
        }

        _worker.AddOrchestrationDispatcherMiddleware(ParentInstanceMiddleware.InvokeAsync);
        if (metrics is not null)
        {
            _worker.AddOrchestrationDispatcherMiddleware(metrics.OnOrchestrationAsync);
            _worker.AddActivityDispatcherMiddleware(metrics.OnActivityAsync);
        }
    }

    public List<string> OrchestratorNames { get; } = [];

    public List<string> ActivityNames { get; } = [];

    /// <summary>Creates the task hub's queues, tables and containers if they are missing, then starts dispatching.</summary>
    public async Task StartAsync()
    {
        await _service.CreateIfNotExistsAsync().ConfigureAwait(false);
        await _worker.StartAsync().ConfigureAwait(false);
        _started = true;
    }

    /// <summary>
    /// Stops taking work and lets running work items finish; an activity that watches the host's stopping token ends
    /// early and its work item is abandoned (it runs again on another host). Partitions are released so another host
    /// takes them over without waiting for their leases to expire.
    /// </summary>
    public async Task StopAsync(bool forced = false)
    {
        if (!_started)
        {
            return;
        }

        _started = false;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _worker.StopAsync(forced).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogWarning(e, "The durable worker did not stop cleanly; its leases expire on their own.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _worker.Dispose();
        _stopping.Dispose();
    }
}
