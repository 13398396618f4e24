using Durable.DurableTask.Client;
using Durable.DurableTask.InMemory;
using Durable.DurableTask.Runtime;
using Durable.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Hosting;

/// <summary>Adds orchestrators and activities to the host's worker; activities take their dependencies from the host's services.</summary>
public sealed record DurableRegistration(Action<DurableTaskRegistry, IServiceProvider> Configure);

/// <summary>
/// Wires the durable runtime into the host: the task hub chosen by host.json's storageProvider.type, one
/// <see cref="DurableTaskClient"/> for HTTP triggers and the management API, and the worker as a hosted service
/// with host.json's concurrency limits, stopped gracefully (in-flight work finishes, partitions are released).
/// </summary>
public static class DurableRuntime
{
    public const string InMemoryProvider = "InMemory";
    public const string AzureStorageProvider = "AzureStorage";

    public static IServiceCollection AddOrchestrations(this IServiceCollection services, Action<DurableTaskRegistry, IServiceProvider> configure) =>
        services.AddSingleton(new DurableRegistration(configure));

    /// <summary>For orchestrators and activities that need nothing from the host's services.</summary>
    public static IServiceCollection AddOrchestrations(this IServiceCollection services, Action<DurableTaskRegistry> configure) =>
        services.AddOrchestrations((registry, _) => configure(registry));

    /// <summary>
    /// How often a running activity's work-item message is renewed: a third of its visibility timeout (at most a minute),
    /// so a renewal that fails once still has time to succeed before the message reappears. A fixed minute let an
    /// activity under a shorter visibility (host.json workItemQueueVisibilityTimeout, 10 s minimum) reappear while
    /// running and run twice.
    /// </summary>
    internal static TimeSpan ActivityRenewInterval(TimeSpan workItemVisibility) =>
        TimeSpan.FromTicks(Math.Clamp(workItemVisibility.Ticks / 3, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromMinutes(1).Ticks));

    internal static void AddDurableRuntime(IServiceCollection services, FunctionsHostSettings settings)
    {
        switch (settings.HostJson.DurableTask.StorageProviderType)
        {
            case InMemoryProvider:
                // One process, nothing survives a restart: for local experiments and in-process tests only.
                services.AddSingleton(_ => new InMemoryOrchestrationService());
                services.AddSingleton<IOrchestrationService>(sp => sp.GetRequiredService<InMemoryOrchestrationService>());
                services.AddSingleton<IOrchestrationServiceClient>(sp => sp.GetRequiredService<InMemoryOrchestrationService>());
                break;
            case AzureStorageProvider:
                AzureStorageHub.Register(services, settings);
                break;
            default:
                throw new HostJsonException($"extensions.durableTask.storageProvider.type '{settings.HostJson.DurableTask.StorageProviderType}' is not supported; valid: AzureStorage, InMemory.");
        }

        services.AddSingleton(sp =>
        {
            var registry = new DurableTaskRegistry();
            foreach (var r in sp.GetServices<DurableRegistration>())
            {
                r.Configure(registry, sp);
            }

            return registry;
        });
        services.AddSingleton(sp => new DurableTaskClient(sp.GetRequiredService<IOrchestrationServiceClient>(), settings.HubName));
        services.AddSingleton(sp => new DurableTaskWorker(
            sp.GetRequiredService<IOrchestrationService>(),
            sp.GetRequiredService<DurableTaskRegistry>(),
            new DurableTaskWorkerOptions
            {
                MaxConcurrentActivities = settings.HostJson.DurableTask.MaxConcurrentActivityFunctions,
                MaxConcurrentOrchestrations = settings.HostJson.DurableTask.MaxConcurrentOrchestratorFunctions,
                ActivityRenewInterval = ActivityRenewInterval(settings.HostJson.DurableTask.WorkItemQueueVisibilityTimeout),
            },
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService<DurableWorkerService>();
    }
}

/// <summary>Runs the durable worker for the life of the host; on shutdown it drains in-flight work within the shutdown timeout.</summary>
internal sealed class DurableWorkerService(DurableTaskWorker worker, FunctionsHostSettings settings, ILogger<DurableWorkerService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await worker.StartAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Durable worker started on task hub {Hub} ({Orchestrators} orchestrators, {Activities} activities registered).",
            settings.HubName, worker.Registry.OrchestratorNames.Count, worker.Registry.ActivityNames.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await worker.StopAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Durable worker stopped.");
    }
}
