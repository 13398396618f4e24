using Durable.Functions.Runner;
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
            // Without it the provider drops a start whose id belongs to an unfinished instance without a word, and the
            // caller (the management API's 409, DurableHubClient's promise) cannot tell it from a start that happened.
            ThrowExceptionOnInvalidDedupeStatus = true,
            LoggerFactory = loggerFactory,
        };
}
