using Microsoft.DurableTask;
using Durable.VDiff;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// The durable VDiff: <c>VDiff</c> creates the VDiff's state on every target shard and fans out one
/// <c>VDiff.Shard</c> sub-orchestration per shard; each shard runs as a chain of bounded activities (each at most
/// the input's shard budget (default <see cref="DefaultShardActivityBudget"/>), then ContinueAsNew), so no activity outlives a host restart by much and no
/// history grows without bound. <c>VDiff.Schedule</c> re-runs it on a timer and publishes the last outcome as custom
/// status, which the MoveTables workflow reads to hold SwitchTraffic/Complete until a clean VDiff.
/// </summary>
public static class VDiffOrchestration
{
    public const string Orchestrator = "VDiff";
    public const string ShardOrchestrator = "VDiff_Shard";
    public const string ScheduleOrchestrator = "VDiff_Schedule";
    // Task names follow Azure Functions' function-name rule (letters, digits, '_', '-'); each activity is a class in src/Activities.
    public const string CreateActivity = Activities.VDiff.VDiffCreateActivity.Name;
    public const string RunShardActivity = Activities.VDiff.VDiffRunShardActivity.Name;
    public const string OutcomeActivity = Activities.VDiff.VDiffOutcomeActivity.Name;
    public const string StopActivity = Activities.VDiff.VDiffStopActivity.Name;
    public const string StopEvent = "stop";

    /// <summary>The shard budget of runs whose input names none (started before it was part of the input).</summary>
    public static readonly TimeSpan DefaultShardActivityBudget = TimeSpan.FromMinutes(5);

    private static readonly TaskOptions Retry = ActivityRetry.VDiff;

    /// <summary>Registers the orchestrators and activities; the engine creates each activity per work item in a service scope of its host.</summary>
    public static DurableTaskRegistry Register(DurableTaskRegistry registry)
    {
        registry.AddOrchestratorFunc<VDiffRunInput, VDiffOutcome>(Orchestrator, RunAsync);
        registry.AddOrchestratorFunc<VDiffShardInput, string>(ShardOrchestrator, RunShardAsync);
        registry.AddOrchestratorFunc<VDiffScheduleInput, VDiffOutcome?>(ScheduleOrchestrator, ScheduleAsync);
        ActivityFunctionNames.Register(registry, VDiffOrchestratorFunctions.ActivityClasses);
        return registry;
    }

    /// <summary>
    /// One VDiff of a workflow, callable as a sub-orchestration by the MoveTables workflow:
    /// <c>await ctx.CallSubOrchestratorAsync&lt;VDiffOutcome&gt;(VDiffOrchestration.Orchestrator, new VDiffRunInput(...))</c>.
    /// </summary>
    public static async Task<VDiffOutcome> RunAsync(TaskOrchestrationContext ctx, VDiffRunInput input)
    {
        // The uuid comes from the orchestration (replay-safe), so a re-delivered create finds the rows it made.
        var uuid = input.Uuid ?? ctx.NewGuid().ToString();
        var withUuid = input with { Uuid = uuid };
        var shards = await ctx.CallActivityAsync<string[]>(CreateActivity, withUuid, Retry).ConfigureAwait(true);
        ctx.SetCustomStatus(new { UUID = uuid, Shards = shards, State = VDiffStates.Started });
        await Task.WhenAll(shards.Select(shard => ctx.CallSubOrchestratorAsync<string>(ShardOrchestrator,
            new VDiffShardInput(uuid, input.Workflow, input.Keyspace, shard, (input.ShardBudgetSeconds ?? DefaultShardActivityBudget.TotalSeconds)),
            // Child ids derive from this instance, so a resume of the same uuid (a new parent instance) gets fresh children.
            new TaskOptions().WithInstanceId($"{ctx.InstanceId}:{shard}")))).ConfigureAwait(true);
        var outcome = await ctx.CallActivityAsync<VDiffOutcome>(OutcomeActivity, withUuid, Retry).ConfigureAwait(true);
        ctx.SetCustomStatus(outcome);
        return outcome;
    }

    public static async Task<string> RunShardAsync(TaskOrchestrationContext ctx, VDiffShardInput input)
    {
        var state = await ctx.CallActivityAsync<string>(RunShardActivity, input, Retry).ConfigureAwait(true);
        if (state == VDiffStates.Started)
        {
            // Budget used up mid-shard: continue in a fresh history from the sidecar's checkpoints.
            ctx.ContinueAsNew(new ContinueAsNewOptions { NewInput = input });
        }

        return state;
    }

    /// <summary>Re-runs VDiff every interval until the "stop" event (or MaxRuns); custom status is the last outcome.</summary>
    public static async Task<VDiffOutcome?> ScheduleAsync(TaskOrchestrationContext ctx, VDiffScheduleInput input)
    {
        if (input.IntervalSeconds < 1)
        {
            throw new ArgumentException($"VDiff schedule interval {input.IntervalSeconds}s is invalid: use at least 1 second.");
        }

        var runs = input.RunsSoFar + 1;
        // Each run gets its own child id: after ContinueAsNew the default child ids would repeat and meet the finished run.
        var outcome = await ctx.CallSubOrchestratorAsync<VDiffOutcome>(Orchestrator, new VDiffRunInput(input.Workflow, input.Keyspace, input.Options),
            new TaskOptions().WithInstanceId($"{ctx.InstanceId}:run-{runs}")).ConfigureAwait(true);
        ctx.SetCustomStatus(new { Runs = runs, Last = outcome });
        if (input.MaxRuns > 0 && runs >= input.MaxRuns)
        {
            return outcome;
        }

        try
        {
            await ctx.WaitForExternalEvent<string>(StopEvent, TimeSpan.FromSeconds(input.IntervalSeconds)).ConfigureAwait(true);
            return outcome;
        }
        catch (TaskCanceledException)
        {
            // The interval passed without a stop: run again in a fresh history.
        }

        ctx.ContinueAsNew(new ContinueAsNewOptions { NewInput = input with { RunsSoFar = runs, Last = outcome } });
        return outcome;
    }
}
