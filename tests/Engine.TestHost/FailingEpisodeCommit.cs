using Durable.Functions.Engine;
using DurableTask.Core;

namespace Durable.Engine.TestHost;

/// <summary>
/// Fails the N-th episode commit of this process the way a storage write fails (an I/O error), before anything is
/// written. The framework's dispatcher then abandons the orchestration work item (its messages reappear and the
/// episode runs again), which is how the orchestration abandon fault points are reached: nothing in the product's own
/// pipeline throws out of an episode.
/// </summary>
internal sealed class FailingEpisodeCommit(IOrchestrationService inner, int failOn) : DelegatingOrchestrationService(inner)
{
    private int _commits;

    public override Task CompleteTaskOrchestrationWorkItemAsync(
        TaskOrchestrationWorkItem workItem,
        OrchestrationRuntimeState newOrchestrationRuntimeState,
        IList<TaskMessage> outboundMessages,
        IList<TaskMessage> orchestratorMessages,
        IList<TaskMessage> timerMessages,
        TaskMessage continuedAsNewMessage,
        OrchestrationState orchestrationState)
    {
        if (Interlocked.Increment(ref _commits) == failOn)
        {
            throw new IOException($"Simulated storage failure writing episode commit {failOn} of {workItem.InstanceId}.");
        }

        return base.CompleteTaskOrchestrationWorkItemAsync(workItem, newOrchestrationRuntimeState, outboundMessages, orchestratorMessages, timerMessages,
            continuedAsNewMessage, orchestrationState);
    }
}
