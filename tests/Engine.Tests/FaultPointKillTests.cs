using Durable.Engine.TestHost;
using Durable.Functions.Engine;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Xunit.Abstractions;

namespace Durable.Engine.Tests;

/// <summary>
/// Crash recovery at every fault point of the engine's decorator (<see cref="FaultPointOrchestrationService.Points"/>):
/// a host process runs a four-step chain and SIGKILLs itself when the point is hit in the middle of the chain; a
/// restarted host finishes it. The chain's output is right, each step's effect happened exactly once, steps run at
/// least once (the step in flight at the kill may run again; a step whose completion the history held never does),
/// and the history schedules each step once. The points are split over three classes by step (lock, complete,
/// abandon) so xunit runs them side by side: each case mostly waits for a visibility timeout.
/// </summary>
public abstract class FaultPointKillTests(ITestOutputHelper output)
{
    private const int Steps = 4;
    private const string InstanceId = "chain";

    public static TheoryData<string> PointsOf(string step)
    {
        var data = new TheoryData<string>();
        foreach (var point in FaultPointOrchestrationService.Points.Where(p => p.EndsWith("-" + step, StringComparison.Ordinal)))
        {
            data.Add(point);
        }

        return data;
    }

    protected async Task Killed_at_the_point_a_restarted_host_completes_the_chain_with_each_effect_once(string point)
    {
        await using var hub = await ChildHub.CreateAsync(output);
        await hub.Client.ScheduleNewOrchestrationInstanceAsync(HostContract.Chain, Steps, new StartOrchestrationOptions(InstanceId));
        var plan = Plan(point);

        // The same replica restarted (one worker id, as Azure keeps an instance's WEBSITE_INSTANCE_ID): the new process
        // renews the dead one's partition lease at once, so only what the dead host had dequeued waits for its 10 s visibility.
        var worker = "replica-" + hub.Name;
        var faulty = new Dictionary<string, string>(plan.Environment) { ["DURABLE_FAULT_POINTS"] = plan.Fault, [HostContract.WorkerId] = worker };
        await using (var doomed = await hub.StartHostAsync(faulty))
        {
            if (plan.StopWhileStepRuns is { } step)
            {
                await hub.Ledger.WaitForRunAsync(InstanceId, step, 1, TimeSpan.FromSeconds(60));
                hub.Log($"step {step} runs: stopping host {doomed.Id} gracefully");
                doomed.RequestStop();
            }

            Assert.True(await doomed.WaitForExitAsync(TimeSpan.FromSeconds(90)), $"the host never reached {plan.Fault}:\n{doomed.Stderr}");
            Assert.True(doomed.ExitCode == EngineHost.KilledExitCode,
                $"the host ended with {doomed.ExitCode}, not SIGKILL ({EngineHost.KilledExitCode}), so {point} was never reached:\n{doomed.Stderr}");
            Assert.Contains($"fault point '{point}' reached", doomed.Stderr);
        }

        var atKill = await hub.Client.GetInstanceAsync(InstanceId);
        Assert.NotNull(atKill);
        Assert.False(atKill.IsCompleted, $"the chain had already finished ({atKill.RuntimeStatus}) when {point} fired: the kill was not mid-run");
        var completedAtKill = await hub.CompletedTasksAsync(InstanceId);
        var runsAtKill = hub.Ledger.Runs().Count;
        hub.Log($"killed at {point}: steps completed in the history {string.Join(",", completedAtKill.Order())}, {runsAtKill} run(s), " +
                $"effects {string.Join(" | ", hub.Ledger.Effects())}");

        await using (var healthy = await hub.StartHostAsync(new Dictionary<string, string> { [HostContract.WorkerId] = worker }))
        {
            var done = await hub.WaitForCompletionAsync(InstanceId, TimeSpan.FromSeconds(90));
            Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
            Assert.Equal(HostContract.ChainOutput(Steps), done.ReadOutputAs<string>());
            hub.Log("completed after the restart");
            Assert.Equal(0, await healthy.StopAsync(TimeSpan.FromSeconds(60)));
        }

        // Each step's effect exactly once, in the chain's order.
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => HostContract.EffectLine(InstanceId, s)), hub.Ledger.Effects());

        // At least once: every step ran; only a step in flight at the kill ran again.
        var runs = hub.Ledger.Runs();
        hub.Log("runs: " + string.Join(" | ", runs));
        for (var step = 0; step < Steps; step++)
        {
            var count = runs.Count(r => r == HostContract.RunLine(InstanceId, step));
            Assert.InRange(count, 1, 2);
        }

        var rerunAfterKill = runs.Skip(runsAtKill).Where(r => completedAtKill.Any(s => r == HostContract.RunLine(InstanceId, s))).ToList();
        Assert.True(rerunAfterKill.Count == 0, $"steps whose completion the history held at the kill ran again: {string.Join(", ", rerunAfterKill)}");

        // The history scheduled each step once and recorded each completion (the chain's n-th action is step n).
        var history = await hub.Client.GetHistoryAsync(InstanceId);
        var scheduled = ChildHub.Events(history, "TaskScheduled").ToList();
        Assert.Equal(Steps, scheduled.Count);
        Assert.All(scheduled, e => Assert.Equal(HostContract.Step, e["Name"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(0, Steps), (await hub.CompletedTasksAsync(InstanceId)).Order());
    }

    /// <summary>
    /// How each point is made to fire in the middle of the chain. Lock and complete points fire on their third hit
    /// (the third episode or step of four: the first two are behind, the rest ahead). Abandon points are only reached
    /// when a work item is abandoned: an activity's when the host stops gracefully while a slow step runs (the engine
    /// turns the stopping token into an aborted session); an orchestration's when an episode throws out of the
    /// dispatcher, here because the host fails its third episode commit as a storage write can fail.
    /// </summary>
    private static (string Fault, IReadOnlyDictionary<string, string> Environment, int? StopWhileStepRuns) Plan(string point) => point switch
    {
        _ when point.StartsWith(FaultPointOrchestrationService.Activity, StringComparison.Ordinal) && point.EndsWith("-abandon", StringComparison.Ordinal) =>
            (point + "@1", new Dictionary<string, string> { [HostContract.SlowStep] = "2" }, 2),
        _ when point.EndsWith("-abandon", StringComparison.Ordinal) =>
            (point + "@1", new Dictionary<string, string> { [HostContract.FailEpisode] = "3" }, null),
        _ => (point + "@3", new Dictionary<string, string>(), null),
    };
}

