using Durable.Functions.Engine;
using Durable.Functions.Metrics;
using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Runner;

/// <summary>Adds orchestrators and activities to the host's worker; activities take their dependencies from the host's services.</summary>
public sealed record DurableRegistration(Action<DurableTaskRegistry, IServiceProvider> Configure);

/// <summary>
/// Wires the durable engine into the host: the Azure Storage task hub, one <see cref="DurableHubClient"/> (also served as
/// <see cref="DurableTaskClient"/>) for HTTP triggers and the management API, and the worker as a hosted service,
/// stopped gracefully (in-flight work finishes or is abandoned to another host, partitions are released).
/// </summary>
public static class DurableRuntime
{
    public const string AzureStorageProvider = "AzureStorage";

    public static IServiceCollection AddOrchestrations(this IServiceCollection services, Action<DurableTaskRegistry, IServiceProvider> configure) =>
        services.AddSingleton(new DurableRegistration(configure));

    /// <summary>For orchestrators and activities that need nothing from the host's services.</summary>
    public static IServiceCollection AddOrchestrations(this IServiceCollection services, Action<DurableTaskRegistry> configure) =>
        services.AddOrchestrations((registry, _) => configure(registry));

    internal static void AddDurableRuntime(IServiceCollection services, FunctionsHostSettings settings)
    {
        AzureStorageHub.Register(services, settings);
        services.AddSingleton(sp =>
        {
            var registry = new DurableTaskRegistry();
            foreach (var r in sp.GetServices<DurableRegistration>())
            {
                r.Configure(registry, sp);
            }

            // The app's [OrchestrationTrigger] and [ActivityTrigger] functions, as read from their attributes.
            var functions = sp.GetRequiredService<TriggerRegistry>();
            foreach (var o in functions.Orchestrations)
            {
                registry.AddOrchestrator(o.Name, () => new FunctionOrchestrator(o, sp));
            }

            foreach (var a in functions.Activities)
            {
                registry.AddActivity(a.Name, scope => new FunctionActivity(a, scope));
            }

            return registry;
        });
        services.AddSingleton(sp => new DurableHubClient(sp.GetRequiredService<IOrchestrationServiceClient>(), settings.HubName));
        services.AddSingleton<DurableTaskClient>(sp => sp.GetRequiredService<DurableHubClient>());
        services.AddSingleton(sp => new EngineMetrics(sp.GetRequiredService<MetricsScope>()));
        services.AddSingleton(sp => new TaskHubEngine(
            sp.GetRequiredService<IOrchestrationService>(),
            sp.GetRequiredService<DurableTaskRegistry>(),
            sp,
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<EngineMetrics>()));
        // Started before the worker: it reads who held the partitions before this host claims them.
        services.AddHostedService<PartitionOwnershipReport>();
        services.AddSingleton<RunnerReadiness>();
        services.AddHostedService<DurableWorkerService>();
    }
}

/// <summary>Runs the durable worker for the life of the host; on shutdown it drains in-flight work within the shutdown timeout.</summary>
internal sealed class DurableWorkerService(TaskHubEngine engine, FunctionsHostSettings settings, RunnerReadiness readiness, ILogger<DurableWorkerService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await engine.StartAsync().ConfigureAwait(false);
        readiness.WorkerStarted(settings.HubName);
        logger.LogInformation("Durable worker {WorkerId} started on task hub {Hub} ({Orchestrators} orchestrators, {Activities} activities registered).",
            settings.ReplicaId, settings.HubName, engine.OrchestratorNames.Count, engine.ActivityNames.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await engine.StopAsync().ConfigureAwait(false);
        logger.LogInformation("Durable worker {WorkerId} stopped.", settings.ReplicaId);
    }
}
