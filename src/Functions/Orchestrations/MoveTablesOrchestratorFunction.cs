using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// The MoveTables (and Migrate) workflow as an orchestrator function. The host's VDiff default comes through the
/// constructor: it is configuration read once, before any orchestration runs, so replays always see the same value.
/// </summary>
public sealed class MoveTablesOrchestratorFunction(VDiffLifecycle.HostSettings vdiff)
{
    [Function(MoveTablesOrchestration.Name)]
    public Task<WorkflowState> Run([OrchestrationTrigger] TaskOrchestrationContext context, WorkflowState state) =>
        MoveTablesOrchestration.RunAsync(context, state, vdiff);
}
