using Durable.DurableTask;
using Durable.DurableTask.Worker;
using Durable.VDiff;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// The durable VDiff: <c>VDiff</c> creates the VDiff's state on every target shard and fans out one
/// <c>VDiff.Shard</c> sub-orchestration per shard; each shard runs as a chain of bounded activities (each at most
/// <see cref="ShardActivityBudget"/>, then ContinueAsNew), so no activity outlives a host restart by much and no
/// history grows without bound. <c>VDiff.Schedule</c> re-runs it on a timer and publishes the last outcome as custom
/// status, which the MoveTables workflow reads to hold SwitchTraffic/Complete until a clean VDiff.
/// </summary>
public static class VDiffOrchestration
{
    public const string Orchestrator = "VDiff";
    public const string ShardOrchestrator = "VDiff.Shard";
    public const string ScheduleOrchestrator = "VDiff.Schedule";
    public const string CreateActivity = "VDiff.Create";
    public const string RunShardActivity = "VDiff.RunShard";
    public const string OutcomeActivity = "VDiff.Outcome";
    public const string StopActivity = "VDiff.Stop";
    public const string StopEvent = "stop";

    /// <summary>Longest single activity of a shard's diff; the shard orchestration calls the next one after it.</summary>
    public static TimeSpan ShardActivityBudget { get; set; } = TimeSpan.FromMinutes(5);

    private static readonly TaskOptions Retry = new(new TaskRetryOptions(new RetryPolicy(5, TimeSpan.FromSeconds(2), 2.0)));

    /// <summary>Registers the orchestrators and activities with the worker.</summary>
    public static DurableTaskRegistry Register(DurableTaskRegistry registry, Func<IVDiffOperations> operations)
    {
        registry.AddOrchestratorFunc<VDiffRunInput, VDiffOutcome>(Orchestrator, RunAsync);
        registry.AddOrchestratorFunc<VDiffShardInput, string>(ShardOrchestrator, RunShardAsync);
        registry.AddOrchestratorFunc<VDiffScheduleInput, VDiffOutcome?>(ScheduleOrchestrator, ScheduleAsync);
        registry.AddActivityFunc<VDiffRunInput, string[]>(CreateActivity, async (ctx, input) =>
        {
            var (_, shards) = await operations().CreateAsync(input.Workflow, input.Keyspace, input.Options, input.Uuid, ctx.CancellationToken).ConfigureAwait(false);
            return shards.ToArray();
        });
        registry.AddActivityFunc<VDiffShardInput, string>(RunShardActivity, (ctx, input) =>
            operations().RunShardAsync(input.Uuid, input.Workflow, input.Keyspace, input.Shard, TimeSpan.FromSeconds(input.BudgetSeconds), ctx.CancellationToken));
        registry.AddActivityFunc<VDiffRunInput, int>(StopActivity, (ctx, input) =>
            operations().StopAsync(input.Workflow, input.Keyspace, input.Uuid!, ctx.CancellationToken));
        registry.AddActivityFunc<VDiffRunInput, VDiffOutcome>(OutcomeActivity, async (ctx, input) =>
        {
            var report = await operations().ShowAsync(input.Workflow, input.Keyspace, input.Uuid!, false, ctx.CancellationToken).ConfigureAwait(false)
                ?? throw new VDiffException($"VDiff {input.Uuid} vanished (deleted while running?).");
            return new VDiffOutcome(report.UUID, report.State, report.HasMismatch, report.RowsCompared, report.Errors)
            {
                Workflow = input.Workflow,
                MismatchedRows = report.TableSummary.Values.Sum(t => t.MismatchedRows),
                ExtraRowsSource = report.TableSummary.Values.Sum(t => t.ExtraRowsSource),
                ExtraRowsTarget = report.TableSummary.Values.Sum(t => t.ExtraRowsTarget),
                At = DateTime.UtcNow,
            };
        });
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
            new VDiffShardInput(uuid, input.Workflow, input.Keyspace, shard, ShardActivityBudget.TotalSeconds),
            // Child ids derive from this instance, so a resume of the same uuid (a new parent instance) gets fresh children.
            new TaskOptions().WithInstanceId($"{ctx.InstanceId}:{shard}")))).ConfigureAwait(true);
        var outcome = await ctx.CallActivityAsync<VDiffOutcome>(OutcomeActivity, withUuid, Retry).ConfigureAwait(true);
        ctx.SetCustomStatus(outcome);
        return outcome;
    }

    private static async Task<string> RunShardAsync(TaskOrchestrationContext ctx, VDiffShardInput input)
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
    private static async Task<VDiffOutcome?> ScheduleAsync(TaskOrchestrationContext ctx, VDiffScheduleInput input)
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
