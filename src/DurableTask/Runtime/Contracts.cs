using System.Text.Json;
using System.Text.Json.Serialization;
using Durable.DurableTask.Client;
using Durable.DurableTask.History;

namespace Durable.DurableTask.Runtime;

/// <summary>A message between instances, the activity queue and clients: one history event addressed to one execution.</summary>
public sealed record TaskMessage
{
    public required string InstanceId { get; init; }

    /// <summary>The execution the event belongs to; null for events aimed at whichever execution is current (raise, terminate).</summary>
    public string? ExecutionId { get; init; }

    public required HistoryEvent Event { get; init; }

    /// <summary>When the message may be delivered (timers, delayed starts); null means now.</summary>
    public DateTime? VisibleAt { get; init; }

    /// <summary>Unique per logical message; a re-sent message keeps it, so receivers can drop copies.</summary>
    public string MessageId { get; init; } = Guid.NewGuid().ToString("N");

    /// <summary>Why the last attempt to process this message failed (set when a message is abandoned).</summary>
    public string? LastError { get; init; }

    public override string ToString() => $"{Event.EventType} for {InstanceId}" + (ExecutionId is null ? string.Empty : $"/{ExecutionId}");
}

/// <summary>
/// An instance's durable record: the status fields clients query and the history of the current execution, kept in
/// ONE document so status and history can never disagree (the Azure Storage provider's stuck-Running bug comes from
/// writing them separately).
/// </summary>
public sealed record OrchestrationState
{
    public required string InstanceId { get; init; }

    public required string ExecutionId { get; init; }

    public required string Name { get; init; }

    public string Version { get; init; } = string.Empty;

    public OrchestrationRuntimeStatus Status { get; init; }

    public string? Input { get; init; }

    public string? Output { get; init; }

    public string? CustomStatus { get; init; }

    public TaskFailureDetails? FailureDetails { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime LastUpdatedAt { get; init; }

    public DateTime? CompletedAt { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public ParentInstanceInfo? Parent { get; init; }

    public int Generation { get; init; }

    /// <summary>History of the current execution (older generations are dropped at ContinueAsNew).</summary>
    public IReadOnlyList<HistoryEvent> History { get; init; } = [];

    /// <summary>Ids of messages already applied to this execution, bounded; lets the hub drop re-delivered copies.</summary>
    public IReadOnlyList<string> AppliedMessageIds { get; init; } = [];

    [JsonIgnore]
    public bool IsTerminal => Status is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated;

    public OrchestrationMetadata ToMetadata(bool withInputsAndOutputs) => new(Name, InstanceId)
    {
        RuntimeStatus = Status,
        CreatedAt = new DateTimeOffset(DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc)),
        LastUpdatedAt = new DateTimeOffset(DateTime.SpecifyKind(LastUpdatedAt, DateTimeKind.Utc)),
        SerializedInput = withInputsAndOutputs ? Input : null,
        SerializedOutput = withInputsAndOutputs ? Output : null,
        SerializedCustomStatus = withInputsAndOutputs ? CustomStatus : null,
        FailureDetails = FailureDetails,
        Tags = Tags,
        Version = Version,
        FetchedInputsAndOutputs = withInputsAndOutputs,
    };
}

/// <summary>JSON for everything the hubs persist.</summary>
public static class RuntimeJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"'{json[..Math.Min(60, json.Length)]}' is not a {typeof(T).Name}.");
}

/// <summary>A received message plus what its hub needs to delete or abandon it.</summary>
public sealed class ReceivedMessage(TaskMessage message, int dequeueCount, object receipt)
{
    public TaskMessage Message { get; } = message;

    public int DequeueCount { get; } = dequeueCount;

    /// <summary>Hub-specific handle (queue message id + pop receipt, or an in-memory token).</summary>
    public object Receipt { get; set; } = receipt;
}

/// <summary>All received messages of one instance plus its stored state, locked for one episode.</summary>
public sealed class OrchestrationWorkItem
{
    public required string InstanceId { get; init; }

    public required IReadOnlyList<ReceivedMessage> Messages { get; init; }

    /// <summary>Null when the instance has no record yet.</summary>
    public OrchestrationState? State { get; init; }

    /// <summary>Optimistic-concurrency token of <see cref="State"/> (a blob ETag); the commit must present it.</summary>
    public string? ETag { get; init; }

    /// <summary>The hub's own bookkeeping (partition, session).</summary>
    public object? HubState { get; init; }

    /// <summary>Set by the hub when messages exceeded the dequeue limit: they are parked and the instance fails with this reason.</summary>
    public IReadOnlyList<ReceivedMessage> PoisonMessages { get; init; } = [];
}

