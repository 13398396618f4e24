namespace Durable.DurableTask.Worker;

public enum VersionMismatchBehavior
{
    /// <summary>Fail the instance with a message naming the recorded and the registered versions.</summary>
    Fail,

    /// <summary>Leave the instance's messages for another host that has the recorded version (rolling deployments).</summary>
    Abandon,
}

public sealed record DurableTaskWorkerOptions
{
    public int MaxConcurrentOrchestrations { get; init; } = 10 * Environment.ProcessorCount;

    public int MaxConcurrentActivities { get; init; } = 10 * Environment.ProcessorCount;

    /// <summary>Longest single durable timer; longer waits are chained (Azure Storage queues cap a delay at 7 days).</summary>
    public TimeSpan MaximumTimerInterval { get; init; } = TimeSpan.FromDays(3);

    public VersionMismatchBehavior VersionMismatch { get; init; } = VersionMismatchBehavior.Fail;

    /// <summary>How often a running activity's message lock is renewed.</summary>
    public TimeSpan ActivityRenewInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How many ContinueAsNew generations one work item may run before the instance is failed as a runaway loop.</summary>
    public int MaxGenerationsPerEpisode { get; init; } = 100;
}