public sealed class LockFaultPointKillTests(ITestOutputHelper output) : FaultPointKillTests(output)
{
    [Theory]
    [MemberData(nameof(PointsOf), "lock")]
    public Task Killed_at_a_lock_point_a_restarted_host_completes_the_chain_with_each_effect_once(string point) =>
        Killed_at_the_point_a_restarted_host_completes_the_chain_with_each_effect_once(point);
}

public sealed class CompleteFaultPointKillTests(ITestOutputHelper output) : FaultPointKillTests(output)
{
    [Theory]
    [MemberData(nameof(PointsOf), "complete")]
    public Task Killed_at_a_complete_point_a_restarted_host_completes_the_chain_with_each_effect_once(string point) =>
        Killed_at_the_point_a_restarted_host_completes_the_chain_with_each_effect_once(point);
}

public sealed class AbandonFaultPointKillTests(ITestOutputHelper output) : FaultPointKillTests(output)
{
    [Theory]
    [MemberData(nameof(PointsOf), "abandon")]
    public Task Killed_at_an_abandon_point_a_restarted_host_completes_the_chain_with_each_effect_once(string point) =>
        Killed_at_the_point_a_restarted_host_completes_the_chain_with_each_effect_once(point);

    /// <summary>The three classes together walk every point the decorator has, so a new point cannot go untested.</summary>
    [Fact]
    public void The_kill_tests_cover_every_fault_point()
    {
        var covered = new[] { "lock", "complete", "abandon" }.SelectMany(s => ((IEnumerable<object[]>)PointsOf(s)).Select(row => (string)row[0])).ToList();
        Assert.Equal(FaultPointOrchestrationService.Points.Order(), covered.Order());
        Assert.Equal(12, covered.Count);
    }
}
