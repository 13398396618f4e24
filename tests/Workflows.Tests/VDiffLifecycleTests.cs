using System.Collections.Concurrent;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Engine;
using Durable.Functions.Orchestrations;
using Durable.Testing;
using Durable.VDiff;

namespace Durable.Workflows.Tests;

/// <summary>
/// VDiff in the MoveTables lifecycle on the in-memory hub: the workflow runs the sub-orchestration "VDiff" (here a fake
/// whose outcomes the test scripts) once the copy is done and on its interval; the VDiff gate refuses SwitchTraffic/Complete
/// at once while the last VDiff is not clean (never running them later by itself), --ignore-vdiff passes audited; after a
/// write switch the reverse workflow is verified.
/// </summary>
public sealed class VDiffLifecycleTests : IAsyncLifetime
{
    private readonly FakeOperations _ops = new();
    private TaskHub? _hub;

    /// <summary>Outcomes the fake VDiff returns, in order; when empty it answers clean.</summary>
    private readonly ConcurrentQueue<Func<VDiffRunInput, VDiffOutcome>> _outcomes = new();
    private readonly ConcurrentQueue<VDiffRunInput> _runs = new();
    private readonly ConcurrentQueue<string> _stops = new();
    private TaskCompletionSource? _hold;

    private DurableHubClient Client => _hub!.Client;

    private static VDiffOutcome Clean(VDiffRunInput i) => new(i.Uuid!, VDiffStates.Completed, false, 100, null) { Workflow = i.Workflow };

    private static VDiffOutcome Dirty(VDiffRunInput i) =>
        new(i.Uuid!, VDiffStates.Completed, true, 100, null) { Workflow = i.Workflow, MismatchedRows = 1, ExtraRowsSource = 1, ExtraRowsTarget = 1 };

    private static MoveTablesCreate Spec() => new()
    {
        Workflow = "commerce2customer", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer", "corder"], RequestedBy = "ci-pipeline",
    };

