using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Hosting;

/// <summary>The Azure Storage task hub (src/DurableTask/AzureStorage) configured from host.json and the connection setting.</summary>
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

            var durable = settings.HostJson.DurableTask;
            var hubSettings = new AzureStorageOrchestrationServiceSettings
            {
                StorageConnectionString = connection,
                TaskHubName = settings.HubName,
                PartitionCount = durable.PartitionCount,
                MaxQueuePollingInterval = durable.MaxQueuePollingInterval,
                ControlQueueVisibilityTimeout = durable.ControlQueueVisibilityTimeout,
                WorkItemQueueVisibilityTimeout = durable.WorkItemQueueVisibilityTimeout,
                WorkerId = settings.ReplicaId,
            };
            try
            {
                return new AzureStorageOrchestrationService(hubSettings, sp.GetRequiredService<ILoggerFactory>());
            }
            catch (ArgumentException e)
            {
                throw new HostJsonException($"extensions.durableTask: {e.Message}");
            }
        });
        services.AddSingleton<IOrchestrationService>(sp => sp.GetRequiredService<AzureStorageOrchestrationService>());
        services.AddSingleton<IOrchestrationServiceClient>(sp => sp.GetRequiredService<AzureStorageOrchestrationService>());
    }
}
