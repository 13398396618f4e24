using Durable.DurableTask.Client;
using Durable.DurableTask.History;
using Durable.DurableTask.Runtime;

namespace Durable.DurableTask.Worker;

/// <summary>The result of running one work item: either a commit for the hub or an abandon with a reason.</summary>
public sealed record EpisodeOutcome(OrchestrationCommit? Commit, string? AbandonReason, TimeSpan AbandonDelay = default);

/// <summary>
/// Turns one locked work item into a commit: reconciles the received messages with the stored state (duplicates and
/// stale messages dropped, early replies deferred, poison parked), replays the orchestrator, and converts its actions
/// into history events plus outbound messages. Hub-independent, so the in-memory and the Azure Storage hubs share
/// exactly these semantics.
/// </summary>
public static class OrchestrationEpisode
{
    /// <summary>How many deliveries a message for an instance that does not exist (yet) waits before it is dropped.</summary>
    public const int OrphanDeliveryLimit = 5;

    private const int AppliedIdsKept = 2000;

    public static EpisodeOutcome Run(OrchestrationWorkItem workItem, DurableTaskRegistry registry, DurableTaskWorkerOptions options, DateTime now)
    {
        var state = workItem.State;
        var consumed = new List<ReceivedMessage>();
        var deferred = new List<ReceivedMessage>();
        var accepted = new List<ReceivedMessage>();
        var orchestratorOut = new List<TaskMessage>();
        var activityOut = new List<TaskMessage>();
        var applied = new HashSet<string>(state?.AppliedMessageIds ?? [], StringComparer.Ordinal);
        var poisoned = workItem.PoisonMessages.Select(m => (m, PoisonReason(m, workItem))).ToList();

        if (poisoned.Count > 0)
        {
            consumed.AddRange(workItem.Messages);
            if (state is null || state.IsTerminal)
            {
                return new EpisodeOutcome(new OrchestrationCommit { Consumed = consumed, Poisoned = poisoned }, null);
            }

            var failure = new TaskFailureDetails("Durable.PoisonMessage", string.Join(" ", poisoned.Select(p => p.Item2))) { IsNonRetriable = true };
            var failedState = Finish(state, now, [new OrchestratorStartedEvent { Timestamp = now }], CompletionKind.Failed, null, failure, state.CustomStatus, orchestratorOut);
            return new EpisodeOutcome(new OrchestrationCommit { NewState = failedState, OrchestratorMessages = orchestratorOut, Consumed = consumed, Poisoned = poisoned }, null);
        }

        var startedInBatch = false;
        // Ids scheduled and answered in the history, indexed once per history: a fan-in batch of hundreds of replies
        // against thousands of events would otherwise scan the history once per reply.
        IReadOnlyList<HistoryEvent>? indexed = null;
        HashSet<int> scheduledIds = [], answeredIds = [];
        foreach (var m in workItem.Messages.OrderBy(m => m.Message.Event is ExecutionStartedEvent ? 0 : 1))
        {
            var msg = m.Message;
            // Add, not Contains: a redelivered copy can arrive in the same batch as the original, before either is
            // recorded in the state's applied ids.
            if (!applied.Add(msg.MessageId))
            {
                consumed.Add(m);
                continue;
            }

            if (msg.Event is ExecutionStartedEvent es)
            {
                var isNewer = state is not null && state.ExecutionId != es.OrchestrationInstance.ExecutionId && state.IsTerminal
                              && es.Timestamp >= state.LastUpdatedAt;
                if (!startedInBatch && (state is null || isNewer))
                {
                    state = NewState(es, now);
                    applied.Clear();
                    startedInBatch = true;
                    accepted.Add(m);
                }
                else if (!startedInBatch && state!.ExecutionId == es.OrchestrationInstance.ExecutionId && state.History.Count == 0)
                {
                    // The client wrote the Pending record first; this is its start message.
                    startedInBatch = true;
                    accepted.Add(m);
                }
                else
                {
                    consumed.Add(m);
                }

                continue;
            }

            if (state is { History.Count: 0, IsTerminal: false } && !startedInBatch && msg.Event is ExecutionTerminatedEvent terminate)
            {
                // Terminating an instance that has not started yet (e.g. a scheduled start): end it now; its start
                // message, when it comes, finds a finished execution and is dropped.
                consumed.Add(m);
                consumed.AddRange(deferred);
                var terminated = Finish(state, now, [new OrchestratorStartedEvent { Timestamp = now }, terminate], CompletionKind.Terminated, terminate.Input, null, state.CustomStatus, orchestratorOut)
                    with { AppliedMessageIds = [msg.MessageId] };
                return new EpisodeOutcome(new OrchestrationCommit { NewState = terminated, OrchestratorMessages = orchestratorOut, Consumed = consumed }, null);
            }

            if (state is null || (state.History.Count == 0 && !startedInBatch))
            {
                // Not started (yet): the start message may still be on its way; wait a few deliveries, then drop.
                (m.DequeueCount >= OrphanDeliveryLimit ? consumed : deferred).Add(m);
                continue;
            }

            if (state.IsTerminal || (msg.ExecutionId is not null && msg.ExecutionId != state.ExecutionId))
            {
                consumed.Add(m);
                continue;
            }

            switch (msg.Event)
            {
                case TaskCompletedEvent or TaskFailedEvent or SubOrchestrationInstanceCompletedEvent or SubOrchestrationInstanceFailedEvent or TimerFiredEvent:
                    var id = ReplyTo(msg.Event);
                    if (!ReferenceEquals(indexed, state.History))
                    {
                        indexed = state.History;
                        scheduledIds = state.History.Where(e => e is TaskScheduledEvent or TimerCreatedEvent or SubOrchestrationInstanceCreatedEvent).Select(e => e.EventId).ToHashSet();
                        answeredIds = state.History.Select(ReplyTo).Where(r => r >= 0).ToHashSet();
                        answeredIds.UnionWith(accepted.Select(a => ReplyTo(a.Message.Event)).Where(r => r >= 0));
                    }

                    if (answeredIds.Contains(id))
                    {
                        consumed.Add(m);
                    }
                    else if (!scheduledIds.Contains(id))
                    {
                        // The reply overtook the commit of what it answers (messages are sent before the state is written).
                        (m.DequeueCount >= OrphanDeliveryLimit ? consumed : deferred).Add(m);
                    }
                    else if (msg.Event is TimerFiredEvent tf && tf.FireAt > now.AddSeconds(1))
                    {
                        // Delivered early because a queue caps delays: send it on for the remaining time.
                        orchestratorOut.Add(msg with { VisibleAt = tf.FireAt, LastError = null });
                        consumed.Add(m);
                    }
                    else
                    {
                        accepted.Add(m);
                        answeredIds.Add(id);
                    }

                    break;
                default:
                    accepted.Add(m);
                    break;
            }
        }

        if (accepted.Count == 0)
        {
            return new EpisodeOutcome(new OrchestrationCommit { Consumed = consumed, Deferred = deferred, OrchestratorMessages = orchestratorOut }, null);
        }

        consumed.AddRange(accepted);
        var newEvents = new List<HistoryEvent> { new OrchestratorStartedEvent { Timestamp = now } };
        newEvents.AddRange(accepted.Select(a => a.Message.Event));
        var appliedIds = (state!.AppliedMessageIds ?? []).Where(_ => !startedInBatch)
            .Concat(accepted.Select(a => a.Message.MessageId)).TakeLast(AppliedIdsKept).ToList();

        for (var generation = 0; ; generation++)
        {
            var started = state!.History.OfType<ExecutionStartedEvent>().FirstOrDefault()
                          ?? newEvents.OfType<ExecutionStartedEvent>().First();
            if (string.IsNullOrEmpty(started.Version) && registry.DefaultVersion(started.Name) is { Length: > 0 } defaultVersion)
            {
                // Record the version the instance starts with, so every later replay (on any host) knows which code it needs.
                var stamped = started with { Version = defaultVersion };
                newEvents = newEvents.Select(e => ReferenceEquals(e, started) ? stamped : e).ToList();
                started = stamped;
                state = state with { Version = defaultVersion };
            }

            if (!registry.TryCreateOrchestrator(started.Name, started.Version, out var orchestrator))
            {
                var known = registry.Versions(started.Name);
                if (known.Count > 0 && options.VersionMismatch == VersionMismatchBehavior.Abandon)
                {
                    return new EpisodeOutcome(null,
                        $"instance '{state.InstanceId}' needs version '{started.Version}' of '{started.Name}'; this host has {string.Join(", ", known.Select(v => $"'{v}'"))}",
                        TimeSpan.FromSeconds(10));
                }

                var message = known.Count == 0
                    ? $"Orchestrator '{started.Name}' is not registered on this host (registered: {string.Join(", ", registry.OrchestratorNames.Select(n => $"'{n}'"))})."
                    : $"Instance '{state.InstanceId}' started with version '{started.Version}' of orchestrator '{started.Name}', but this host runs only " +
                      $"version(s) {string.Join(", ", known.Select(v => $"'{v}'"))}. The instance is failed rather than replayed with code it did not start with.";
                var failure = new TaskFailureDetails("Durable.OrchestrationVersionMismatch", message) { IsNonRetriable = true };
                var failed = Finish(state, now, newEvents, CompletionKind.Failed, null, failure, state.CustomStatus, orchestratorOut) with { AppliedMessageIds = appliedIds };
                return new EpisodeOutcome(new OrchestrationCommit { NewState = failed, OrchestratorMessages = orchestratorOut, ActivityMessages = activityOut, Consumed = consumed, Deferred = deferred }, null);
            }

            var result = OrchestrationExecutor.Execute(orchestrator!, state.History, newEvents, new OrchestrationExecutorOptions { MaximumTimerInterval = options.MaximumTimerInterval });
            var episodeEvents = new List<HistoryEvent>(newEvents);
            foreach (var action in result.Actions)
            {
                episodeEvents.Add(ToScheduledEvent(action, now));
                var messageId = $"{state.ExecutionId}:{action.Id}";
                switch (action)
                {
                    case ScheduleTaskAction a:
                        activityOut.Add(new TaskMessage { InstanceId = state.InstanceId, ExecutionId = state.ExecutionId, Event = episodeEvents[^1], MessageId = messageId });
                        break;
                    case CreateTimerAction t:
                        orchestratorOut.Add(new TaskMessage
                        {
                            InstanceId = state.InstanceId,
                            ExecutionId = state.ExecutionId,
                            Event = new TimerFiredEvent { TimerId = t.Id, FireAt = t.FireAt, Timestamp = now },
                            VisibleAt = t.FireAt,
                            MessageId = messageId,
                        });
                        break;
                    case CreateSubOrchestrationAction s:
                        orchestratorOut.Add(new TaskMessage
                        {
                            InstanceId = s.InstanceId,
                            ExecutionId = ChildExecutionId(state.ExecutionId, s.Id),
                            MessageId = messageId,
                            Event = new ExecutionStartedEvent
                            {
                                OrchestrationInstance = new OrchestrationInstanceRef(s.InstanceId, ChildExecutionId(state.ExecutionId, s.Id)),
                                Name = s.Name,
                                Version = s.Version ?? string.Empty,
                                Input = s.Input,
                                ParentInstance = new ParentInstanceInfo(state.Name, state.InstanceId, state.ExecutionId, s.Id),
                                Timestamp = now,
                            },
                        });
                        break;
                    case SendEventAction e:
                        orchestratorOut.Add(new TaskMessage
                        {
                            InstanceId = e.InstanceId,
                            MessageId = messageId,
                            Event = new EventRaisedEvent { Name = e.Name, Input = e.Input, Timestamp = now },
                        });
                        break;
                }
            }

            var custom = result.CustomStatus ?? state.CustomStatus;
            if (result.Completion is null)
            {
                episodeEvents.Add(new OrchestratorCompletedEvent { Timestamp = now });
                var running = state with
                {
                    Version = started.Version,
                    Status = result.IsSuspended ? OrchestrationRuntimeStatus.Suspended : OrchestrationRuntimeStatus.Running,
                    History = state.History.Concat(episodeEvents).ToList(),
                    CustomStatus = custom,
                    LastUpdatedAt = now,
                    AppliedMessageIds = appliedIds,
                };
                return new EpisodeOutcome(new OrchestrationCommit { NewState = running, ActivityMessages = activityOut, OrchestratorMessages = orchestratorOut, Consumed = consumed, Deferred = deferred }, null);
            }

            if (result.Completion != CompletionKind.ContinuedAsNew)
            {
                var done = Finish(state with { Version = started.Version }, now, episodeEvents, result.Completion.Value, result.Output, result.Failure, custom, orchestratorOut) with { AppliedMessageIds = appliedIds };
                return new EpisodeOutcome(new OrchestrationCommit { NewState = done, ActivityMessages = activityOut, OrchestratorMessages = orchestratorOut, Consumed = consumed, Deferred = deferred }, null);
            }

            if (generation + 1 >= options.MaxGenerationsPerEpisode)
            {
                var failure = new TaskFailureDetails("Durable.RunawayContinueAsNew",
                    $"Orchestration '{started.Name}' called ContinueAsNew {options.MaxGenerationsPerEpisode} times in one episode without awaiting anything durable.") { IsNonRetriable = true };
                var failed = Finish(state, now, episodeEvents, CompletionKind.Failed, null, failure, custom, orchestratorOut) with { AppliedMessageIds = appliedIds };
                return new EpisodeOutcome(new OrchestrationCommit { NewState = failed, ActivityMessages = activityOut, OrchestratorMessages = orchestratorOut, Consumed = consumed, Deferred = deferred }, null);
            }

            // ContinueAsNew: a new execution with fresh history; unconsumed events carried over when asked.
            var nextExecutionId = ReplayOrchestrationContext.NameBasedGuid(ChildNamespace, state.ExecutionId + ":continue").ToString("N");
            var nextStarted = new ExecutionStartedEvent
            {
                OrchestrationInstance = new OrchestrationInstanceRef(state.InstanceId, nextExecutionId),
                Name = started.Name,
                Version = result.ContinueAsNew?.NewVersion ?? started.Version,
                Input = result.ContinueAsNewInput,
                ParentInstance = started.ParentInstance,
                Tags = started.Tags,
                Generation = started.Generation + 1,
                Timestamp = now,
            };
            state = state with
            {
                ExecutionId = nextExecutionId,
                Version = nextStarted.Version,
                Input = nextStarted.Input,
                Output = null,
                CustomStatus = custom,
                Status = OrchestrationRuntimeStatus.Running,
                Generation = nextStarted.Generation,
                History = [],
                LastUpdatedAt = now,
            };
            newEvents = [new OrchestratorStartedEvent { Timestamp = now }, nextStarted, .. result.CarryoverEvents];
        }
    }

