using System.Text.RegularExpressions;

namespace Durable.DurableTask.AzureStorage;

/// <summary>Settings of the Azure Storage task hub; names and defaults follow DurableTask.AzureStorage / host.json.</summary>
public sealed partial record AzureStorageOrchestrationServiceSettings
{
    /// <summary>The storage connection string (the value of AzureWebJobsStorage).</summary>
    public required string StorageConnectionString { get; init; }

    public string TaskHubName { get; init; } = "TestHubName";

    /// <summary>Number of control queues (1-16); fixed when the hub is created.</summary>
    public int PartitionCount { get; init; } = 4;

    public int ControlQueueBatchSize { get; init; } = 32;

    /// <summary>Control messages buffered per partition before polling pauses.</summary>
    public int ControlQueueBufferThreshold { get; init; } = 256;

    public TimeSpan ControlQueueVisibilityTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan WorkItemQueueVisibilityTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Ceiling of the idle polling back-off.</summary>
    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MinQueuePollingInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Partition lease length (15-60 s): a dead host's partitions move after at most this long.</summary>
    public TimeSpan LeaseInterval { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan LeaseRenewInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deliveries after which a message is parked in the poison queue instead of retried.</summary>
    public int MaxDequeueCount { get; init; } = 10;

    /// <summary>Messages whose encoded form is larger go to a blob (the queue limit is 64 KiB).</summary>
    public int LargeMessageThresholdBytes { get; init; } = 45 * 1024;

    /// <summary>Activity messages fetched ahead of execution.</summary>
    public int ActivityPrefetch { get; init; } = 32;

    /// <summary>
    /// Hand a control message for a partition this host owns straight to the partition's session (put invisible, no
    /// poller GET) instead of leaving it for the poller. Off by default: with it on, a command event raised right after
    /// a graceful host restart was sometimes never processed (the SwitchTraffic crash tests, docs/movetables.md); the
    /// poller path is the proven one. Activity packs are still handed to local workers when there is room.
    /// </summary>
    public bool LocalControlHandOver { get; init; }

    /// <summary>
    /// Most activities packed into one work-item message (1-32; 1 sends one message per activity). A fan-out of N
    /// activities costs about N / ActivityBatchSize queue PUTs, GETs and deletes instead of N of each.
    /// </summary>
    public int ActivityBatchSize { get; init; } = 32;

    /// <summary>
    /// Fewest work-item messages a fan-out is spread over before activities are packed together, so a fan-out of a few
    /// long activities (a copy per shard) still runs on several hosts: 8 activities go as 8 messages, 1,000 as 32 packs.
    /// </summary>
    public int ActivityBatchSpread { get; init; } = 16;

    public TimeSpan MaxAbandonDelay { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan BaseAbandonDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Identifies this host in logs and lease records.</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    public void Validate()
    {
        if (string.IsNullOrEmpty(TaskHubName) || !HubName().IsMatch(TaskHubName))
        {
            throw new ArgumentException(
                $"Task hub name '{TaskHubName}' is invalid: use 3-45 letters and digits, starting with a letter (it becomes part of queue and container names).");
        }

        if (PartitionCount is < 1 or > 16)
        {
            throw new ArgumentException($"PartitionCount {PartitionCount} is invalid: use 1 to 16.");
        }

        if (LeaseInterval < TimeSpan.FromSeconds(15) || LeaseInterval > TimeSpan.FromSeconds(60))
        {
            throw new ArgumentException($"LeaseInterval {LeaseInterval} is invalid: a blob lease lasts 15 to 60 seconds.");
        }

        if (LeaseRenewInterval <= TimeSpan.Zero || LeaseRenewInterval >= LeaseInterval)
        {
            throw new ArgumentException($"LeaseRenewInterval {LeaseRenewInterval} must be positive and shorter than LeaseInterval {LeaseInterval}.");
        }

        if (ControlQueueBatchSize is < 1 or > 32)
        {
            throw new ArgumentException($"ControlQueueBatchSize {ControlQueueBatchSize} is invalid: use 1 to 32.");
        }

        if (ActivityBatchSize is < 1 or > 32)
        {
            throw new ArgumentException($"ActivityBatchSize {ActivityBatchSize} is invalid: use 1 (no packing) to 32.");
        }

        if (ActivityBatchSpread < 1)
        {
            throw new ArgumentException($"ActivityBatchSpread {ActivityBatchSpread} is invalid: use 1 or more.");
        }

        if (ActivityPrefetch < 1)
        {
            throw new ArgumentException($"ActivityPrefetch {ActivityPrefetch} is invalid: use 1 or more.");
        }

        if (MaxDequeueCount < 1)
        {
            throw new ArgumentException($"MaxDequeueCount {MaxDequeueCount} is invalid: use 1 or more.");
        }

        if (MaxQueuePollingInterval < MinQueuePollingInterval)
        {
            throw new ArgumentException($"MaxQueuePollingInterval {MaxQueuePollingInterval} must be at least MinQueuePollingInterval {MinQueuePollingInterval}.");
        }

        if (LargeMessageThresholdBytes is < 1024 or > 60 * 1024)
        {
            throw new ArgumentException($"LargeMessageThresholdBytes {LargeMessageThresholdBytes} is invalid: use 1024 to 61440.");
        }
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,44}$")]
    private static partial Regex HubName();
}
