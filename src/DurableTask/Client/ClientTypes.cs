namespace Durable.DurableTask.Client;

/// <summary>Upstream's runtime status values; the integers are wire-compatible with DurableTask.Core.</summary>
public enum OrchestrationRuntimeStatus
{
    Running = 0,
    Completed = 1,
    [Obsolete("ContinueAsNew is not a terminal status; instances report Running.")]
    ContinuedAsNew = 2,
    Failed = 3,
    [Obsolete("Not used by this runtime.")]
    Canceled = 4,
    Terminated = 5,
    Pending = 6,
    Suspended = 7,
}

/// <summary>An instance as a client sees it (Microsoft.DurableTask <c>OrchestrationMetadata</c>).</summary>
public sealed record OrchestrationMetadata(string Name, string InstanceId)
{
    public OrchestrationRuntimeStatus RuntimeStatus { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset LastUpdatedAt { get; init; }

    public string? SerializedInput { get; init; }

    public string? SerializedOutput { get; init; }

    public string? SerializedCustomStatus { get; init; }

    public TaskFailureDetails? FailureDetails { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>The orchestrator version the current execution runs.</summary>
    public string Version { get; init; } = string.Empty;

    public bool FetchedInputsAndOutputs { get; init; }

    public bool IsRunning => RuntimeStatus == OrchestrationRuntimeStatus.Running;

    public bool IsCompleted => RuntimeStatus is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated;

    public T? ReadInputAs<T>() => Read<T>(SerializedInput, "input");

    public T? ReadOutputAs<T>() => Read<T>(SerializedOutput, "output");

    public T? ReadCustomStatusAs<T>() => Read<T>(SerializedCustomStatus, "custom status");

    private T? Read<T>(string? json, string what)
    {
        if (!FetchedInputsAndOutputs)
        {
            throw new InvalidOperationException(
                $"The {what} of instance '{InstanceId}' was not fetched; call the client with getInputsAndOutputs: true.");
        }

        return json is null ? default : JsonDataConverter.Default.Deserialize<T>(json);
    }
}

/// <summary>Filter and paging of an instance query (Microsoft.DurableTask <c>OrchestrationQuery</c>).</summary>
public sealed record OrchestrationQuery(
    DateTimeOffset? CreatedFrom = null,
    DateTimeOffset? CreatedTo = null,
    IEnumerable<OrchestrationRuntimeStatus>? Statuses = null,
    IEnumerable<string>? TaskHubNames = null,
    string? InstanceIdPrefix = null,
    int PageSize = OrchestrationQuery.DefaultPageSize,
    bool FetchInputsAndOutputs = false,
    string? ContinuationToken = null)
{
    public const int DefaultPageSize = 100;
}

/// <summary>One page of a query; a null token means the end.</summary>
public sealed record Page<T>(IReadOnlyList<T> Values, string? ContinuationToken);

public sealed record PurgeInstancesFilter(
    DateTimeOffset? CreatedFrom = null,
    DateTimeOffset? CreatedTo = null,
    IEnumerable<OrchestrationRuntimeStatus>? Statuses = null);

public sealed record PurgeResult(int PurgedInstanceCount, bool? IsComplete = true);