    private async Task<string> StartAsync(double? intervalSeconds = 3600, bool initialGate = true)
    {
        var registry = new DurableTaskRegistry();
        MoveTablesOrchestration.Register(registry);
        registry.AddOrchestratorFunc<VDiffRunInput, VDiffOutcome>(VDiffOrchestration.Orchestrator, (ctx, input) =>
            ctx.CallActivityAsync<VDiffOutcome>("FakeVDiff.Run", input));
        registry.AddActivityFunc<VDiffRunInput, VDiffOutcome>("FakeVDiff.Run", async (_, input) =>
        {
            _runs.Enqueue(input);
            if (_hold is { } hold)
            {
                await hold.Task;
            }

            if (_stops.Contains(input.Uuid!))
            {
                return new VDiffOutcome(input.Uuid!, VDiffStates.Stopped, false, 40, null) { Workflow = input.Workflow };
            }

            return _outcomes.TryDequeue(out var next) ? next(input) : Clean(input);
        });
        registry.AddActivityFunc<VDiffRunInput, int>(VDiffOrchestration.StopActivity, (_, input) =>
        {
            _stops.Enqueue(input.Uuid!);
            _hold?.TrySetResult();
            return Task.FromResult(1);
        });
        _hub = await TestTaskHub.StartAsync(registry, TestServices.With(_ops));
        var spec = Spec();
        return await Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name,
            new WorkflowState { Spec = spec, VDiff = initialGate ? new VDiffGate { IntervalSeconds = intervalSeconds } : null }, new StartOrchestrationOptions(spec.InstanceId));
    }

    [Fact]
    public void The_default_interval_belongs_to_one_registry_and_is_fixed_once_read()
    {
        var a = new DurableTaskRegistry();
        var b = new DurableTaskRegistry();
        MoveTablesOrchestration.Register(a);
        VDiffLifecycle.For(a).DefaultInterval = TimeSpan.FromMinutes(5);
        Assert.Same(VDiffLifecycle.For(a), VDiffLifecycle.For(a));
        Assert.Null(VDiffLifecycle.For(b).DefaultInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), VDiffLifecycle.For(a).DefaultInterval);
        // Read by a run: a later change could make a replay see another value, so it is refused.
        Assert.Contains("fixed", Assert.Throws<InvalidOperationException>(() => VDiffLifecycle.For(a).DefaultInterval = null).Message);
    }

    [Fact]
    public async Task A_workflow_without_its_own_interval_gets_its_hosts_default_and_no_other_hosts()
    {
        // This host (registry) has no default: another registry's default, set first, must not leak in.
        var other = new DurableTaskRegistry();
        MoveTablesOrchestration.Register(other);
        VDiffLifecycle.For(other).DefaultInterval = TimeSpan.FromMinutes(1);
        var id = await StartAsync(null, initialGate: false);
        var state = await WaitAsync(id, s => s.VDiff is not null, "the gate initialised");
        Assert.False(state.VDiff!.Enabled);
        Assert.Null(state.VDiff.IntervalSeconds);
    }

    private async Task<WorkflowState> WaitAsync(string id, Func<WorkflowState, bool> until, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        WorkflowState? last = null;
        string? failure = null;
        while (DateTime.UtcNow < deadline)
        {
            var m = await Client.GetInstanceAsync(id, getInputsAndOutputs: true);
            last = m?.ReadCustomStatusAs<WorkflowState>();
            failure = m?.FailureDetails?.ErrorMessage;
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(30);
        }

        throw new TimeoutException($"Workflow never reached: {what}. Failure {failure}. Phase {last?.Phase}, copydone {last?.CopyDone}, vdiff {System.Text.Json.JsonSerializer.Serialize(last?.VDiff)}, audit {string.Join(" | ", last?.Audit.Select(a => a.Action + ":" + a.Outcome + ":" + a.Detail) ?? [])}");
    }

    private Task SendAsync(string id, WorkflowCommand command) => Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, command);

    private static Func<WorkflowState, bool> Answered(string requestId, string state) => s => s.Commands.Any(c => c.RequestId == requestId && c.State == state);

    [Fact]
    public async Task Clean_vdiff_after_copy_lets_switch_proceed_then_the_reverse_workflow_is_verified_before_complete()
    {
        var id = await StartAsync();
        var verified = await WaitAsync(id, s => s.VDiff?.Last is { IsClean: true }, "first VDiff clean");
        Assert.Equal(Phases.Running, verified.Phase);
        var first = Assert.Single(_runs);
        Assert.Equal(("commerce2customer", "customer"), (first.Workflow, first.Keyspace));
        Assert.Equal(first.Uuid, verified.VDiff!.Last!.Uuid);
        Assert.Equal(100, verified.VDiff.Last.RowsCompared);
        Assert.Contains(verified.Audit, a => a.Action == "VDiff" && a.Outcome == "clean");

        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        var switched = await WaitAsync(id, Answered("s1", "done"), "switch done");
        Assert.True(switched.Traffic.Primary);

        // After the write switch VDiff runs on the reverse workflow, and Complete waits for it.
        var reverse = await WaitAsync(id, s => s.VDiff?.Last?.Workflow == "commerce2customer_reverse", "reverse VDiff");
        Assert.Equal("commerce", reverse.VDiff!.Last!.Keyspace);
        Assert.True(reverse.VDiff.Last.StartedAt >= reverse.VDiff.ValidSince);
        await SendAsync(id, new WorkflowCommand { Action = "Complete", RequestId = "x1", RequestedBy = "bob" });
        var meta = await Client.WaitForInstanceCompletionAsync(id, true, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        Assert.Equal(Phases.Completed, meta.ReadOutputAs<WorkflowState>()!.Phase);
        Assert.Equal(2, _runs.Count);
    }

    [Fact]
    public async Task A_mismatch_refuses_switch_at_once_naming_the_vdiff_and_it_never_runs_later_by_itself()
    {
        _outcomes.Enqueue(Dirty);
        var id = await StartAsync();
        var dirty = await WaitAsync(id, s => s.VDiff?.Last is { HasMismatch: true }, "dirty VDiff");
        Assert.Equal(1, dirty.VDiff!.Last!.MismatchedRows);
        Assert.Contains(dirty.Audit, a => a.Action == "VDiff" && a.Outcome == "mismatch" && a.Detail.Contains("1 mismatched, 1 extra on the source, 1 extra on the target", StringComparison.Ordinal));

        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        var refused = await WaitAsync(id, Answered("s1", "rejected"), "switch refused");
        var message = refused.Commands.Single(c => c.RequestId == "s1").Message;
        Assert.StartsWith($"SwitchTraffic is held by VDiff: VDiff {dirty.VDiff.Last.Uuid}", message);
        Assert.Contains("--ignore-vdiff", message);
        Assert.False(refused.Traffic.Primary);

        // A clean VDiff later (the schedule made quick) does not run the refused switch: only sending it again does.
        await SendAsync(id, new WorkflowCommand { Action = "VDiffSchedule", RequestId = "i1", RequestedBy = "bob", VDiffInterval = "1s" });
        await WaitAsync(id, s => s.VDiff?.Last is { IsClean: true } && s.VDiff.Runs >= 2, "a clean VDiff");
        await Task.Delay(500);
        Assert.DoesNotContain(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));
        await SendAsync(id, new WorkflowCommand { Action = "VDiffSchedule", RequestId = "i2", RequestedBy = "bob", VDiffInterval = "1h" });
        await WaitAsync(id, Answered("i2", "done"), "schedule back to 1h");
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s2", RequestedBy = "bob" });
        var switched = await WaitAsync(id, s => s.Commands.Any(c => c.RequestId == "s2"), "switch after clean VDiff");
        Assert.True(switched.Traffic.Primary, switched.Commands.Single(c => c.RequestId == "s2").Message);
        Assert.Single(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VDiffOverride_is_retired_and_names_ignore_vdiff()
    {
        var id = await StartAsync();
        await WaitAsync(id, s => s.VDiff?.Last is not null, "first VDiff");
        await SendAsync(id, new WorkflowCommand { Action = "VDiffOverride", RequestId = "o1", RequestedBy = "carol" });
        var refused = await WaitAsync(id, Answered("o1", "rejected"), "override refused");
        Assert.Contains("VDiffOverride is retired", refused.Commands.Single(c => c.RequestId == "o1").Message);
        Assert.Contains("--ignore-vdiff", refused.Commands.Single(c => c.RequestId == "o1").Message);
    }

    [Fact]
    public async Task Ignore_vdiff_on_the_command_proceeds_at_once_and_is_audited_naming_the_vdiff_it_ignored()
    {
        _outcomes.Enqueue(Dirty);
        var id = await StartAsync();
        var dirty = await WaitAsync(id, s => s.VDiff?.Last is { HasMismatch: true }, "dirty VDiff");
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "dave", IgnoreVDiff = true, Reason = "maintenance window" });
        var switched = await WaitAsync(id, Answered("s1", "done"), "switch with ignore_vdiff");
        Assert.True(switched.Traffic.Primary);
        var audit = Assert.Single(switched.Audit, a => a.Action == VDiffLifecycle.IgnoreVDiffAudit);
        Assert.Equal("dave", audit.Who);
        Assert.Contains("--ignore-vdiff", audit.Detail);
        Assert.Contains("maintenance window", audit.Detail);
        Assert.Contains($"VDiff {dirty.VDiff!.Last!.Uuid}", audit.Detail);
    }

    [Fact]
    public async Task Vdiff_re_runs_on_its_interval_and_turned_off_only_differences_hold()
    {
        var id = await StartAsync(intervalSeconds: 1);
        await WaitAsync(id, s => s.VDiff?.Runs >= 3, "three runs on a 1s interval");

        await SendAsync(id, new WorkflowCommand { Action = "VDiffSchedule", RequestId = "bad", RequestedBy = "bob", VDiffInterval = "sometimes" });
        var bad = await WaitAsync(id, Answered("bad", "rejected"), "bad interval refused");
        Assert.Contains("--vdiff-interval 'sometimes' is invalid: off, or a duration such as", bad.Commands.Single(c => c.RequestId == "bad").Message);

        await SendAsync(id, new WorkflowCommand { Action = "VDiffSchedule", RequestId = "off", RequestedBy = "bob", VDiffInterval = "off" });
        var off = await WaitAsync(id, s => Answered("off", "done")(s) && s.VDiff!.Running is null, "off");
        Assert.Null(off.VDiff!.IntervalSeconds);
        Assert.Contains("held only by a VDiff of the current direction that found differences", off.Commands.Single(c => c.RequestId == "off").Message);
        var runs = _runs.Count;
        await Task.Delay(2500);
        Assert.Equal(runs, _runs.Count);

        // Off, and the last VDiff was clean: the switch runs.
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        Assert.True((await WaitAsync(id, Answered("s1", "done"), "switch")).Traffic.Primary);
        Assert.Equal(runs, _runs.Count);
    }

    [Fact]
    public async Task A_switch_stops_a_running_vdiff_first_and_with_a_schedule_on_is_refused_until_one_completes_clean()
    {
        _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var id = await StartAsync();
        var running = await WaitAsync(id, s => s.VDiff?.Running is not null, "VDiff running");

        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        var refused = await WaitAsync(id, Answered("s1", "rejected"), "refused while no VDiff has completed");
        Assert.Equal(running.VDiff!.Running, Assert.Single(_stops));
        Assert.Contains(refused.Audit, a => a.Action == "VDiff" && a.Outcome == VDiffStates.Stopped);
        Assert.Contains("a VDiff schedule is on and no VDiff of customer.commerce2customer has completed", refused.Commands.Single(c => c.RequestId == "s1").Message);
        Assert.DoesNotContain(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls a test class's DisposeAsync of the latter, and the
    // hub's worker would run on (and its storage stay) after the test.
    public async Task DisposeAsync()
    {
        _hold?.TrySetResult();
        if (_hub is not null)
        {
            await _hub.DisposeAndDeleteAsync();
        }
    }
}