    private static readonly Guid ChildNamespace = new("6f1d7c1e-3e0b-4b53-9a38-4a6c1f0f2d11");

    /// <summary>Deterministic, so a start message re-sent after a crash is recognised as the same execution.</summary>
    public static string ChildExecutionId(string parentExecutionId, int taskId) =>
        ReplayOrchestrationContext.NameBasedGuid(ChildNamespace, $"{parentExecutionId}:{taskId}").ToString("N");

    private static OrchestrationState NewState(ExecutionStartedEvent es, DateTime now) => new()
    {
        InstanceId = es.OrchestrationInstance.InstanceId,
        ExecutionId = es.OrchestrationInstance.ExecutionId,
        Name = es.Name,
        Version = es.Version,
        Status = OrchestrationRuntimeStatus.Pending,
        Input = es.Input,
        CreatedAt = now,
        LastUpdatedAt = now,
        Tags = es.Tags,
        Parent = es.ParentInstance,
        Generation = es.Generation,
    };

    private static OrchestrationState Finish(
        OrchestrationState state,
        DateTime now,
        IEnumerable<HistoryEvent> episodeEvents,
        CompletionKind kind,
        string? output,
        TaskFailureDetails? failure,
        string? customStatus,
        List<TaskMessage> orchestratorOut)
    {
        var status = kind switch
        {
            CompletionKind.Completed => OrchestrationStatus.Completed,
            CompletionKind.Terminated => OrchestrationStatus.Terminated,
            _ => OrchestrationStatus.Failed,
        };
        var events = episodeEvents.ToList();
        events.Add(new ExecutionCompletedEvent { OrchestrationStatus = status, Result = output, FailureDetails = failure, Timestamp = now });
        events.Add(new OrchestratorCompletedEvent { Timestamp = now });
        var parent = state.Parent ?? state.History.OfType<ExecutionStartedEvent>().FirstOrDefault()?.ParentInstance
                     ?? events.OfType<ExecutionStartedEvent>().FirstOrDefault()?.ParentInstance;
        if (parent is not null)
        {
            HistoryEvent reply = kind == CompletionKind.Completed
                ? new SubOrchestrationInstanceCompletedEvent { TaskScheduledId = parent.TaskScheduleId, Result = output, Timestamp = now }
                : new SubOrchestrationInstanceFailedEvent
                {
                    TaskScheduledId = parent.TaskScheduleId,
                    FailureDetails = failure ?? new TaskFailureDetails("Durable.Terminated", $"Sub-orchestration '{state.InstanceId}' was terminated: {output}"),
                    Timestamp = now,
                };
            orchestratorOut.Add(new TaskMessage { InstanceId = parent.InstanceId, ExecutionId = parent.ExecutionId, Event = reply, MessageId = $"{state.ExecutionId}:done" });
        }

        return state with
        {
            Status = (OrchestrationRuntimeStatus)(int)status,
            Output = output,
            FailureDetails = failure,
            CustomStatus = customStatus,
            History = state.History.Concat(events).ToList(),
            LastUpdatedAt = now,
            CompletedAt = now,
        };
    }

