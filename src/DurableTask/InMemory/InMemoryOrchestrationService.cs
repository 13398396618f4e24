using Durable.Core.Faults;
using Durable.DurableTask.Client;
using Durable.DurableTask.History;
using Durable.DurableTask.Runtime;

namespace Durable.DurableTask.InMemory;

public sealed record InMemoryOrchestrationServiceOptions
{
    public int MaxDequeueCount { get; init; } = 10;

    /// <summary>How long a dequeued message stays invisible (a crashed worker's messages come back after this).</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>First back-off of an abandoned message; doubles per delivery up to <see cref="MaxAbandonDelay"/>.</summary>
    public TimeSpan BaseAbandonDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxAbandonDelay { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Delay before a reply that overtook its scheduling commit is offered again.</summary>
    public TimeSpan DeferDelay { get; init; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// A task hub in memory with the same semantics as the Azure Storage hub (visibility timeouts, dequeue counts,
/// ETag-guarded state, send/commit/delete order, poison parking), for unit tests of orchestration logic. Several
/// workers may share one instance to act as several hosts.
/// </summary>
public sealed class InMemoryOrchestrationService : IOrchestrationService, IOrchestrationServiceClient
{
    private readonly object _gate = new();
    private readonly List<Entry> _control = new();
    private readonly List<Entry> _work = new();
    private readonly Dictionary<string, (OrchestrationState State, long ETag)> _states = new(StringComparer.Ordinal);
    private readonly HashSet<string> _lockedInstances = new(StringComparer.Ordinal);
    private readonly List<(TaskMessage Message, string Reason)> _poison = new();
    private readonly InMemoryOrchestrationServiceOptions _options;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _etag;

    public InMemoryOrchestrationService(InMemoryOrchestrationServiceOptions? options = null) => _options = options ?? new InMemoryOrchestrationServiceOptions();

    public int MaxDequeueCount => _options.MaxDequeueCount;

    /// <summary>Parked poison messages with their reasons (for tests and diagnostics).</summary>
    public IReadOnlyList<(TaskMessage Message, string Reason)> PoisonMessages
    {
        get
        {
            lock (_gate)
            {
                return _poison.ToList();
            }
        }
    }

    /// <summary>Adds a raw message to an instance's control queue, bypassing the client (tests use it to inject duplicates).</summary>
    public void Enqueue(TaskMessage message)
    {
        lock (_gate)
        {
            _control.Add(new Entry(message, message.VisibleAt ?? DateTime.UtcNow));
            Signal();
        }
    }

    public Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    private void Signal()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private async Task WaitForChangeAsync(Task changed, DateTime? nextVisible, CancellationToken ct)
    {
        var wait = nextVisible is { } next ? next - DateTime.UtcNow : TimeSpan.FromSeconds(1);
        wait = wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait;
        await Task.WhenAny(changed, Task.Delay(wait, ct));
    }

    public async Task<OrchestrationWorkItem?> LockNextOrchestrationWorkItemAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Task changed;
            DateTime? nextVisible;
            lock (_gate)
            {
                var now = DateTime.UtcNow;
                var first = _control.FirstOrDefault(e => e.VisibleAt <= now && !_lockedInstances.Contains(e.Message.InstanceId));
                if (first is not null)
                {
                    var instanceId = first.Message.InstanceId;
                    var batch = _control.Where(e => e.VisibleAt <= now && e.Message.InstanceId == instanceId).Take(32).ToList();
                    var received = new List<ReceivedMessage>();
                    foreach (var e in batch)
                    {
                        e.DequeueCount++;
                        e.VisibleAt = now + _options.LockTimeout;
                        e.Token = Guid.NewGuid();
                        received.Add(new ReceivedMessage(e.Message, e.DequeueCount, (e, e.Token)));
                    }

                    _lockedInstances.Add(instanceId);
                    var found = _states.TryGetValue(instanceId, out var s);
                    return new OrchestrationWorkItem
                    {
                        InstanceId = instanceId,
                        Messages = received.Where(r => r.DequeueCount <= MaxDequeueCount).ToList(),
                        PoisonMessages = received.Where(r => r.DequeueCount > MaxDequeueCount).ToList(),
                        State = found ? s.State : null,
                        ETag = found ? s.ETag.ToString() : null,
                    };
                }

                changed = _changed.Task;
                nextVisible = _control.Where(e => !_lockedInstances.Contains(e.Message.InstanceId)).Select(e => (DateTime?)e.VisibleAt).Min();
            }

            try
            {
                await WaitForChangeAsync(changed, nextVisible, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        return null;
    }

    public Task CompleteOrchestrationWorkItemAsync(OrchestrationWorkItem workItem, OrchestrationCommit commit, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            // 1. Send: a crash after this re-runs the episode, which re-sends the same (deterministic) messages.
            foreach (var m in commit.ActivityMessages)
            {
                _work.Add(new Entry(m, DateTime.UtcNow));
            }

            foreach (var m in commit.OrchestratorMessages)
            {
                _control.Add(new Entry(m, m.VisibleAt ?? DateTime.UtcNow));
            }

            Signal();
        }

        FaultPoints.Hit("durable.orchestration.after-send");
        lock (_gate)
        {
            // 2. Commit the state, fenced by the ETag the work item was loaded with.
            if (commit.NewState is { } newState)
            {
                var exists = _states.TryGetValue(workItem.InstanceId, out var current);
                if ((workItem.ETag is null && exists) || (workItem.ETag is not null && (!exists || current.ETag.ToString() != workItem.ETag)))
                {
                    throw new OrchestrationConcurrencyException($"instance '{workItem.InstanceId}' was changed by another writer (ETag {workItem.ETag ?? "none"} is stale)");
                }

                _states[workItem.InstanceId] = (newState, ++_etag);
            }
        }

        FaultPoints.Hit("durable.orchestration.after-commit");
        lock (_gate)
        {
            // 3. Delete what was consumed; put back what was deferred; park poison.
            foreach (var r in commit.Consumed)
            {
                Remove(_control, r);
            }

            foreach (var r in commit.Deferred)
            {
                Abandon(r, _options.DeferDelay * r.DequeueCount, null);
            }

            foreach (var (r, reason) in commit.Poisoned)
            {
                if (Remove(_control, r))
                {
                    _poison.Add((r.Message with { LastError = reason }, reason));
                }
            }

            Signal();
        }

        return Task.CompletedTask;
    }

    public Task AbandonOrchestrationWorkItemAsync(OrchestrationWorkItem workItem, string reason, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var r in workItem.Messages.Concat(workItem.PoisonMessages))
            {
                Abandon(r, BackOff(r.DequeueCount), reason);
            }

            Signal();
        }

        return Task.CompletedTask;
    }

    public void ReleaseOrchestrationWorkItem(OrchestrationWorkItem workItem)
    {
        lock (_gate)
        {
            _lockedInstances.Remove(workItem.InstanceId);
            Signal();
        }
    }

    public async Task<ActivityWorkItem?> LockNextActivityWorkItemAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Task changed;
            DateTime? nextVisible;
            lock (_gate)
            {
                var now = DateTime.UtcNow;
                var e = _work.FirstOrDefault(x => x.VisibleAt <= now);
                if (e is not null)
                {
                    e.DequeueCount++;
                    e.VisibleAt = now + _options.LockTimeout;
                    e.Token = Guid.NewGuid();
                    return new ActivityWorkItem { Received = new ReceivedMessage(e.Message, e.DequeueCount, (e, e.Token)) };
                }

                changed = _changed.Task;
                nextVisible = _work.Select(x => (DateTime?)x.VisibleAt).Min();
            }

            try
            {
                await WaitForChangeAsync(changed, nextVisible, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        return null;
    }

    public Task RenewActivityWorkItemAsync(ActivityWorkItem workItem, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var (entry, token) = ((Entry, Guid))workItem.Received.Receipt;
            if (entry.Token != token || !_work.Contains(entry))
            {
                throw new InvalidOperationException($"The lock of activity message {workItem.Message.MessageId} was lost.");
            }

            entry.VisibleAt = DateTime.UtcNow + _options.LockTimeout;
        }

        return Task.CompletedTask;
    }

    public Task CompleteActivityWorkItemAsync(ActivityWorkItem workItem, TaskMessage response, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _control.Add(new Entry(response, DateTime.UtcNow));
            Signal();
        }

        FaultPoints.Hit("durable.activity.after-send");
        lock (_gate)
        {
            Remove(_work, workItem.Received);
        }

        return Task.CompletedTask;
    }

