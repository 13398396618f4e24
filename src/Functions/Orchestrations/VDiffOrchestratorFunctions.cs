using Durable.VDiff;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace Durable.Functions.Orchestrations;

/// <summary>The VDiff orchestrations (<see cref="VDiffOrchestration"/>) as orchestrator functions.</summary>
public static class VDiffOrchestratorFunctions
{
    /// <summary>The activity classes the VDiff orchestrations call, each a function of the app.</summary>
    public static readonly IReadOnlyList<Type> ActivityClasses =
    [
        typeof(Activities.VDiff.VDiffCreateActivity), typeof(Activities.VDiff.VDiffRunShardActivity),
        typeof(Activities.VDiff.VDiffStopActivity), typeof(Activities.VDiff.VDiffOutcomeActivity),
    ];

    [Function(VDiffOrchestration.Orchestrator)]
    public static Task<VDiffOutcome> Run([OrchestrationTrigger] TaskOrchestrationContext context, VDiffRunInput input) =>
        VDiffOrchestration.RunAsync(context, input);

    [Function(VDiffOrchestration.ShardOrchestrator)]
    public static Task<string> RunShard([OrchestrationTrigger] TaskOrchestrationContext context, VDiffShardInput input) =>
        VDiffOrchestration.RunShardAsync(context, input);

    [Function(VDiffOrchestration.ScheduleOrchestrator)]
    public static Task<VDiffOutcome?> Schedule([OrchestrationTrigger] TaskOrchestrationContext context, VDiffScheduleInput input) =>
        VDiffOrchestration.ScheduleAsync(context, input);
}
