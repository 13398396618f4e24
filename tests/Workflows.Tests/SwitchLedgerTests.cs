using System.Collections.Concurrent;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using DurableTask.Core;
using DurableTask.Core.History;
using Durable.Functions.Engine;
using Durable.Functions.Orchestrations;
using Durable.Testing;

namespace Durable.Workflows.Tests;

/// <summary>
/// The worker's view of the task hub with one addition for these tests: it keeps the activity messages the
/// orchestration sends, and can send one of them again with a later episode's messages, as a queue that delivers a
/// message twice (the first delivery's lock expired, a host died after the work was done) would, long after the
/// original was answered.
/// </summary>
internal sealed class RedeliveringHub(IOrchestrationService inner) : DelegatingOrchestrationService(inner)
{
    private readonly ConcurrentQueue<TaskMessage> _sent = new();
    private TaskMessage? _again;

    public IReadOnlyList<TaskMessage> Sent(string activity) => [.. _sent.Where(m => m.Event is TaskScheduledEvent t && t.Name == activity)];

    /// <summary>Sends <paramref name="message"/> again together with the next episode's messages.</summary>
    public void SendAgain(TaskMessage message) => Volatile.Write(ref _again, message);

    public bool AgainPending => Volatile.Read(ref _again) is not null;

    public override Task CompleteTaskOrchestrationWorkItemAsync(
        TaskOrchestrationWorkItem workItem,
        OrchestrationRuntimeState newOrchestrationRuntimeState,
        IList<TaskMessage> outboundMessages,
        IList<TaskMessage> orchestratorMessages,
        IList<TaskMessage> timerMessages,
        TaskMessage continuedAsNewMessage,
        OrchestrationState orchestrationState)
    {
        foreach (var m in outboundMessages)
        {
            _sent.Enqueue(m);
        }

        if (Interlocked.Exchange(ref _again, null) is { } again)
        {
            outboundMessages = [.. outboundMessages, again];
        }

        return base.CompleteTaskOrchestrationWorkItemAsync(workItem, newOrchestrationRuntimeState, outboundMessages, orchestratorMessages, timerMessages,
            continuedAsNewMessage, orchestrationState);
    }
}

public sealed class SwitchLedgerTests : IAsyncLifetime
{
    private readonly FakeOperations _ops = new();
    private TaskHub? _hub;

    private DurableHubClient Client => _hub!.Client;

