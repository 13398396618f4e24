using System.Security.Cryptography;
using System.Text;
using Durable.DurableTask.History;

namespace Durable.DurableTask.Runtime;

/// <summary>
/// The replay engine. It re-runs orchestrator code over the history (past events with IsReplaying, then new events),
/// on one thread, inside a synchronization context that runs every await continuation on that thread in event order.
/// Scheduling events in the history are matched to the actions the code produces by sequence number, type and name;
/// replies complete the matching open task by id, and replies for ids that are not open are duplicates and ignored.
/// </summary>
public static class OrchestrationExecutor
{
    public static ExecutionResult Execute(
        ITaskOrchestrator orchestrator,
        IReadOnlyList<HistoryEvent> pastEvents,
        IReadOnlyList<HistoryEvent> newEvents,
        OrchestrationExecutorOptions? options = null)
    {
        var context = new ReplayOrchestrationContext(orchestrator, options ?? new OrchestrationExecutorOptions());
        return context.Run(pastEvents, newEvents);
    }
}

public sealed record OrchestrationExecutorOptions
{
    /// <summary>Longest single durable timer; longer waits are chained (the queue's visibility limit is 7 days).</summary>
    public TimeSpan MaximumTimerInterval { get; init; } = TimeSpan.FromDays(3);
}

/// <summary>Runs posted continuations inline, in order, on the executor thread.</summary>
internal sealed class OrchestrationSynchronizationContext : SynchronizationContext
{
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _work = new();
    private readonly object _gate = new();

    public bool Closed { get; set; }

    public override void Post(SendOrPostCallback d, object? state)
    {
        lock (_gate)
        {
            if (!Closed)
            {
                _work.Enqueue((d, state));
            }
        }
    }

    public override void Send(SendOrPostCallback d, object? state) => d(state);

    public override SynchronizationContext CreateCopy() => this;

    public void Drain()
    {
        while (true)
        {
            (SendOrPostCallback Callback, object? State) item;
            lock (_gate)
            {
                if (_work.Count == 0)
                {
                    return;
                }

                item = _work.Dequeue();
            }

            item.Callback(item.State);
        }
    }
}

internal sealed class ReplayOrchestrationContext : TaskOrchestrationContext
{
    private static readonly Guid GuidNamespace = new("9e952958-5e33-4daf-827f-2fa12937b875");

    private readonly ITaskOrchestrator _orchestrator;
    private readonly OrchestrationExecutorOptions _options;
    private readonly SortedDictionary<int, OrchestratorAction> _pendingActions = new();
    private readonly Dictionary<int, IOpenTask> _openTasks = new();
    private readonly Dictionary<string, LinkedList<IEventWaiter>> _waiters = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<EventRaisedEvent> _bufferedEvents = new();
    private readonly List<HistoryEvent> _eventsWhileSuspended = new();
    private readonly OrchestrationSynchronizationContext _sync = new();

    private int _idCounter;
    private int _guidCounter;
    private int _threadId = -1;
    private bool _executing;
    private bool _suspended;
    private ExecutionStartedEvent? _started;
    private string? _serializedInput;
    private Task<object?>? _userTask;
    private string? _customStatus;
    private ContinueAsNewOptions? _continueAsNew;
    private string? _terminatedOutput;
    private bool _terminated;
    private NonDeterministicOrchestrationException? _nondeterminism;
    private bool _isReplaying;
    private DateTime _currentUtc;

    public ReplayOrchestrationContext(ITaskOrchestrator orchestrator, OrchestrationExecutorOptions options)
    {
        _orchestrator = orchestrator;
        _options = options;
    }

    public override TaskName Name => new(Started.Name);

    public override string InstanceId => Started.OrchestrationInstance.InstanceId;

    public override ParentOrchestrationInstance? Parent =>
        Started.ParentInstance is { } p ? new ParentOrchestrationInstance(new TaskName(p.Name), p.InstanceId) : null;

    public override DateTime CurrentUtcDateTime => _currentUtc;

    public override bool IsReplaying => _isReplaying;

    public override string Version => Started.Version;

    private ExecutionStartedEvent Started => _started ?? throw new InvalidOperationException("The orchestration has not started.");

