using Durable.Functions.Engine;
using Durable.Functions.Runner;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Engine.Tests;

/// <summary>host.json's extensions.durableTask reaches the framework's Azure Storage provider under its own names.</summary>
public sealed class TaskHubSettingsTests
{
    [Fact]
    public void The_product_settings_reach_the_provider_and_a_start_with_a_taken_id_is_refused_not_ignored()
    {
        var d = new DurableTaskSettings
        {
            PartitionCount = 6,
            MaxQueuePollingInterval = TimeSpan.FromSeconds(2),
            ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(40),
            WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(25),
            ExtendedSessionsEnabled = true,
            UseTablePartitionManagement = false,
            LeaseInterval = TimeSpan.FromSeconds(45),
            LeaseAcquireInterval = TimeSpan.FromSeconds(7),
            LeaseRenewInterval = TimeSpan.FromSeconds(9),
            MaxConcurrentActivityFunctions = 3,
            MaxConcurrentOrchestratorFunctions = 5,
        };
        var s = TaskHubSettings.ToAzureStorage(d, "Hub1", "UseDevelopmentStorage=true", "worker-1", NullLoggerFactory.Instance);

        Assert.Equal("Hub1", s.TaskHubName);
        Assert.Equal("worker-1", s.WorkerId);
        Assert.Equal(6, s.PartitionCount);
        Assert.Equal(TimeSpan.FromSeconds(2), s.MaxQueuePollingInterval);
        Assert.Equal(TimeSpan.FromSeconds(40), s.ControlQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(25), s.WorkItemQueueVisibilityTimeout);
        Assert.True(s.ExtendedSessionsEnabled);
        Assert.False(s.UseTablePartitionManagement);
        Assert.Equal(TimeSpan.FromSeconds(45), s.LeaseInterval);
        Assert.Equal(TimeSpan.FromSeconds(7), s.LeaseAcquireInterval);
        Assert.Equal(TimeSpan.FromSeconds(9), s.LeaseRenewInterval);
        Assert.Equal(3, s.MaxConcurrentTaskActivityWorkItems);
        Assert.Equal(5, s.MaxConcurrentTaskOrchestrationWorkItems);
        // The provider's default silently drops such a start and the client would report success.
        Assert.True(s.ThrowExceptionOnInvalidDedupeStatus);
    }
}