/// <summary>The outcome of one episode that the hub must make durable, in the order that never loses a message.</summary>
public sealed class OrchestrationCommit
{
    /// <summary>The new state; null when nothing changes (every message was a duplicate or stale).</summary>
    public OrchestrationState? NewState { get; init; }

    public IReadOnlyList<TaskMessage> ActivityMessages { get; init; } = [];

    /// <summary>Messages to instances, including this instance's own timers and continue-as-new restarts.</summary>
    public IReadOnlyList<TaskMessage> OrchestratorMessages { get; init; } = [];

    /// <summary>Messages fully handled (applied or dropped as duplicates): delete them after the state is written.</summary>
    public IReadOnlyList<ReceivedMessage> Consumed { get; init; } = [];

    /// <summary>Messages that arrived before what they answer is in the history: put them back for later.</summary>
    public IReadOnlyList<ReceivedMessage> Deferred { get; init; } = [];

    /// <summary>Messages to park in the hub's poison store (with the reason recorded on them).</summary>
    public IReadOnlyList<(ReceivedMessage Message, string Reason)> Poisoned { get; init; } = [];
}

public sealed class ActivityWorkItem
{
    public required ReceivedMessage Received { get; init; }

    public TaskMessage Message => Received.Message;

    public TaskScheduledEvent Scheduled => (TaskScheduledEvent)Received.Message.Event;
}

/// <summary>The worker side of a task hub (the contract both the in-memory and the Azure Storage hubs implement).</summary>
public interface IOrchestrationService
{
    /// <summary>The dequeue count after which a message is parked instead of retried.</summary>
    int MaxDequeueCount { get; }

    Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default);

    /// <summary>Starts background work (partition leases); work items flow only after this.</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops taking work and gives up partitions so another host can take them at once.</summary>
    Task StopAsync(CancellationToken cancellationToken = default);

    /// <summary>Waits (with idle back-off) for the next instance with messages; null when cancelled.</summary>
    Task<OrchestrationWorkItem?> LockNextOrchestrationWorkItemAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Persists an episode: send outbound messages, then write the state guarded by the work item's ETag, then delete
    /// the consumed messages. Throws <see cref="OrchestrationConcurrencyException"/> when another writer won.
    /// </summary>
    Task CompleteOrchestrationWorkItemAsync(OrchestrationWorkItem workItem, OrchestrationCommit commit, CancellationToken cancellationToken = default);

    /// <summary>Makes the messages visible again after a back-off, recording <paramref name="reason"/> on them.</summary>
    Task AbandonOrchestrationWorkItemAsync(OrchestrationWorkItem workItem, string reason, CancellationToken cancellationToken = default);

    /// <summary>Tells the hub the work item is done (successfully or not) so the instance's next messages can run.</summary>
    void ReleaseOrchestrationWorkItem(OrchestrationWorkItem workItem);

    Task<ActivityWorkItem?> LockNextActivityWorkItemAsync(CancellationToken cancellationToken);

    /// <summary>Keeps a long-running activity's message invisible.</summary>
    Task RenewActivityWorkItemAsync(ActivityWorkItem workItem, CancellationToken cancellationToken = default);

    /// <summary>Sends the result to the orchestration, then deletes the activity message (in that order).</summary>
    Task CompleteActivityWorkItemAsync(ActivityWorkItem workItem, TaskMessage response, CancellationToken cancellationToken = default);

    Task AbandonActivityWorkItemAsync(ActivityWorkItem workItem, string reason, CancellationToken cancellationToken = default);

    /// <summary>Parks an activity message that exceeded the dequeue limit (after its failure reply was sent).</summary>
    Task ParkActivityWorkItemAsync(ActivityWorkItem workItem, string reason, CancellationToken cancellationToken = default);
}

/// <summary>The client side of a task hub.</summary>
public interface IOrchestrationServiceClient
{
    Task SendMessageAsync(TaskMessage message, CancellationToken cancellationToken = default);

    /// <summary>Writes a Pending record for a new execution unless a non-terminal one exists (then throws).</summary>
    Task CreateInstanceAsync(TaskMessage startMessage, CancellationToken cancellationToken = default);

    Task<OrchestrationState?> GetStateAsync(string instanceId, CancellationToken cancellationToken = default);

    Task<Page<OrchestrationState>> QueryAsync(OrchestrationQuery query, CancellationToken cancellationToken = default);

    /// <summary>Deletes a terminal instance and its payloads; returns 1 when deleted, 0 when absent.</summary>
    Task<int> PurgeAsync(string instanceId, CancellationToken cancellationToken = default);
}

/// <summary>Another writer committed the instance first (ETag mismatch): the episode is abandoned and re-run.</summary>
public sealed class OrchestrationConcurrencyException(string message) : Exception(message);
