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
/// whose outcomes the test scripts) once the copy is done and on its interval; a mismatch holds SwitchTraffic/Complete
/// until a clean VDiff or an audited override; after a write switch the reverse workflow is verified.
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

        throw new TimeoutException($"Workflow never reached: {what}. Failure {failure}. Phase {last?.Phase}, copydone {last?.CopyDone}, vdiff {System.Text.Json.JsonSerializer.Serialize(last?.VDiff)}, held {last?.HeldByVDiff}, audit {string.Join(" | ", last?.Audit.Select(a => a.Action + ":" + a.Outcome + ":" + a.Detail) ?? [])}");
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
    public async Task A_mismatch_holds_switch_until_a_clean_vdiff_and_sending_it_again_re_verifies()
    {
        _outcomes.Enqueue(Dirty);
        var id = await StartAsync();
        var dirty = await WaitAsync(id, s => s.VDiff?.Last is { HasMismatch: true }, "dirty VDiff");
        Assert.Equal(1, dirty.VDiff!.Last!.MismatchedRows);
        Assert.Contains(dirty.Audit, a => a.Action == "VDiff" && a.Outcome == "mismatch" && a.Detail.Contains("1 mismatched, 1 extra on the source, 1 extra on the target", StringComparison.Ordinal));

        _outcomes.Enqueue(Dirty); // the VDiff triggered by the command is still dirty
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        var held = await WaitAsync(id, s => s.HeldByVDiff is not null && s.VDiff!.Runs == 2 && s.VDiff.Running is null, "held, re-verified, still dirty");
        Assert.StartsWith("SwitchTraffic held by VDiff:", held.HeldByVDiff);
        Assert.False(held.Traffic.Primary);
        Assert.DoesNotContain(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));

        // "Repaired": the next VDiff is clean, and the held switch goes ahead by itself.
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s2", RequestedBy = "bob" });
        var switched = await WaitAsync(id, Answered("s2", "done"), "switch after clean VDiff");
        Assert.True(switched.Traffic.Primary);
        Assert.Null(switched.HeldByVDiff);
        Assert.Contains(switched.Audit, a => a.Action == "SwitchTraffic" && a.Outcome == "released by VDiff");
        Assert.Single(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_operator_override_releases_a_held_switch_and_is_audited_with_who_and_why()
    {
        _outcomes.Enqueue(Dirty);
        _outcomes.Enqueue(Dirty);
        var id = await StartAsync();
        await WaitAsync(id, s => s.VDiff?.Last is { HasMismatch: true }, "dirty VDiff");
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        await WaitAsync(id, s => s.HeldByVDiff is not null && s.VDiff!.Running is null && s.VDiff.Runs == 2, "held");

        await SendAsync(id, new WorkflowCommand { Action = "VDiffOverride", RequestId = "o1", RequestedBy = "carol", Reason = "extra rows are test data" });
        var switched = await WaitAsync(id, Answered("s1", "done"), "switch after override");
        Assert.True(switched.Traffic.Primary);
        var audit = Assert.Single(switched.Audit, a => a.Action == "VDiffOverride");
        Assert.Equal("carol", audit.Who);
        Assert.Contains("extra rows are test data", audit.Detail);
        Assert.Contains("SwitchTraffic", audit.Detail);

        // Nothing is held any more: another override is refused.
        await SendAsync(id, new WorkflowCommand { Action = "VDiffOverride", RequestId = "o2", RequestedBy = "carol" });
        var refused = await WaitAsync(id, Answered("o2", "rejected"), "override refused");
        Assert.Contains("Nothing of customer.commerce2customer is held by VDiff", refused.Commands.Single(c => c.RequestId == "o2").Message);
    }

    [Fact]
    public async Task Ignore_vdiff_on_the_command_proceeds_at_once_and_is_audited()
    {
        _outcomes.Enqueue(Dirty);
        var id = await StartAsync();
        await WaitAsync(id, s => s.VDiff?.Last is { HasMismatch: true }, "dirty VDiff");
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "dave", IgnoreVDiff = true, Reason = "maintenance window" });
        var switched = await WaitAsync(id, Answered("s1", "done"), "switch with ignore_vdiff");
        Assert.True(switched.Traffic.Primary);
        Assert.Contains(switched.Audit, a => a.Action == "VDiffOverride" && a.Who == "dave" && a.Detail.Contains("ignore_vdiff", StringComparison.Ordinal) && a.Detail.Contains("maintenance window", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Vdiff_re_runs_on_its_interval_and_can_be_turned_off()
    {
        var id = await StartAsync(intervalSeconds: 1);
        await WaitAsync(id, s => s.VDiff?.Runs >= 3, "three runs on a 1s interval");

        await SendAsync(id, new WorkflowCommand { Action = "VDiffSchedule", RequestId = "bad", RequestedBy = "bob", VDiffInterval = "sometimes" });
        var bad = await WaitAsync(id, Answered("bad", "rejected"), "bad interval refused");
        Assert.Contains("--vdiff-interval 'sometimes' is invalid: off, or a duration such as", bad.Commands.Single(c => c.RequestId == "bad").Message);

        await SendAsync(id, new WorkflowCommand { Action = "VDiffSchedule", RequestId = "off", RequestedBy = "bob", VDiffInterval = "off" });
        var off = await WaitAsync(id, s => Answered("off", "done")(s) && s.VDiff!.Running is null, "off");
        Assert.Null(off.VDiff!.IntervalSeconds);
        var runs = _runs.Count;
        await Task.Delay(2500);
        Assert.Equal(runs, _runs.Count);

        // Off: switch does not wait for VDiff.
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        Assert.True((await WaitAsync(id, Answered("s1", "done"), "switch")).Traffic.Primary);
        Assert.Equal(runs, _runs.Count);
    }

    [Fact]
    public async Task A_command_that_changes_streams_stops_a_running_vdiff_first_and_switch_is_held_while_one_runs()
    {
        _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var id = await StartAsync();
        var running = await WaitAsync(id, s => s.VDiff?.Running is not null, "VDiff running");

        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        var held = await WaitAsync(id, s => s.HeldByVDiff is not null, "held while running");
        Assert.DoesNotContain(held.Commands, c => c.RequestId == "s1");
        Assert.Contains(held.Audit, a => a.Action == "SwitchTraffic" && a.Outcome == "held by VDiff" && a.Who == "bob");
        Assert.Contains("is running", held.HeldByVDiff);

        await SendAsync(id, new WorkflowCommand { Action = "Stop", RequestId = "p1", RequestedBy = "bob" });
        var stopped = await WaitAsync(id, Answered("p1", "done"), "stopped");
        Assert.Equal(Phases.Stopped, stopped.Phase);
        Assert.Equal(running.VDiff!.Running, Assert.Single(_stops));
        // A stopped VDiff proves nothing: the switch stays held, and no VDiff starts while the workflow is stopped.
        Assert.Contains(stopped.Audit, a => a.Action == "VDiff" && a.Outcome == VDiffStates.Stopped);
        Assert.StartsWith("SwitchTraffic held by VDiff", stopped.HeldByVDiff);
        Assert.DoesNotContain(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));
        await Task.Delay(500);
        Assert.Single(_runs);
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
