using System.Runtime.CompilerServices;
using Durable.DurableTask.History;
using Durable.DurableTask.Runtime;

namespace Durable.DurableTask.Client;

/// <summary>
/// Starts, inspects and controls orchestration instances (Microsoft.DurableTask <c>DurableTaskClient</c>). Every
/// control operation is a message to the instance, so it is applied in order with the instance's other events and
/// survives host restarts.
/// </summary>
public class DurableTaskClient
{
    private readonly IOrchestrationServiceClient _hub;

    public DurableTaskClient(IOrchestrationServiceClient hub, string name = "default")
    {
        _hub = hub ?? throw new ArgumentNullException(nameof(hub));
        Name = name;
    }

    public string Name { get; }

    /// <summary>How often the wait methods poll the instance record.</summary>
    public TimeSpan MaxPollingInterval { get; init; } = TimeSpan.FromSeconds(1);

    public Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName orchestratorName, CancellationToken cancellation) =>
        ScheduleNewOrchestrationInstanceAsync(orchestratorName, null, null, cancellation);

    public Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName orchestratorName, object? input, CancellationToken cancellation) =>
        ScheduleNewOrchestrationInstanceAsync(orchestratorName, input, null, cancellation);

    public Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName orchestratorName, StartOrchestrationOptions options, CancellationToken cancellation = default) =>
        ScheduleNewOrchestrationInstanceAsync(orchestratorName, null, options, cancellation);

    /// <summary>
    /// Starts an instance and returns its id. A chosen id that belongs to a Pending, Running or Suspended instance is
    /// rejected with <see cref="OrchestrationAlreadyExistsException"/>; a finished one is replaced by the new execution.
    /// </summary>
    public virtual async Task<string> ScheduleNewOrchestrationInstanceAsync(
        TaskName orchestratorName,
        object? input = null,
        StartOrchestrationOptions? options = null,
        CancellationToken cancellation = default)
    {
        var instanceId = options?.InstanceId ?? Guid.NewGuid().ToString("N");
        ValidateInstanceId(instanceId);
        var executionId = Guid.NewGuid().ToString("N");
        var start = new TaskMessage
        {
            InstanceId = instanceId,
            ExecutionId = executionId,
            VisibleAt = options?.StartAt?.UtcDateTime,
            Event = new ExecutionStartedEvent
            {
                OrchestrationInstance = new OrchestrationInstanceRef(instanceId, executionId),
                Name = orchestratorName.Name,
                Version = options?.Version ?? string.Empty,
                Input = JsonDataConverter.Default.Serialize(input),
                Tags = options?.Tags,
                ScheduledStartTime = options?.StartAt?.UtcDateTime,
            },
        };
        await _hub.CreateInstanceAsync(start, cancellation);
        return instanceId;
    }

    /// <summary>Instance ids become blob names and URL segments: keep them printable and free of path syntax.</summary>
    public static void ValidateInstanceId(string instanceId)
    {
        if (string.IsNullOrWhiteSpace(instanceId) || instanceId.Length > 256
            || instanceId.Any(c => char.IsControl(c) || c is '/' or '\\' or '#' or '?'))
        {
            throw new ArgumentException(
                $"Instance id '{instanceId}' is invalid: use 1-256 printable characters without '/', '\\', '#' or '?'.", nameof(instanceId));
        }
    }

    public virtual Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default)
    {
        ValidateInstanceId(instanceId);
        if (string.IsNullOrWhiteSpace(eventName))
        {
            throw new ArgumentException("The event name must be non-empty.", nameof(eventName));
        }

        return _hub.SendMessageAsync(new TaskMessage
        {
            InstanceId = instanceId,
            Event = new EventRaisedEvent { Name = eventName, Input = JsonDataConverter.Default.Serialize(eventPayload) },
        }, cancellation);
    }

    public virtual async Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        var state = await _hub.GetStateAsync(instanceId, cancellation);
        return state?.ToMetadata(getInputsAndOutputs);
    }

    public Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        GetInstanceAsync(instanceId, getInputsAndOutputs, cancellation);

    /// <summary>The history of the instance's current execution.</summary>
    public virtual async Task<IReadOnlyList<HistoryEvent>> GetOrchestrationHistoryAsync(string instanceId, CancellationToken cancellation = default)
    {
        var state = await _hub.GetStateAsync(instanceId, cancellation)
                    ?? throw new ArgumentException($"No orchestration instance '{instanceId}' exists.", nameof(instanceId));
        return state.History;
    }

    /// <summary>One page of instances matching <paramref name="query"/>; pass the returned token back for the next page.</summary>
    public virtual async Task<Page<OrchestrationMetadata>> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellation = default)
    {
        if (query.PageSize is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.PageSize, "The page size must be between 1 and 1000.");
        }

        var page = await _hub.QueryAsync(query, cancellation);
        return new Page<OrchestrationMetadata>(page.Values.Select(s => s.ToMetadata(query.FetchInputsAndOutputs)).ToList(), page.ContinuationToken);
    }

    /// <summary>All instances matching the filter, fetched page by page.</summary>
    public virtual async IAsyncEnumerable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var query = filter ?? new OrchestrationQuery();
        while (true)
        {
            var page = await QueryInstancesAsync(query, cancellation);
            foreach (var item in page.Values)
            {
                yield return item;
            }

            if (page.ContinuationToken is null)
            {
                yield break;
            }

            query = query with { ContinuationToken = page.ContinuationToken };
        }
    }

    public virtual Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.RuntimeStatus != OrchestrationRuntimeStatus.Pending, cancellation);

    public virtual Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.IsCompleted, cancellation);

    private async Task<OrchestrationMetadata> WaitAsync(string instanceId, bool io, Func<OrchestrationMetadata, bool> done, CancellationToken cancellation)
    {
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var m = await GetInstanceAsync(instanceId, io, cancellation);
            if (m is not null && done(m))
            {
                return m;
            }

            await Task.Delay(delay, cancellation);
            delay = TimeSpan.FromTicks(Math.Min(MaxPollingInterval.Ticks, delay.Ticks * 2));
        }
    }

    public Task TerminateInstanceAsync(string instanceId, object? output, CancellationToken cancellation = default) =>
        TerminateInstanceAsync(instanceId, new TerminateInstanceOptions(output), cancellation);

    /// <summary>Terminates the instance (and, when recursive, its running sub-orchestrations). A finished instance is left as it is.</summary>
    public virtual async Task TerminateInstanceAsync(string instanceId, TerminateInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        ValidateInstanceId(instanceId);
        await _hub.SendMessageAsync(new TaskMessage
        {
            InstanceId = instanceId,
            Event = new ExecutionTerminatedEvent { Input = JsonDataConverter.Default.Serialize(options?.Output) },
        }, cancellation);
        if (options?.Recursive == true && await _hub.GetStateAsync(instanceId, cancellation) is { } state)
        {
            var answered = state.History.Select(e => e switch
            {
                SubOrchestrationInstanceCompletedEvent c => c.TaskScheduledId,
                SubOrchestrationInstanceFailedEvent f => f.TaskScheduledId,
                _ => -1,
            }).ToHashSet();
            foreach (var child in state.History.OfType<SubOrchestrationInstanceCreatedEvent>().Where(c => !answered.Contains(c.EventId)))
            {
                await TerminateInstanceAsync(child.InstanceId, options, cancellation);
            }
        }
    }

    public virtual Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default)
    {
        ValidateInstanceId(instanceId);
        return _hub.SendMessageAsync(new TaskMessage { InstanceId = instanceId, Event = new ExecutionSuspendedEvent { Reason = reason } }, cancellation);
    }

    public virtual Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default)
    {
        ValidateInstanceId(instanceId);
        return _hub.SendMessageAsync(new TaskMessage { InstanceId = instanceId, Event = new ExecutionResumedEvent { Reason = reason } }, cancellation);
    }

    /// <summary>Deletes a finished instance's record and payloads. Running instances are refused (terminate them first).</summary>
    public virtual async Task<PurgeResult> PurgeInstanceAsync(string instanceId, PurgeInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        ValidateInstanceId(instanceId);
        var state = await _hub.GetStateAsync(instanceId, cancellation);
        if (state is null)
        {
            return new PurgeResult(0);
        }

        if (!state.IsTerminal)
        {
            throw new InvalidOperationException(
                $"Instance '{instanceId}' is {state.Status}; only Completed, Failed or Terminated instances can be purged. Terminate it first.");
        }

        var count = 0;
        if (options?.Recursive == true)
        {
            foreach (var child in state.History.OfType<SubOrchestrationInstanceCreatedEvent>())
            {
                var childState = await _hub.GetStateAsync(child.InstanceId, cancellation);
                if (childState is { IsTerminal: true })
                {
                    count += (await PurgeInstanceAsync(child.InstanceId, options, cancellation)).PurgedInstanceCount;
                }
            }
        }

        count += await _hub.PurgeAsync(instanceId, cancellation);
        return new PurgeResult(count);
    }

    /// <summary>Purges every finished instance matching the filter (non-terminal ones are skipped, never deleted).</summary>
    public virtual async Task<PurgeResult> PurgeAllInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellation = default)
    {
        var statuses = (filter.Statuses ?? [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated]).ToList();
        var count = 0;
        var query = new OrchestrationQuery(filter.CreatedFrom, filter.CreatedTo, statuses, PageSize: 500);
        var ids = new List<string>();
        await foreach (var m in GetAllInstancesAsync(query, cancellation))
        {
            if (m.IsCompleted)
            {
                ids.Add(m.InstanceId);
            }
        }

        foreach (var id in ids)
        {
            count += await _hub.PurgeAsync(id, cancellation);
        }

        return new PurgeResult(count);
    }
}
