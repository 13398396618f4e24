using Durable.Core.Faults;
using DurableTask.Core;

namespace Durable.Functions.Engine;

/// <summary>
/// The worker's view of the task hub with a named fault point before and after every call that moves a work item
/// (lock, complete, abandon) so crash tests can kill the host at each step of an episode, as they could inside the
/// project's former runtime. Names: <c>durable.{orchestration|activity}.{before|after}-{lock|complete|abandon}</c>;
/// an after-lock point fires only when a work item was actually locked. Everything else passes through. With no
/// <c>DURABLE_FAULT_POINTS</c> set each point is a cheap no-op.
/// </summary>
public sealed class FaultPointOrchestrationService(IOrchestrationService inner) : DelegatingOrchestrationService(inner)
{
    public const string Orchestration = "durable.orchestration";
    public const string Activity = "durable.activity";

    /// <summary>Every point this decorator can reach, for tests that walk all of them.</summary>
    public static IReadOnlyList<string> Points { get; } =
        (from kind in new[] { Orchestration, Activity }
         from step in new[] { "lock", "complete", "abandon" }
         from when in new[] { "before", "after" }
         select $"{kind}.{when}-{step}").ToArray();

    public override async Task<TaskOrchestrationWorkItem> LockNextTaskOrchestrationWorkItemAsync(TimeSpan receiveTimeout, CancellationToken cancellationToken)
    {
        FaultPoints.Hit($"{Orchestration}.before-lock");
        var item = await Inner.LockNextTaskOrchestrationWorkItemAsync(receiveTimeout, cancellationToken).ConfigureAwait(false);
        if (item is not null)
        {
            FaultPoints.Hit($"{Orchestration}.after-lock");
        }

        return item!;
    }

    public override async Task CompleteTaskOrchestrationWorkItemAsync(
        TaskOrchestrationWorkItem workItem,
        OrchestrationRuntimeState newOrchestrationRuntimeState,
        IList<TaskMessage> outboundMessages,
        IList<TaskMessage> orchestratorMessages,
        IList<TaskMessage> timerMessages,
        TaskMessage continuedAsNewMessage,
        OrchestrationState orchestrationState)
    {
        FaultPoints.Hit($"{Orchestration}.before-complete");
        await Inner.CompleteTaskOrchestrationWorkItemAsync(workItem, newOrchestrationRuntimeState, outboundMessages, orchestratorMessages, timerMessages,
            continuedAsNewMessage, orchestrationState).ConfigureAwait(false);
        FaultPoints.Hit($"{Orchestration}.after-complete");
    }

    public override async Task AbandonTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem)
    {
        FaultPoints.Hit($"{Orchestration}.before-abandon");
        await Inner.AbandonTaskOrchestrationWorkItemAsync(workItem).ConfigureAwait(false);
        FaultPoints.Hit($"{Orchestration}.after-abandon");
    }

    public override async Task<TaskActivityWorkItem> LockNextTaskActivityWorkItem(TimeSpan receiveTimeout, CancellationToken cancellationToken)
    {
        FaultPoints.Hit($"{Activity}.before-lock");
        var item = await Inner.LockNextTaskActivityWorkItem(receiveTimeout, cancellationToken).ConfigureAwait(false);
        if (item is not null)
        {
            FaultPoints.Hit($"{Activity}.after-lock");
        }

        return item!;
    }

    public override async Task CompleteTaskActivityWorkItemAsync(TaskActivityWorkItem workItem, TaskMessage responseMessage)
    {
        FaultPoints.Hit($"{Activity}.before-complete");
        await Inner.CompleteTaskActivityWorkItemAsync(workItem, responseMessage).ConfigureAwait(false);
        FaultPoints.Hit($"{Activity}.after-complete");
    }

    public override async Task AbandonTaskActivityWorkItemAsync(TaskActivityWorkItem workItem)
    {
        FaultPoints.Hit($"{Activity}.before-abandon");
        await Inner.AbandonTaskActivityWorkItemAsync(workItem).ConfigureAwait(false);
        FaultPoints.Hit($"{Activity}.after-abandon");
    }
}
