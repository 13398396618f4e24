using Durable.Functions.Hosting;
using DurableTask.AzureStorage;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Engine;

/// <summary>host.json's extensions.durableTask as the Durable Task Framework's Azure Storage settings (the names are Durable Functions').</summary>
public static class TaskHubSettings
{
    public static AzureStorageOrchestrationServiceSettings ToAzureStorage(
        DurableTaskSettings durable, string hubName, string connectionString, string workerId, ILoggerFactory loggerFactory) =>
        new()
        {
            StorageAccountClientProvider = new StorageAccountClientProvider(connectionString),
            TaskHubName = hubName,
            WorkerId = workerId,
            PartitionCount = durable.PartitionCount,
            MaxQueuePollingInterval = durable.MaxQueuePollingInterval,
            ControlQueueVisibilityTimeout = durable.ControlQueueVisibilityTimeout,
            WorkItemQueueVisibilityTimeout = durable.WorkItemQueueVisibilityTimeout,
            ExtendedSessionsEnabled = durable.ExtendedSessionsEnabled,
            MaxConcurrentTaskActivityWorkItems = durable.MaxConcurrentActivityFunctions,
            MaxConcurrentTaskOrchestrationWorkItems = durable.MaxConcurrentOrchestratorFunctions,
            UseTablePartitionManagement = durable.UseTablePartitionManagement,
            LeaseInterval = durable.LeaseInterval,
            LeaseAcquireInterval = durable.LeaseAcquireInterval,
            LeaseRenewInterval = durable.LeaseRenewInterval,
            // Without it the provider ignores a start whose chosen id is taken by an unfinished instance and the client
            // reports success; DurableHubClient promises (and the management API answers 409 on) a refusal.
            ThrowExceptionOnInvalidDedupeStatus = true,
            LoggerFactory = loggerFactory,
        };
}