    public ExecutionResult Run(IReadOnlyList<HistoryEvent> pastEvents, IReadOnlyList<HistoryEvent> newEvents)
    {
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_sync);
        _threadId = Environment.CurrentManagedThreadId;
        _executing = true;
        try
        {
            _isReplaying = true;
            foreach (var e in pastEvents)
            {
                if (!Process(e))
                {
                    break;
                }
            }

            _isReplaying = false;
            if (_nondeterminism is null && !_terminated)
            {
                foreach (var e in newEvents)
                {
                    if (!Process(e))
                    {
                        break;
                    }
                }
            }
        }
        finally
        {
            _executing = false;
            _sync.Closed = true;
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        return BuildResult();
    }

    /// <summary>Applies one event; false stops the episode (nondeterminism or termination).</summary>
    private bool Process(HistoryEvent e)
    {
        try
        {
            if (_suspended && e is not (ExecutionResumedEvent or ExecutionTerminatedEvent or OrchestratorStartedEvent or OrchestratorCompletedEvent)
                && !IsSchedulingEvent(e))
            {
                // Inbound events wait while suspended and are applied, in order, on resume.
                _eventsWhileSuspended.Add(e);
                return true;
            }

            switch (e)
            {
                case OrchestratorStartedEvent:
                    _currentUtc = e.Timestamp;
                    break;
                case ExecutionStartedEvent started:
                    Start(started);
                    break;
                case TaskScheduledEvent s:
                    MatchScheduling(s.EventId, EventType.TaskScheduled, s.Name, $"an activity task named '{s.Name}'");
                    break;
                case TimerCreatedEvent t:
                    MatchScheduling(t.EventId, EventType.TimerCreated, null, $"a durable timer firing at {t.FireAt:o}");
                    break;
                case SubOrchestrationInstanceCreatedEvent so:
                    MatchScheduling(so.EventId, EventType.SubOrchestrationInstanceCreated, so.Name, $"a sub-orchestration named '{so.Name}'");
                    break;
                case EventSentEvent es:
                    MatchScheduling(es.EventId, EventType.EventSent, es.Name, $"an event named '{es.Name}' sent to instance '{es.InstanceId}'");
                    break;
                case TaskCompletedEvent c:
                    Complete(c.TaskScheduledId, c.Result, null);
                    break;
                case TaskFailedEvent f:
                    Complete(f.TaskScheduledId, null, f.FailureDetails);
                    break;
                case SubOrchestrationInstanceCompletedEvent sc:
                    Complete(sc.TaskScheduledId, sc.Result, null);
                    break;
                case SubOrchestrationInstanceFailedEvent sf:
                    Complete(sf.TaskScheduledId, null, sf.FailureDetails);
                    break;
                case TimerFiredEvent tf:
                    Complete(tf.TimerId, null, null);
                    break;
                case EventRaisedEvent raised:
                    Raise(raised);
                    break;
                case ExecutionSuspendedEvent:
                    _suspended = true;
                    break;
                case ExecutionResumedEvent:
                    _suspended = false;
                    var held = _eventsWhileSuspended.ToList();
                    _eventsWhileSuspended.Clear();
                    foreach (var h in held)
                    {
                        if (!Process(h))
                        {
                            return false;
                        }
                    }

                    break;
                case ExecutionTerminatedEvent term:
                    _terminated = true;
                    _terminatedOutput = term.Input;
                    return false;
                default:
                    // ExecutionCompleted/ContinueAsNew/OrchestratorCompleted carry nothing the code needs.
                    break;
            }

            _sync.Drain();
            return true;
        }
        catch (NonDeterministicOrchestrationException ex)
        {
            _nondeterminism = ex;
            return false;
        }
    }

    private static bool IsSchedulingEvent(HistoryEvent e) =>
        e is TaskScheduledEvent or TimerCreatedEvent or SubOrchestrationInstanceCreatedEvent or EventSentEvent or ExecutionStartedEvent;

    private void Start(ExecutionStartedEvent started)
    {
        if (_started is not null)
        {
            return;
        }

        _started = started;
        _serializedInput = started.Input;
        object? input;
        try
        {
            input = JsonDataConverter.Default.Deserialize(started.Input, _orchestrator.InputType);
        }
        catch (Exception ex)
        {
            _userTask = Task.FromException<object?>(new ArgumentException(
                $"The input of orchestration '{started.Name}' is not a valid {_orchestrator.InputType.Name}: {ex.Message}", ex));
            return;
        }

        try
        {
            _userTask = _orchestrator.RunAsync(this, input);
        }
        catch (Exception ex)
        {
            _userTask = Task.FromException<object?>(ex);
        }
    }

