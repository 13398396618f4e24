using System.Text.Json.Nodes;
using DurableTask.Core;
using DurableTask.Core.Exceptions;
using DurableTask.Core.History;
using DurableTask.Core.Query;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Converters;
using CoreStatus = DurableTask.Core.OrchestrationStatus;
using CorePurgeFilter = DurableTask.Core.PurgeInstanceFilter;
using CoreQuery = DurableTask.Core.Query.OrchestrationQuery;
using OrchestrationQuery = Microsoft.DurableTask.Client.OrchestrationQuery;
using PurgeResult = Microsoft.DurableTask.Client.PurgeResult;

namespace Durable.Functions.Engine;

/// <summary>
/// Microsoft.DurableTask's <see cref="DurableTaskClient"/> over a Durable Task Framework orchestration service (its
/// client, query and purge interfaces). Microsoft ships this bridge only in a package this registry does not serve, so
/// it is written here against the public interfaces. Every control operation is a message to the instance, so it is
/// applied in order with the instance's other events and survives host restarts. Payloads are serialized with
/// Microsoft.DurableTask's data converter (the framework's own client would encode JSON input a second time).
/// </summary>
public sealed class DurableHubClient : DurableTaskClient
{
    /// <summary>A chosen id is refused while an instance with it has not finished; a finished one is replaced.</summary>
    private static readonly CoreStatus[] NotFinished = [CoreStatus.Pending, CoreStatus.Running, CoreStatus.Suspended];

    private static readonly CoreStatus[] Finished = [CoreStatus.Completed, CoreStatus.Failed, CoreStatus.Terminated, CoreStatus.Canceled];

    private readonly IOrchestrationServiceClient _hub;
    private readonly DataConverter _converter;

    public DurableHubClient(IOrchestrationServiceClient hub, string name = "default", DataConverter? converter = null)
        : base(name)
    {
        _hub = hub;
        _converter = converter ?? JsonDataConverter.Default;
    }

    /// <summary>How often the wait methods poll the instance record.</summary>
    public TimeSpan MaxPollingInterval { get; init; } = TimeSpan.FromSeconds(1);

    public override async Task<string> ScheduleNewOrchestrationInstanceAsync(
        TaskName orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellation = default)
    {
        var instanceId = options?.InstanceId ?? Guid.NewGuid().ToString("N");
        InstanceIds.Validate(instanceId);
        cancellation.ThrowIfCancellationRequested();
        var instance = new OrchestrationInstance { InstanceId = instanceId, ExecutionId = Guid.NewGuid().ToString("N") };
        var started = new ExecutionStartedEvent(-1, _converter.Serialize(input))
        {
            Name = orchestratorName.Name,
            Version = options?.Version?.ToString() ?? string.Empty,
            OrchestrationInstance = instance,
            ScheduledStartTime = options?.StartAt?.UtcDateTime,
            Tags = options?.Tags?.ToDictionary(t => t.Key, t => t.Value) ?? [],
        };
        try
        {
            await _hub.CreateTaskOrchestrationAsync(new TaskMessage { OrchestrationInstance = instance, Event = started }, NotFinished).ConfigureAwait(false);
        }
        catch (OrchestrationAlreadyExistsException e)
        {
            // The provider's message names only the status; callers (the management API's 409) need the instance too.
            throw new OrchestrationAlreadyExistsException($"Instance '{instanceId}' already exists and has not finished: {e.Message}", e);
        }

        return instanceId;
    }

