using Microsoft.Extensions.Logging;

namespace Durable.DurableTask;

/// <summary>
/// What orchestrator code may use (Microsoft.DurableTask shape). Everything here is replay-safe: the same history gives
/// the same answers and the same scheduled work, which is what lets the runtime rebuild an orchestration's state by
/// re-running its code.
/// </summary>
public abstract class TaskOrchestrationContext
{
    public abstract TaskName Name { get; }

    public abstract string InstanceId { get; }

    public abstract ParentOrchestrationInstance? Parent { get; }

    /// <summary>The time of the episode being executed (the <c>OrchestratorStarted</c> event), never the wall clock.</summary>
    public abstract DateTime CurrentUtcDateTime { get; }

    /// <summary>True while the code re-runs events that are already in the history.</summary>
    public abstract bool IsReplaying { get; }

    /// <summary>The orchestrator version this instance started with (recorded in its history).</summary>
    public virtual string Version => string.Empty;

    public abstract T? GetInput<T>();

    public abstract Task<TResult> CallActivityAsync<TResult>(TaskName name, object? input = null, TaskOptions? options = null);

    public Task CallActivityAsync(TaskName name, object? input = null, TaskOptions? options = null) =>
        CallActivityAsync<object?>(name, input, options);

    public Task CallActivityAsync(TaskName name, TaskOptions options) => CallActivityAsync<object?>(name, null, options);

    public Task<TResult> CallActivityAsync<TResult>(TaskName name, TaskOptions options) => CallActivityAsync<TResult>(name, null, options);

    public abstract Task<TResult> CallSubOrchestratorAsync<TResult>(TaskName orchestratorName, object? input = null, TaskOptions? options = null);

    public Task CallSubOrchestratorAsync(TaskName orchestratorName, object? input = null, TaskOptions? options = null) =>
        CallSubOrchestratorAsync<object?>(orchestratorName, input, options);

    public Task CallSubOrchestratorAsync(TaskName orchestratorName, TaskOptions options) =>
        CallSubOrchestratorAsync<object?>(orchestratorName, null, options);

    /// <summary>A durable timer: survives restarts; cancelling it makes the returned task cancelled.</summary>
    public abstract Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken);

    public Task CreateTimer(TimeSpan delay, CancellationToken cancellationToken) => CreateTimer(CurrentUtcDateTime.Add(delay), cancellationToken);

    /// <summary>Waits for an event raised to this instance (names are case-insensitive; the newest waiter gets the next event).</summary>
    public abstract Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default);

    public Task<T> WaitForExternalEvent<T>(string eventName, TimeSpan timeout) =>
        WaitForExternalEvent<T>(eventName, timeout, CancellationToken.None);

    /// <summary>
    /// Waits for an event or a durable timeout, whichever the history shows first. On timeout the returned task is
    /// cancelled (<see cref="TaskCanceledException"/>), as upstream; the loser is always cancelled so neither a stale
    /// timer nor a stale waiter lingers.
    /// </summary>
    public async Task<T> WaitForExternalEvent<T>(string eventName, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timerCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var eventCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var timer = CreateTimer(timeout, timerCts.Token);
        var evt = WaitForExternalEvent<T>(eventName, eventCts.Token);
        var winner = await Task.WhenAny(timer, evt);
        if (winner == evt)
        {
            timerCts.Cancel();
            return await evt;
        }

        eventCts.Cancel();
        if (timer.IsCanceled)
        {
            // The caller's own token cancelled the wait.
            throw new TaskCanceledException($"Waiting for external event '{eventName}' was cancelled.");
        }

        throw new TaskCanceledException($"External event '{eventName}' did not arrive within {timeout}.");
    }

    /// <summary>Sends an event to another instance (fire and forget; dropped if that instance does not exist).</summary>
    public abstract void SendEvent(string instanceId, string eventName, object? payload);

    public abstract void SetCustomStatus(object? customStatus);

    /// <summary>Restarts this instance with fresh history; the orchestrator should return right after calling it.</summary>
    public void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true) =>
        ContinueAsNew(new ContinueAsNewOptions { NewInput = newInput, PreserveUnprocessedEvents = preserveUnprocessedEvents });

    public abstract void ContinueAsNew(ContinueAsNewOptions options);

    /// <summary>A deterministic (name-based, UUIDv5) GUID: the same on every replay.</summary>
    public abstract Guid NewGuid();

    /// <summary>A logger that drops messages while replaying, so each line is written once per real step.</summary>
    public ILogger CreateReplaySafeLogger(ILogger logger) => new ReplaySafeLogger(this, logger);

    public ILogger CreateReplaySafeLogger(ILoggerFactory factory, string categoryName) =>
        new ReplaySafeLogger(this, factory.CreateLogger(categoryName));

    /// <summary>Compares this instance's version with <paramref name="version"/> (numeric parts numerically).</summary>
    public int CompareVersionTo(string version) => OrchestrationVersion.Compare(Version, version);

    private sealed class ReplaySafeLogger(TaskOrchestrationContext context, ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => !context.IsReplaying && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!context.IsReplaying)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}

/// <summary>Version strings compared part by part, numerically where both parts are numbers ("1.10" &gt; "1.9").</summary>
public static class OrchestrationVersion
{
    public static int Compare(string? a, string? b)
    {
        var pa = (a ?? string.Empty).Split('.');
        var pb = (b ?? string.Empty).Split('.');
        for (var i = 0; i < Math.Max(pa.Length, pb.Length); i++)
        {
            var x = i < pa.Length ? pa[i] : "0";
            var y = i < pb.Length ? pb[i] : "0";
            var c = long.TryParse(x, out var nx) && long.TryParse(y, out var ny)
                ? nx.CompareTo(ny)
                : string.CompareOrdinal(x, y);
            if (c != 0)
            {
                return Math.Sign(c);
            }
        }

        return 0;
    }
}