    private static string PoisonReason(ReceivedMessage m, OrchestrationWorkItem workItem) =>
        $"Message {m.Message.Event.EventType} ({m.Message.MessageId}) for instance '{workItem.InstanceId}' was parked as poison after {m.DequeueCount} deliveries; " +
        $"last error: {m.Message.LastError ?? "none recorded (the host probably crashed or timed out while processing it)"}.";

    private static HistoryEvent ToScheduledEvent(OrchestratorAction action, DateTime now) => action switch
    {
        ScheduleTaskAction a => new TaskScheduledEvent { EventId = a.Id, Name = a.Name, Version = a.Version, Input = a.Input, Tags = a.Tags, Timestamp = now },
        CreateTimerAction t => new TimerCreatedEvent { EventId = t.Id, FireAt = t.FireAt, Timestamp = now },
        CreateSubOrchestrationAction s => new SubOrchestrationInstanceCreatedEvent { EventId = s.Id, Name = s.Name, Version = s.Version, InstanceId = s.InstanceId, Input = s.Input, Timestamp = now },
        SendEventAction e => new EventSentEvent { EventId = e.Id, InstanceId = e.InstanceId, Name = e.Name, Input = e.Input, Timestamp = now },
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown orchestrator action."),
    };

    private static int ReplyTo(HistoryEvent e) => e switch
    {
        TaskCompletedEvent c => c.TaskScheduledId,
        TaskFailedEvent f => f.TaskScheduledId,
        SubOrchestrationInstanceCompletedEvent c => c.TaskScheduledId,
        SubOrchestrationInstanceFailedEvent f => f.TaskScheduledId,
        TimerFiredEvent t => t.TimerId,
        _ => -1,
    };

}
