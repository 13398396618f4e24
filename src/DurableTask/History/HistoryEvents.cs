using System.Text.Json.Serialization;

namespace Durable.DurableTask.History;

/// <summary>History event types with upstream's numbering (DurableTask.Core EventType; append only, never reorder).</summary>
public enum EventType
{
    ExecutionStarted = 0,
    ExecutionCompleted = 1,
    ExecutionFailed = 2,
    ExecutionTerminated = 3,
    TaskScheduled = 4,
    TaskCompleted = 5,
    TaskFailed = 6,
    SubOrchestrationInstanceCreated = 7,
    SubOrchestrationInstanceCompleted = 8,
    SubOrchestrationInstanceFailed = 9,
    TimerCreated = 10,
    TimerFired = 11,
    OrchestratorStarted = 12,
    OrchestratorCompleted = 13,
    EventSent = 14,
    EventRaised = 15,
    ContinueAsNew = 16,
    GenericEvent = 17,
    HistoryState = 18,
    ExecutionSuspended = 19,
    ExecutionResumed = 20,
    ExecutionRewound = 21,
}

/// <summary>
/// One entry of an orchestration's history. <see cref="EventId"/> is the sequence number the orchestrator code gave
/// the action (scheduling events) or -1 (events that came from outside); replies point back with
/// <c>TaskScheduledId</c>/<c>TimerId</c>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$type")]
[JsonDerivedType(typeof(ExecutionStartedEvent), "ExecutionStarted")]
[JsonDerivedType(typeof(ExecutionCompletedEvent), "ExecutionCompleted")]
[JsonDerivedType(typeof(ExecutionTerminatedEvent), "ExecutionTerminated")]
[JsonDerivedType(typeof(TaskScheduledEvent), "TaskScheduled")]
[JsonDerivedType(typeof(TaskCompletedEvent), "TaskCompleted")]
[JsonDerivedType(typeof(TaskFailedEvent), "TaskFailed")]
[JsonDerivedType(typeof(SubOrchestrationInstanceCreatedEvent), "SubOrchestrationInstanceCreated")]
[JsonDerivedType(typeof(SubOrchestrationInstanceCompletedEvent), "SubOrchestrationInstanceCompleted")]
[JsonDerivedType(typeof(SubOrchestrationInstanceFailedEvent), "SubOrchestrationInstanceFailed")]
[JsonDerivedType(typeof(TimerCreatedEvent), "TimerCreated")]
[JsonDerivedType(typeof(TimerFiredEvent), "TimerFired")]
[JsonDerivedType(typeof(OrchestratorStartedEvent), "OrchestratorStarted")]
[JsonDerivedType(typeof(OrchestratorCompletedEvent), "OrchestratorCompleted")]
[JsonDerivedType(typeof(EventSentEvent), "EventSent")]
[JsonDerivedType(typeof(EventRaisedEvent), "EventRaised")]
[JsonDerivedType(typeof(ContinueAsNewEvent), "ContinueAsNew")]
[JsonDerivedType(typeof(ExecutionSuspendedEvent), "ExecutionSuspended")]
[JsonDerivedType(typeof(ExecutionResumedEvent), "ExecutionResumed")]
[JsonDerivedType(typeof(GenericEvent), "GenericEvent")]
public abstract record HistoryEvent
{
    public int EventId { get; init; } = -1;

    public DateTime Timestamp { get; init; } = DateTime.UtcNow;

    [JsonIgnore]
    public abstract EventType EventType { get; }
}

public sealed record OrchestrationInstanceRef(string InstanceId, string ExecutionId);

public sealed record ParentInstanceInfo(string Name, string InstanceId, string ExecutionId, int TaskScheduleId);

public sealed record ExecutionStartedEvent : HistoryEvent
{
    public override EventType EventType => EventType.ExecutionStarted;

    public required OrchestrationInstanceRef OrchestrationInstance { get; init; }

    public required string Name { get; init; }

    /// <summary>The orchestrator version; stamped by the first worker that runs the instance when the client left it empty.</summary>
    public string Version { get; init; } = string.Empty;

    public string? Input { get; init; }

    public ParentInstanceInfo? ParentInstance { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public DateTime? ScheduledStartTime { get; init; }

    public int Generation { get; init; }
}

public record ExecutionCompletedEvent : HistoryEvent
{
    public override EventType EventType => EventType.ExecutionCompleted;