    private void MatchScheduling(int id, EventType historyType, string? historyName, string historyDescription)
    {
        if (!_pendingActions.Remove(id, out var action))
        {
            throw new NonDeterministicOrchestrationException(
                $"Non-deterministic orchestration '{_started?.Name}' (instance '{_started?.OrchestrationInstance.InstanceId}'): " +
                $"a previous execution scheduled {historyDescription} with sequence number {id}, but the current replay " +
                "scheduled nothing at that point. Was a change made to the orchestrator code after this instance had already started running?");
        }

        var name = action switch
        {
            ScheduleTaskAction a => a.Name,
            CreateSubOrchestrationAction a => a.Name,
            SendEventAction a => a.Name,
            _ => null,
        };
        if (action.ScheduledEventType != historyType
            || (historyName is not null && !string.Equals(historyName, name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new NonDeterministicOrchestrationException(
                $"Non-deterministic orchestration '{_started?.Name}' (instance '{_started?.OrchestrationInstance.InstanceId}'): " +
                $"a previous execution scheduled {historyDescription} with sequence number {id}, but the current replay " +
                $"instead scheduled {action.Describe()}. Was a change made to the orchestrator code after this instance had already started running?");
        }
    }

    private void Complete(int id, string? result, TaskFailureDetails? failure)
    {
        // Unknown ids are duplicates (or replies for a cancelled timer/waiter): ignored by design.
        if (_openTasks.Remove(id, out var open))
        {
            if (failure is null)
            {
                open.SetResult(result);
            }
            else
            {
                open.SetFailure(failure);
            }
        }
    }

    private void Raise(EventRaisedEvent raised)
    {
        if (_continueAsNew is null && _waiters.TryGetValue(raised.Name, out var stack) && stack.Count > 0)
        {
            // Newest waiter first (LIFO), as upstream.
            var waiter = stack.Last!.Value;
            stack.RemoveLast();
            waiter.Deliver(raised.Input);
            return;
        }

        _bufferedEvents.Add(raised);
    }

    private ExecutionResult BuildResult()
    {
        var actions = _pendingActions.Values.ToList();
        if (_nondeterminism is not null)
        {
            return new ExecutionResult
            {
                Actions = [],
                Completion = CompletionKind.Failed,
                Failure = new TaskFailureDetails(typeof(NonDeterministicOrchestrationException).FullName!, _nondeterminism.Message) { IsNonRetriable = true },
                CustomStatus = _customStatus,
            };
        }

        if (_terminated)
        {
            return new ExecutionResult { Actions = [], Completion = CompletionKind.Terminated, Output = _terminatedOutput, CustomStatus = _customStatus };
        }

        if (_userTask is { IsCompleted: false } && !_suspended && _openTasks.Count == 0 && _waiters.Values.All(w => w.Count == 0))
        {
            // Nothing durable can ever resume this code: it awaits a non-durable task. Fail now instead of hanging forever.
            return new ExecutionResult
            {
                Actions = [],
                Completion = CompletionKind.Failed,
                Failure = new TaskFailureDetails(typeof(InvalidOperationException).FullName!,
                    "The orchestrator awaited a non-durable task (Task.Delay, Task.Run, I/O or ConfigureAwait(false)) and waits on no durable task, " +
                    "so it could never resume; multithreaded execution is not allowed in orchestrator code. Move such work into an activity.") { IsNonRetriable = true },
                CustomStatus = _customStatus,
            };
        }

        if (_userTask is null || !_userTask.IsCompleted)
        {
            return new ExecutionResult { Actions = actions, CustomStatus = _customStatus, IsSuspended = _suspended };
        }

        if (_userTask.IsCompletedSuccessfully)
        {
            if (_continueAsNew is { } can)
            {
                var carry = can.PreserveUnprocessedEvents ? _bufferedEvents.ToList() : [];
                return new ExecutionResult
                {
                    Actions = actions,
                    Completion = CompletionKind.ContinuedAsNew,
                    ContinueAsNew = can,
                    ContinueAsNewInput = JsonDataConverter.Default.Serialize(can.NewInput),
                    CarryoverEvents = carry,
                    CustomStatus = _customStatus,
                };
            }

            return new ExecutionResult
            {
                Actions = actions,
                Completion = CompletionKind.Completed,
                Output = JsonDataConverter.Default.Serialize(_userTask.Result),
                CustomStatus = _customStatus,
            };
        }

        var error = _userTask.Exception?.InnerException
                    ?? new TaskCanceledException("The orchestrator's task was cancelled.");
        return new ExecutionResult
        {
            Actions = actions,
            Completion = CompletionKind.Failed,
            Failure = TaskFailureDetails.FromException(error),
            CustomStatus = _customStatus,
        };
    }

    private void CheckThread()
    {
        if (!_executing || Environment.CurrentManagedThreadId != _threadId)
        {
            throw new InvalidOperationException(
                "Multithreaded execution was detected: orchestrator code called the orchestration context from another thread " +
                "or after its episode ended. Orchestrator code may only await durable tasks (activities, timers, events, " +
                "sub-orchestrations) - never Task.Delay, Task.Run, I/O or ConfigureAwait(false).");
        }
    }

    private int NextId() => _idCounter++;

    public override T? GetInput<T>()
        where T : default => JsonDataConverter.Default.Deserialize<T>(_serializedInput);

    public override Task<TResult> CallActivityAsync<TResult>(TaskName name, object? input = null, TaskOptions? options = null)
    {
        CheckThread();
        var serialized = JsonDataConverter.Default.Serialize(input);
        if (options?.Retry is { } retry)
        {
            return InvokeWithRetry(() => ScheduleActivity<TResult>(name, serialized, options), retry);
        }

        return ScheduleActivity<TResult>(name, serialized, options);
    }

    private Task<TResult> ScheduleActivity<TResult>(TaskName name, string? input, TaskOptions? options)
    {
        CheckThread();
        var id = NextId();
        _pendingActions[id] = new ScheduleTaskAction(id, name.Name, null, input, options?.Tags?.ToDictionary());
        var open = new OpenTask<TResult>(name.Name, id);
        _openTasks[id] = open;
        return open.Task;
    }

    public override Task<TResult> CallSubOrchestratorAsync<TResult>(TaskName orchestratorName, object? input = null, TaskOptions? options = null)
    {
        CheckThread();
        var serialized = JsonDataConverter.Default.Serialize(input);
        var instanceId = (options as SubOrchestrationOptions)?.InstanceId ?? NewGuid().ToString("N");
        Task<TResult> Schedule()
        {
            CheckThread();
            var id = NextId();
            _pendingActions[id] = new CreateSubOrchestrationAction(id, orchestratorName.Name, options?.Version, instanceId, serialized);
            var open = new OpenTask<TResult>(orchestratorName.Name, id);
            _openTasks[id] = open;
            return open.Task;
        }

        return options?.Retry is { } retry ? InvokeWithRetry(Schedule, retry) : Schedule();
    }

    private async Task<T> InvokeWithRetry<T>(Func<Task<T>> attempt, TaskRetryOptions retry)
    {
        var firstAttemptAt = CurrentUtcDateTime;
        for (var n = 1; ; n++)
        {
            try
            {
                return await attempt();
            }
            catch (TaskFailedException ex) when (!ex.FailureDetails.IsNonRetriable)
            {
                if (retry.Policy is { } policy)
                {
                    if (n >= policy.MaxNumberOfAttempts || !policy.HandleFailure(ex.FailureDetails))
                    {
                        throw;
                    }

                    var delay = policy.DelayAfterAttempt(n);
                    if (policy.RetryTimeout != Timeout.InfiniteTimeSpan && CurrentUtcDateTime + delay > firstAttemptAt + policy.RetryTimeout)
                    {
                        throw;
                    }

                    await CreateTimer(delay, CancellationToken.None);
                }
                else if (!await retry.Handler!(new RetryContext(this, n, ex.FailureDetails, CurrentUtcDateTime - firstAttemptAt, CancellationToken.None)))
                {
                    throw;
                }
            }
        }
    }

    public override async Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken)
    {
        CheckThread();
        fireAt = DateTime.SpecifyKind(fireAt, DateTimeKind.Utc);

        // Chain long timers so no single queue message is delayed beyond the queue's visibility limit.
        while (fireAt - CurrentUtcDateTime > _options.MaximumTimerInterval)
        {
            await CreateSingleTimer(CurrentUtcDateTime + _options.MaximumTimerInterval, cancellationToken);
        }

        await CreateSingleTimer(fireAt, cancellationToken);
    }

    private Task CreateSingleTimer(DateTime fireAt, CancellationToken cancellationToken)
    {
        CheckThread();
        var id = NextId();
        _pendingActions[id] = new CreateTimerAction(id, fireAt);
        var open = new OpenTask<object?>("timer", id);
        _openTasks[id] = open;
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() =>
            {
                // A cancelled timer stops being open, so the orchestration can finish; its TimerFired is ignored later.
                if (open.TryCancel())
                {
                    _openTasks.Remove(id);
                }
            });
        }

