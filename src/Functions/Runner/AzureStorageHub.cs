using Durable.Functions.Engine;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Runner;

/// <summary>
/// The task hub: the Durable Task Framework's Azure Storage provider configured from host.json's
/// extensions.durableTask and the connection setting. One <see cref="AzureStorageOrchestrationService"/> per process
/// serves both the worker and the client, so an event raised by this host's HTTP API reaches an instance whose
/// partition this host owns without waiting for a queue poll.
/// </summary>
internal static class AzureStorageHub
{
    public static void Register(IServiceCollection services, FunctionsHostSettings settings)
    {
        services.AddSingleton(sp =>
        {
            var name = settings.StorageConnectionSettingName;
            var connection = sp.GetRequiredService<IConfiguration>()[name];
            if (string.IsNullOrWhiteSpace(connection))
            {
                throw new HostJsonException(
                    $"The task hub's storage connection setting {name} (extensions.durableTask.storageProvider.connectionName) is not set; " +
                    "set it to UseDevelopmentStorage=true (Azurite) or a full connection string in local.settings.json Values or the environment.");
            }

            var hubSettings = TaskHubSettings.ToAzureStorage(settings.HostJson.DurableTask, settings.HubName, connection, settings.ReplicaId,
                sp.GetRequiredService<ILoggerFactory>());
            try
            {
                return new AzureStorageOrchestrationService(hubSettings);
            }
            catch (ArgumentException e)
            {
                throw new HostJsonException($"extensions.durableTask: {e.Message}");
            }
        });
        services.AddSingleton<IOrchestrationServiceClient>(sp => sp.GetRequiredService<AzureStorageOrchestrationService>());
        // The worker sees the hub through the fault-point decorator so crash tests can stop it at any step of an episode.
        services.AddSingleton<IOrchestrationService>(sp => new FaultPointOrchestrationService(sp.GetRequiredService<AzureStorageOrchestrationService>()));
    }
}