    public override Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default)
    {
        if (string.IsNullOrWhiteSpace(eventName))
        {
            throw new ArgumentException("The event name is empty; give the name the orchestration waits for.", nameof(eventName));
        }

        return SendAsync(instanceId, new EventRaisedEvent(-1, _converter.Serialize(eventPayload)) { Name = eventName }, cancellation);
    }

    public override async Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        return await CurrentStateAsync(instanceId).ConfigureAwait(false) is { } state ? ToMetadata(state, getInputsAndOutputs) : null;
    }

    public override AsyncPageable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null)
    {
        var queries = As<IOrchestrationServiceQueryClient>();
        return Pageable.Create(async (continuation, pageSize, cancellation) =>
        {
            var query = new CoreQuery
            {
                RuntimeStatus = filter?.Statuses?.Select(ToCore).ToList(),
                CreatedTimeFrom = filter?.CreatedFrom?.UtcDateTime,
                CreatedTimeTo = filter?.CreatedTo?.UtcDateTime,
                InstanceIdPrefix = filter?.InstanceIdPrefix,
                PageSize = pageSize ?? filter?.PageSize ?? OrchestrationQuery.DefaultPageSize,
                ContinuationToken = continuation ?? filter?.ContinuationToken,
                FetchInputsAndOutputs = filter?.FetchInputsAndOutputs ?? false,
            };
            var result = await queries.GetOrchestrationWithQueryAsync(query, cancellation).ConfigureAwait(false);
            var values = result.OrchestrationState.Select(s => ToMetadata(s, query.FetchInputsAndOutputs)).ToList();
            return new Page<OrchestrationMetadata>(values, string.IsNullOrEmpty(result.ContinuationToken) ? null : result.ContinuationToken);
        });
    }

    public override Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.RuntimeStatus != OrchestrationRuntimeStatus.Pending, cancellation);

    public override Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        WaitAsync(instanceId, getInputsAndOutputs, m => m.IsCompleted, cancellation);

    /// <summary>Terminates the instance (and, when recursive, its running sub-orchestrations); a finished instance is left as it is.</summary>
    public override async Task TerminateInstanceAsync(string instanceId, TerminateInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var reason = options?.Output is null ? null : _converter.Serialize(options.Output);
        await _hub.ForceTerminateTaskOrchestrationAsync(instanceId, reason).ConfigureAwait(false);
        if (options?.Recursive == true)
        {
            await foreach (var child in ChildrenAsync(instanceId, cancellation).ConfigureAwait(false))
            {
                await TerminateInstanceAsync(child, options, cancellation).ConfigureAwait(false);
            }
        }
    }

    public override Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        SendAsync(instanceId, new ExecutionSuspendedEvent(-1, reason), cancellation);

    public override Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        SendAsync(instanceId, new ExecutionResumedEvent(-1, reason), cancellation);

    /// <summary>Deletes a finished instance's record, history and payloads. Running instances are refused (terminate them first).</summary>
    public override async Task<PurgeResult> PurgeInstanceAsync(string instanceId, PurgeInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        var meta = await GetInstancesAsync(instanceId, false, cancellation).ConfigureAwait(false);
        if (meta is null)
        {
            return new PurgeResult(0);
        }

        if (!meta.IsCompleted)
        {
            throw new InvalidOperationException($"Instance '{instanceId}' is {meta.RuntimeStatus}; only finished instances can be purged (terminate it first).");
        }

        var children = new List<string>();
        if (options?.Recursive == true)
        {
            await foreach (var child in ChildrenAsync(instanceId, cancellation).ConfigureAwait(false))
            {
                children.Add(child);
            }
        }

        var result = await As<IOrchestrationServicePurgeClient>().PurgeInstanceStateAsync(instanceId).ConfigureAwait(false);
        var count = result.DeletedInstanceCount;
        foreach (var child in children)
        {
            count += (await PurgeInstanceAsync(child, options, cancellation).ConfigureAwait(false)).PurgedInstanceCount;
        }

        return new PurgeResult(count);
    }

    /// <summary>Purges every finished instance matching the filter; instances that have not finished are never deleted.</summary>
    public override async Task<PurgeResult> PurgeAllInstancesAsync(PurgeInstancesFilter filter, PurgeInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var statuses = filter.Statuses is null ? Finished : filter.Statuses.Select(ToCore).Where(Finished.Contains).ToArray();
        if (statuses.Length == 0)
        {
            return new PurgeResult(0);
        }

        var core = new CorePurgeFilter(filter.CreatedFrom?.UtcDateTime ?? DateTime.MinValue, filter.CreatedTo?.UtcDateTime, statuses);
        var result = await As<IOrchestrationServicePurgeClient>().PurgeInstanceStateAsync(core).ConfigureAwait(false);
        return new PurgeResult(result.DeletedInstanceCount);
    }

    /// <summary>
    /// The history of the instance's current execution as the framework stores it, one JSON object per event with
    /// its type by name (what Durable Functions' status API shows with showHistory=true); null for an unknown instance.
    /// </summary>
    public async Task<JsonArray?> GetHistoryAsync(string instanceId, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        if (await CurrentStateAsync(instanceId).ConfigureAwait(false) is not { } state)
        {
            return null;
        }

        var text = await _hub.GetOrchestrationHistoryAsync(instanceId, state.OrchestrationInstance.ExecutionId).ConfigureAwait(false);
        return HistoryJson.Normalize(text);
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>The latest execution's state; the Azure Storage provider answers an unknown id with a list holding null.</summary>
    private async Task<OrchestrationState?> CurrentStateAsync(string instanceId)
    {
        var states = await _hub.GetOrchestrationStateAsync(instanceId, false).ConfigureAwait(false);
        return states?.FirstOrDefault(s => s is not null);
    }

    private async Task<OrchestrationMetadata> WaitAsync(string instanceId, bool getInputsAndOutputs, Func<OrchestrationMetadata, bool> done, CancellationToken cancellation)
    {
        var delay = TimeSpan.FromMilliseconds(Math.Min(50, MaxPollingInterval.TotalMilliseconds));
        while (true)
        {
            var meta = await GetInstancesAsync(instanceId, getInputsAndOutputs, cancellation).ConfigureAwait(false)
                       ?? throw new InvalidOperationException($"No orchestration instance '{instanceId}' exists.");
            if (done(meta))
            {
                return meta;
            }

            await Task.Delay(delay, cancellation).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxPollingInterval.Ticks));
        }
    }

    private async IAsyncEnumerable<string> ChildrenAsync(string instanceId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation)
    {
        var history = await GetHistoryAsync(instanceId, cancellation).ConfigureAwait(false);
        foreach (var e in history?.OfType<JsonObject>() ?? [])
        {
            if (e["EventType"]?.GetValue<string>() == nameof(EventType.SubOrchestrationInstanceCreated) && e["InstanceId"]?.GetValue<string>() is { } child)
            {
                yield return child;
            }
        }
    }

    private Task SendAsync(string instanceId, HistoryEvent e, CancellationToken cancellation)
    {
        InstanceIds.Validate(instanceId);
        cancellation.ThrowIfCancellationRequested();
        return _hub.SendTaskOrchestrationMessageAsync(new TaskMessage { OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId }, Event = e });
    }

    private OrchestrationMetadata ToMetadata(OrchestrationState state, bool getInputsAndOutputs) =>
        new(state.Name, state.OrchestrationInstance.InstanceId)
        {
            DataConverter = getInputsAndOutputs ? _converter : null,
            RuntimeStatus = FromCore(state.OrchestrationStatus),
            CreatedAt = new DateTimeOffset(DateTime.SpecifyKind(state.CreatedTime, DateTimeKind.Utc)),
            LastUpdatedAt = new DateTimeOffset(DateTime.SpecifyKind(state.LastUpdatedTime, DateTimeKind.Utc)),
            SerializedInput = getInputsAndOutputs ? state.Input : null,
            SerializedOutput = getInputsAndOutputs ? state.Output : null,
            SerializedCustomStatus = getInputsAndOutputs ? state.Status : null,
            FailureDetails = ToDetails(state.FailureDetails) ?? FailureFromOutput(state),
        };

    /// <summary>
    /// The Azure Storage provider keeps no failure-details column: a failed instance's reason is only its output,
    /// "&lt;error type&gt;: &lt;message&gt;". Read back as failure details so callers see why it failed, as on other providers.
    /// </summary>
    private static TaskFailureDetails? FailureFromOutput(OrchestrationState state)
    {
        if (state.OrchestrationStatus != CoreStatus.Failed || string.IsNullOrEmpty(state.Output))
        {
            return null;
        }

        var colon = state.Output.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && !state.Output[..colon].Contains(' ', StringComparison.Ordinal)
            ? new TaskFailureDetails(state.Output[..colon], state.Output[(colon + 2)..], null, null, null)
            : new TaskFailureDetails("Failure", state.Output, null, null, null);
    }

    private static TaskFailureDetails? ToDetails(FailureDetails? f) =>
        f is null ? null : new TaskFailureDetails(f.ErrorType, f.ErrorMessage, f.StackTrace, ToDetails(f.InnerFailure), f.Properties);

    // The two enums share their names (the client's has no ContinuedAsNew-specific meaning beyond the framework's).
    private static OrchestrationRuntimeStatus FromCore(CoreStatus status) =>
        Enum.Parse<OrchestrationRuntimeStatus>(status.ToString(), ignoreCase: false);

    private static CoreStatus ToCore(OrchestrationRuntimeStatus status) => Enum.Parse<CoreStatus>(status.ToString(), ignoreCase: false);

    private T As<T>() => _hub is T t
        ? t
        : throw new NotSupportedException($"The task hub's client ({_hub.GetType().Name}) does not implement {typeof(T).Name}.");

}