        return open.Task;
    }

    public override Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default)
    {
        CheckThread();
        if (string.IsNullOrEmpty(eventName))
        {
            throw new ArgumentException("An event name must be non-empty.", nameof(eventName));
        }

        var buffered = _bufferedEvents.FindIndex(e => string.Equals(e.Name, eventName, StringComparison.OrdinalIgnoreCase));
        if (buffered >= 0)
        {
            var e = _bufferedEvents[buffered];
            _bufferedEvents.RemoveAt(buffered);
            var waiterNow = new EventWaiter<T>(eventName);
            waiterNow.Deliver(e.Input);
            return waiterNow.Task;
        }

        if (!_waiters.TryGetValue(eventName, out var stack))
        {
            stack = new LinkedList<IEventWaiter>();
            _waiters[eventName] = stack;
        }
        else if (stack.Count > 0 && stack.First!.Value.ResultType != typeof(T))
        {
            throw new ArgumentException(
                $"Waiters for event '{eventName}' must all use one type: {stack.First.Value.ResultType.Name} is already waiting, {typeof(T).Name} was requested.");
        }

        var waiter = new EventWaiter<T>(eventName);
        var node = stack.AddLast(waiter);
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() =>
            {
                // A cancelled waiter leaves the stack, so it never swallows a later event.
                if (node.List is not null)
                {
                    stack.Remove(node);
                }

                waiter.TryCancel();
            });
        }

        return waiter.Task;
    }

    public override void SendEvent(string instanceId, string eventName, object? payload)
    {
        CheckThread();
        if (string.IsNullOrEmpty(instanceId))
        {
            throw new ArgumentException("The target instance id must be non-empty.", nameof(instanceId));
        }

        var id = NextId();
        _pendingActions[id] = new SendEventAction(id, instanceId, eventName, JsonDataConverter.Default.Serialize(payload));
    }

    public override void SetCustomStatus(object? customStatus)
    {
        CheckThread();
        _customStatus = JsonDataConverter.Default.Serialize(customStatus);
    }

    public override void ContinueAsNew(ContinueAsNewOptions options)
    {
        CheckThread();
        _continueAsNew = options ?? throw new ArgumentNullException(nameof(options));
    }

    public override Guid NewGuid()
    {
        CheckThread();
        var name = $"{InstanceId}_{CurrentUtcDateTime:o}_{_guidCounter++}";
        return NameBasedGuid(GuidNamespace, name);
    }

    /// <summary>RFC 4122 version-5 (SHA-1, name-based) UUID in .NET's byte layout.</summary>
    internal static Guid NameBasedGuid(Guid ns, string name)
    {
        var nsBytes = ns.ToByteArray(bigEndian: true);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var data = new byte[nsBytes.Length + nameBytes.Length];
        nsBytes.CopyTo(data, 0);
        nameBytes.CopyTo(data, nsBytes.Length);
        var hash = SHA1.HashData(data);
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

    private interface IOpenTask
    {
        void SetResult(string? serialized);

        void SetFailure(TaskFailureDetails failure);
    }

    private sealed class OpenTask<T>(string name, int id) : IOpenTask
    {
        private readonly TaskCompletionSource<T> _tcs = new();

        public Task<T> Task => _tcs.Task;

        public void SetResult(string? serialized)
        {
            T? value;
            try
            {
                value = JsonDataConverter.Default.Deserialize<T>(serialized);
            }
            catch (Exception ex)
            {
                _tcs.TrySetException(new InvalidCastException($"The result of task '{name}' (#{id}) is not a valid {typeof(T).Name}: {ex.Message}", ex));
                return;
            }

            _tcs.TrySetResult(value!);
        }

        public void SetFailure(TaskFailureDetails failure) => _tcs.TrySetException(new TaskFailedException(name, id, failure));

        public bool TryCancel() => _tcs.TrySetCanceled();
    }

    private interface IEventWaiter
    {
        Type ResultType { get; }

        void Deliver(string? serialized);
    }

    private sealed class EventWaiter<T>(string name) : IEventWaiter
    {
        private readonly TaskCompletionSource<T> _tcs = new();

        public Task<T> Task => _tcs.Task;

        public Type ResultType => typeof(T);

        public void Deliver(string? serialized)
        {
            try
            {
                _tcs.TrySetResult(JsonDataConverter.Default.Deserialize<T>(serialized)!);
            }
            catch (Exception ex)
            {
                _tcs.TrySetException(new InvalidCastException($"The payload of event '{name}' is not a valid {typeof(T).Name}: {ex.Message}", ex));
            }
        }

        public void TryCancel() => _tcs.TrySetCanceled();
    }
}
