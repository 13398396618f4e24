namespace Durable.DurableTask;

/// <summary>Options of one activity or sub-orchestration call (Microsoft.DurableTask <c>TaskOptions</c>).</summary>
public record TaskOptions
{
    public TaskOptions(TaskRetryOptions? retry = null, IDictionary<string, string>? tags = null)
    {
        Retry = retry;
        Tags = tags;
    }

    public TaskRetryOptions? Retry { get; init; }

    public IDictionary<string, string>? Tags { get; init; }

    /// <summary>The version of the sub-orchestrator to start; ignored for activities.</summary>
    public string? Version { get; init; }

    public static TaskOptions FromRetryPolicy(RetryPolicy policy) => new(new TaskRetryOptions(policy));

    public static TaskOptions FromRetryHandler(AsyncRetryHandler handler) => new(new TaskRetryOptions(handler));

    public SubOrchestrationOptions WithInstanceId(string instanceId) => new(this, instanceId);
}

/// <summary>Options of a sub-orchestration call, adding the child's instance id.</summary>
public record SubOrchestrationOptions : TaskOptions
{
    public SubOrchestrationOptions(TaskOptions? options = null, string? instanceId = null)
        : base(options?.Retry, options?.Tags)
    {
        Version = options?.Version;
        InstanceId = instanceId;
    }

    public string? InstanceId { get; init; }
}

/// <summary>Either a declarative <see cref="RetryPolicy"/> or a custom handler.</summary>
public sealed class TaskRetryOptions
{
    public TaskRetryOptions(RetryPolicy policy) => Policy = policy ?? throw new ArgumentNullException(nameof(policy));

    public TaskRetryOptions(AsyncRetryHandler handler) => Handler = handler ?? throw new ArgumentNullException(nameof(handler));

    public RetryPolicy? Policy { get; }

    public AsyncRetryHandler? Handler { get; }

    public static implicit operator TaskRetryOptions(RetryPolicy policy) => new(policy);
}

/// <summary>A custom retry decision; it must create its own durable timer if it wants a delay.</summary>
public delegate Task<bool> AsyncRetryHandler(RetryContext context);

public sealed record RetryContext(
    TaskOrchestrationContext OrchestrationContext,
    int LastAttemptNumber,
    TaskFailureDetails LastFailure,
    TimeSpan TotalRetryTime,
    CancellationToken CancellationToken);

/// <summary>
/// Declarative retries with exponential back-off (Microsoft.DurableTask <c>RetryPolicy</c>). The waits between
/// attempts are durable timers, so a retried call survives host restarts and its attempts show in the history.
/// </summary>
public sealed class RetryPolicy
{
    public RetryPolicy(
        int maxNumberOfAttempts,
        TimeSpan firstRetryInterval,
        double backoffCoefficient = 1.0,
        TimeSpan? maxRetryInterval = null,
        TimeSpan? retryTimeout = null)
    {
        if (maxNumberOfAttempts <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNumberOfAttempts), maxNumberOfAttempts, "The number of attempts must be at least 1.");
        }

        if (firstRetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(firstRetryInterval), firstRetryInterval, "The first retry interval must be greater than zero.");
        }

        if (backoffCoefficient < 1.0)
        {
            throw new ArgumentOutOfRangeException(nameof(backoffCoefficient), backoffCoefficient, "The back-off coefficient must be 1.0 or more.");
        }

        var max = maxRetryInterval ?? TimeSpan.FromHours(1);
        if (max < firstRetryInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(maxRetryInterval), max, $"The maximum retry interval must be at least the first retry interval ({firstRetryInterval}).");
        }

        var timeout = retryTimeout ?? Timeout.InfiniteTimeSpan;
        if (timeout != Timeout.InfiniteTimeSpan && timeout < firstRetryInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(retryTimeout), timeout, $"The retry timeout must be infinite or at least the first retry interval ({firstRetryInterval}).");
        }

        MaxNumberOfAttempts = maxNumberOfAttempts;
        FirstRetryInterval = firstRetryInterval;
        BackoffCoefficient = backoffCoefficient;
        MaxRetryInterval = max;
        RetryTimeout = timeout;
    }

    public int MaxNumberOfAttempts { get; }

    public TimeSpan FirstRetryInterval { get; }

    public double BackoffCoefficient { get; }

    public TimeSpan MaxRetryInterval { get; }

    public TimeSpan RetryTimeout { get; }

    /// <summary>Which failures to retry; all by default.</summary>
    public Func<TaskFailureDetails, bool> HandleFailure { get; init; } = static _ => true;

    /// <summary>The delay before attempt <paramref name="attempt"/>+1 (attempt is 1-based).</summary>
    public TimeSpan DelayAfterAttempt(int attempt)
    {
        var ticks = FirstRetryInterval.Ticks * Math.Pow(BackoffCoefficient, attempt - 1);
        return ticks >= MaxRetryInterval.Ticks ? MaxRetryInterval : TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>How a client starts an instance (Microsoft.DurableTask <c>StartOrchestrationOptions</c>).</summary>
public record StartOrchestrationOptions(string? InstanceId = null, DateTimeOffset? StartAt = null)
{
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>The orchestrator version to run; empty means the worker's default (its newest registered version).</summary>
    public string? Version { get; init; }
}

/// <summary>ContinueAsNew with all knobs (Microsoft.DurableTask <c>ContinueAsNewOptions</c>).</summary>
public sealed record ContinueAsNewOptions
{
    public object? NewInput { get; init; }

    public bool PreserveUnprocessedEvents { get; init; } = true;

    /// <summary>Moves the instance to another orchestrator version at the generation boundary.</summary>
    public string? NewVersion { get; init; }
}

public sealed record TerminateInstanceOptions(object? Output = null, bool Recursive = false);

public sealed record PurgeInstanceOptions(bool Recursive = false);

public sealed record ParentOrchestrationInstance(TaskName Name, string InstanceId);
