using Durable.DurableTask.History;

namespace Durable.DurableTask.Runtime;

/// <summary>Something orchestrator code asked for in an episode; each becomes a scheduling history event plus a message.</summary>
public abstract record OrchestratorAction(int Id)
{
    public abstract EventType ScheduledEventType { get; }

    public abstract string Describe();
}

public sealed record ScheduleTaskAction(int Id, string Name, string? Version, string? Input, IReadOnlyDictionary<string, string>? Tags) : OrchestratorAction(Id)
{
    public override EventType ScheduledEventType => EventType.TaskScheduled;

    public override string Describe() => $"an activity task named '{Name}'";
}

public sealed record CreateTimerAction(int Id, DateTime FireAt) : OrchestratorAction(Id)
{
    public override EventType ScheduledEventType => EventType.TimerCreated;

    public override string Describe() => $"a durable timer firing at {FireAt:o}";
}

public sealed record CreateSubOrchestrationAction(int Id, string Name, string? Version, string InstanceId, string? Input) : OrchestratorAction(Id)
{
    public override EventType ScheduledEventType => EventType.SubOrchestrationInstanceCreated;

    public override string Describe() => $"a sub-orchestration named '{Name}'";
}

public sealed record SendEventAction(int Id, string InstanceId, string Name, string? Input) : OrchestratorAction(Id)
{
    public override EventType ScheduledEventType => EventType.EventSent;

    public override string Describe() => $"an event named '{Name}' sent to instance '{InstanceId}'";
}

public enum CompletionKind
{
    Completed,
    Failed,
    Terminated,
    ContinuedAsNew,
}

/// <summary>What one execution of orchestrator code over a history produced.</summary>
public sealed class ExecutionResult
{
    public required IReadOnlyList<OrchestratorAction> Actions { get; init; }

    /// <summary>Null while the orchestration keeps running.</summary>
    public CompletionKind? Completion { get; init; }

    public string? Output { get; init; }

    public TaskFailureDetails? Failure { get; init; }

    public string? CustomStatus { get; init; }

    public bool IsSuspended { get; init; }

    public ContinueAsNewOptions? ContinueAsNew { get; init; }

    /// <summary>Serialized new input for ContinueAsNew.</summary>
    public string? ContinueAsNewInput { get; init; }

    /// <summary>External events not consumed by this generation, carried into the next one.</summary>
    public IReadOnlyList<EventRaisedEvent> CarryoverEvents { get; init; } = [];
}