    public Task AbandonActivityWorkItemAsync(ActivityWorkItem workItem, string reason, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var (entry, token) = ((Entry, Guid))workItem.Received.Receipt;
            if (entry.Token == token)
            {
                entry.VisibleAt = DateTime.UtcNow + BackOff(workItem.Received.DequeueCount);
                entry.Message = entry.Message with { LastError = reason };
            }

            Signal();
        }

        return Task.CompletedTask;
    }

    public Task ParkActivityWorkItemAsync(ActivityWorkItem workItem, string reason, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            Remove(_work, workItem.Received);
            _poison.Add((workItem.Message with { LastError = reason }, reason));
        }

        return Task.CompletedTask;
    }

    private TimeSpan BackOff(int dequeueCount)
    {
        var ticks = _options.BaseAbandonDelay.Ticks * Math.Pow(2, Math.Min(30, Math.Max(0, dequeueCount - 1)));
        return ticks > _options.MaxAbandonDelay.Ticks ? _options.MaxAbandonDelay : TimeSpan.FromTicks((long)ticks);
    }

    private static bool Remove(List<Entry> queue, ReceivedMessage r)
    {
        var (entry, token) = ((Entry, Guid))r.Receipt;
        return entry.Token == token && queue.Remove(entry);
    }

    private void Abandon(ReceivedMessage r, TimeSpan delay, string? reason)
    {
        var (entry, token) = ((Entry, Guid))r.Receipt;
        if (entry.Token == token)
        {
            entry.VisibleAt = DateTime.UtcNow + delay;
            if (reason is not null)
            {
                entry.Message = entry.Message with { LastError = reason };
            }
        }
    }

    public Task SendMessageAsync(TaskMessage message, CancellationToken cancellationToken = default)
    {
        Enqueue(message);
        return Task.CompletedTask;
    }

    public Task CreateInstanceAsync(TaskMessage startMessage, CancellationToken cancellationToken = default)
    {
        var started = (ExecutionStartedEvent)startMessage.Event;
        lock (_gate)
        {
            if (_states.TryGetValue(startMessage.InstanceId, out var existing) && !existing.State.IsTerminal)
            {
                throw new OrchestrationAlreadyExistsException(
                    $"An orchestration with instance id '{startMessage.InstanceId}' already exists and is {existing.State.Status}.");
            }

            // Message first, then the Pending record, as the Azure Storage hub does.
            _control.Add(new Entry(startMessage, startMessage.VisibleAt ?? DateTime.UtcNow));
            var now = DateTime.UtcNow;
            _states[startMessage.InstanceId] = (new OrchestrationState
            {
                InstanceId = startMessage.InstanceId,
                ExecutionId = started.OrchestrationInstance.ExecutionId,
                Name = started.Name,
                Version = started.Version,
                Status = OrchestrationRuntimeStatus.Pending,
                Input = started.Input,
                CreatedAt = now,
                LastUpdatedAt = now,
                Tags = started.Tags,
            }, ++_etag);
            Signal();
        }

        return Task.CompletedTask;
    }

    public Task<OrchestrationState?> GetStateAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_states.TryGetValue(instanceId, out var s) ? s.State : null);
        }
    }

    public Task<Page<OrchestrationState>> QueryAsync(OrchestrationQuery query, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var statuses = query.Statuses?.ToHashSet();
            var matching = _states.Values.Select(v => v.State)
                .Where(s => query.ContinuationToken is null || string.CompareOrdinal(s.InstanceId, query.ContinuationToken) > 0)
                .Where(s => InstanceQuery.Matches(s, query, statuses))
                .OrderBy(s => s.InstanceId, StringComparer.Ordinal)
                .Take(query.PageSize + 1)
                .ToList();
            var more = matching.Count > query.PageSize;
            var page = matching.Take(query.PageSize).ToList();
            return Task.FromResult(new Page<OrchestrationState>(page, more ? page[^1].InstanceId : null));
        }
    }

    public Task<int> PurgeAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_states.TryGetValue(instanceId, out var s) && s.State.IsTerminal)
            {
                _states.Remove(instanceId);
                return Task.FromResult(1);
            }

            return Task.FromResult(0);
        }
    }

    private sealed class Entry(TaskMessage message, DateTime visibleAt)
    {
        public TaskMessage Message { get; set; } = message;

        public DateTime VisibleAt { get; set; } = visibleAt;

        public int DequeueCount { get; set; }

        public Guid Token { get; set; }
    }
}

/// <summary>The filter both hubs apply to instance records.</summary>
public static class InstanceQuery
{
    public static bool Matches(OrchestrationState s, OrchestrationQuery query, HashSet<OrchestrationRuntimeStatus>? statuses) =>
        (query.CreatedFrom is null || s.CreatedAt >= query.CreatedFrom.Value.UtcDateTime)
        && (query.CreatedTo is null || s.CreatedAt <= query.CreatedTo.Value.UtcDateTime)
        && (statuses is null || statuses.Count == 0 || statuses.Contains(s.Status))
        && (query.InstanceIdPrefix is null || s.InstanceId.StartsWith(query.InstanceIdPrefix, StringComparison.Ordinal));
}