    private async Task<WorkflowState> WaitAsync(string id, Func<WorkflowState, bool> until, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await Client.GetInstanceAsync(id, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(30);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, traffic {last?.TrafficStateText}");
    }

    /// <summary>An activity's input as the framework stores it: Microsoft.DurableTask's JSON, inside a one-element array.</summary>
    private static T ActivityInput<T>(string input)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(input);
        var value = node is System.Text.Json.Nodes.JsonArray { Count: 1 } array ? array[0] : node;
        return System.Text.Json.JsonSerializer.Deserialize<T>(value, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
    }

    private static Func<WorkflowState, bool> Answered(string requestId) => s => s.Commands.Any(c => c.RequestId == requestId);

    [Fact]
    public async Task An_old_switch_delivered_again_after_a_reverse_answers_its_old_result_and_switches_nothing()
    {
        RedeliveringHub? hub = null;
        var registry = new DurableTaskRegistry();
        MoveTablesOrchestration.Register(registry);
        _hub = await TestTaskHub.StartAsync(registry, TestServices.With(_ops), decorate: inner => hub = new RedeliveringHub(inner));
        var spec = new MoveTablesCreate { Workflow = "commerce2customer", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer"], RequestedBy = "ci" };
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));
        await WaitAsync(id, s => s.Phase == Phases.Running, "running");

        await Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        await WaitAsync(id, Answered("s1"), "switch");
        await Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "ReverseTraffic", RequestId = "r1", RequestedBy = "bob" });
        var reversed = await WaitAsync(id, Answered("r1"), "reverse");
        Assert.Equal("Reads Not Switched. Writes Not Switched", reversed.TrafficStateText);

        // The first switch's message again: its request assumed "nothing switched", which is true again now, so only
        // the record of its finished intent tells it apart from a new switch.
        var first = hub!.Sent(MoveTablesOrchestration.SwitchActivity)[0];
        var firstRequest = ActivityInput<SwitchRequest>(((TaskScheduledEvent)first.Event).Input!);
        Assert.False(firstRequest.Reverse);
        hub.SendAgain(first);
        var answersBefore = _ops.SwitchAnswers.Count;
        // Any command makes an episode that carries the old message out (this one is refused: nothing to reverse).
        await Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "ReverseTraffic", RequestId = "r2", RequestedBy = "bob" });
        await WaitAsync(id, Answered("r2"), "refused reverse");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (_ops.SwitchAnswers.Count == answersBefore && DateTime.UtcNow < deadline)
        {
            await Task.Delay(30);
        }

        var repeated = _ops.SwitchAnswers.Last();
        Assert.True(repeated.Repeated, repeated.Message);
        Assert.Contains($"switch request {firstRequest.IntentId} had already finished", repeated.Message);
        Assert.Contains("this repeated delivery changed nothing", repeated.Message);
        Assert.True(repeated.Traffic.Primary); // what it answered then: all switched
        // The switch itself ran once per command: the repeated delivery did not switch again.
        Assert.Equal(["Switch:RDONLY,REPLICA,PRIMARY", "Reverse:RDONLY,REPLICA,PRIMARY"], _ops.Calls.Where(c => c.StartsWith("Switch", StringComparison.Ordinal) || c.StartsWith("Reverse", StringComparison.Ordinal)).ToArray());

        // The late answer does not change the workflow either: still not switched, running, and a new switch works.
        await Task.Delay(300);
        var after = await WaitAsync(id, s => s.Phase == Phases.Running, "still running");
        Assert.Equal("Reads Not Switched. Writes Not Switched", after.TrafficStateText);
        Assert.DoesNotContain(after.Audit, a => a.Action == "SwitchTraffic" && a.Detail.Contains("repeated", StringComparison.Ordinal));
        await Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s2", RequestedBy = "bob" });
        var again = await WaitAsync(id, Answered("s2"), "switch again");
        Assert.Equal("done", again.Commands.Single(c => c.RequestId == "s2").State);
        Assert.Equal("All Reads Switched. Writes Switched", again.TrafficStateText);
    }

    [Fact]
    public async Task A_switch_that_failed_is_finished_too_and_a_repeated_delivery_does_not_run_it()
    {
        var outcomes = new InMemorySwitchOutcomes();
        var spec = new MoveTablesCreate { Workflow = "w", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["t"] };
        var request = new SwitchRequest(new WorkflowState { Spec = spec }, new SwitchOptions(), false, "abc123");
        var runs = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => SwitchLedger.RunOnceAsync(outcomes, request, () =>
        {
            runs++;
            throw new InvalidOperationException("etcd unreachable");
        }, default));

        var again = await SwitchLedger.RunOnceAsync(outcomes, request, () =>
        {
            runs++;
            return Task.FromResult(new SwitchResult(true, "switched", new TrafficState { Primary = true }, [], []));
        }, default);
        Assert.Equal(1, runs);
        Assert.False(again.Ok);
        Assert.True(again.Repeated);
        Assert.Contains("failed: etcd unreachable", again.Message);

        // A cancelled attempt (the host shutting down) is not finished: its redelivery must act.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var other = request with { IntentId = "def456" };
        await Assert.ThrowsAsync<OperationCanceledException>(() => SwitchLedger.RunOnceAsync(outcomes, other, () => throw new OperationCanceledException(cancelled.Token), cancelled.Token));
        var redelivered = await SwitchLedger.RunOnceAsync(outcomes, other, () => Task.FromResult(new SwitchResult(true, "switched", new TrafficState { Primary = true }, [], [])), default);
        Assert.True(redelivered.Ok);
        Assert.False(redelivered.Repeated);
    }

    /// <summary>An outcome store whose writes fail (etcd unreachable).</summary>
    private sealed class BrokenOutcomes : ISwitchOutcomes
    {
        public int Writes;

        public Task<FinishedSwitch?> GetAsync(string keyspace, string workflow, string intentId, CancellationToken ct) => Task.FromResult<FinishedSwitch?>(null);

        public Task RecordAsync(string keyspace, string workflow, FinishedSwitch outcome, CancellationToken ct)
        {
            Interlocked.Increment(ref Writes);
            throw new IOException("etcd unreachable");
        }
    }

    [Fact]
    public async Task A_switch_that_happened_is_answered_even_when_its_record_cannot_be_written()
    {
        var outcomes = new BrokenOutcomes();
        var spec = new MoveTablesCreate { Workflow = "w", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["t"] };
        var request = new SwitchRequest(new WorkflowState { Spec = spec }, new SwitchOptions(), false, "abc123");
        var result = await SwitchLedger.RunOnceAsync(outcomes, request, () => Task.FromResult(new SwitchResult(true, "writes switched", new TrafficState { Primary = true }, [], [])), default);
        Assert.True(result.Ok);
        Assert.True(result.Traffic.Primary);
        Assert.Contains("its finished intent could not be recorded: etcd unreachable", result.Message);
        Assert.Equal(2, outcomes.Writes);
    }

    [Fact]
    public void Switch_timings_name_each_step_and_the_write_refused_window()
    {
        var t = new SwitchTimings();
        t.Mark("lag checked");
        t.Mark("guards armed");
        Assert.DoesNotContain("writes refused", t.ToString());
        t.WindowMs = 187.4;
        var text = t.ToString();
        Assert.Matches(@"^lag checked \d+ ms, guards armed \d+ ms; writes refused for 187 ms \(source primary's clock\)$", text);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls a test class's DisposeAsync of the latter, and the
    // hub's worker would run on (and its storage stay) after the test.
    public async Task DisposeAsync()
    {
        if (_hub is not null)
        {
            await _hub.DisposeAndDeleteAsync();
        }
    }
}