    public required OrchestrationStatus OrchestrationStatus { get; init; }

    public string? Result { get; init; }

    public TaskFailureDetails? FailureDetails { get; init; }
}

/// <summary>Ends one execution and starts the next one; <see cref="ExecutionCompletedEvent.Result"/> holds the new input.</summary>
public sealed record ContinueAsNewEvent : ExecutionCompletedEvent
{
    public override EventType EventType => EventType.ContinueAsNew;
}

public sealed record ExecutionTerminatedEvent : HistoryEvent
{
    public override EventType EventType => EventType.ExecutionTerminated;

    public string? Input { get; init; }
}

public sealed record TaskScheduledEvent : HistoryEvent
{
    public override EventType EventType => EventType.TaskScheduled;

    public required string Name { get; init; }

    public string? Version { get; init; }

    public string? Input { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }
}

public sealed record TaskCompletedEvent : HistoryEvent
{
    public override EventType EventType => EventType.TaskCompleted;

    public required int TaskScheduledId { get; init; }

    public string? Result { get; init; }
}

public sealed record TaskFailedEvent : HistoryEvent
{
    public override EventType EventType => EventType.TaskFailed;

    public required int TaskScheduledId { get; init; }

    public required TaskFailureDetails FailureDetails { get; init; }
}

public sealed record SubOrchestrationInstanceCreatedEvent : HistoryEvent
{
    public override EventType EventType => EventType.SubOrchestrationInstanceCreated;

    public required string Name { get; init; }

    public string? Version { get; init; }

    public required string InstanceId { get; init; }

    public string? Input { get; init; }
}

public sealed record SubOrchestrationInstanceCompletedEvent : HistoryEvent
{
    public override EventType EventType => EventType.SubOrchestrationInstanceCompleted;

    public required int TaskScheduledId { get; init; }

    public string? Result { get; init; }
}

public sealed record SubOrchestrationInstanceFailedEvent : HistoryEvent
{
    public override EventType EventType => EventType.SubOrchestrationInstanceFailed;

    public required int TaskScheduledId { get; init; }

    public required TaskFailureDetails FailureDetails { get; init; }
}

public sealed record TimerCreatedEvent : HistoryEvent
{
    public override EventType EventType => EventType.TimerCreated;

    public required DateTime FireAt { get; init; }
}

public sealed record TimerFiredEvent : HistoryEvent
{
    public override EventType EventType => EventType.TimerFired;

    public required int TimerId { get; init; }

    public required DateTime FireAt { get; init; }
}

public sealed record OrchestratorStartedEvent : HistoryEvent
{
    public override EventType EventType => EventType.OrchestratorStarted;
}

public sealed record OrchestratorCompletedEvent : HistoryEvent
{
    public override EventType EventType => EventType.OrchestratorCompleted;
}

public sealed record EventSentEvent : HistoryEvent
{
    public override EventType EventType => EventType.EventSent;

    public required string InstanceId { get; init; }

    public required string Name { get; init; }

    public string? Input { get; init; }
}

public sealed record EventRaisedEvent : HistoryEvent
{
    public override EventType EventType => EventType.EventRaised;

    public required string Name { get; init; }

    public string? Input { get; init; }
}

public sealed record ExecutionSuspendedEvent : HistoryEvent
{
    public override EventType EventType => EventType.ExecutionSuspended;

    public string? Reason { get; init; }
}

public sealed record ExecutionResumedEvent : HistoryEvent
{
    public override EventType EventType => EventType.ExecutionResumed;

    public string? Reason { get; init; }
}

/// <summary>Free-form event; the hub uses it to stand for a message it could not read (so it can be parked).</summary>
public sealed record GenericEvent : HistoryEvent
{
    public override EventType EventType => EventType.GenericEvent;

    public string? Data { get; init; }
}

/// <summary>Core's status values (the integers match <see cref="OrchestrationRuntimeStatus"/>).</summary>
public enum OrchestrationStatus
{
    Running = 0,
    Completed = 1,
    ContinuedAsNew = 2,
    Failed = 3,
    Canceled = 4,
    Terminated = 5,
    Pending = 6,
    Suspended = 7,
}
