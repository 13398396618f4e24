using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Engine;
using Durable.Functions.Orchestrations;
using Durable.Testing;

namespace Durable.Workflows.Tests;

/// <summary>
/// Issue 18, point 5: an approval authorises one action of one workflow in one traffic generation, once. The
/// MoveTables orchestration on a private task hub, with the cluster side in memory (<see cref="FakeOperations"/>) and
/// the real <see cref="ApprovalVerifier"/>.
/// </summary>
public sealed class ApprovalGenerationTests : IAsyncLifetime
{
    private static readonly byte[] AliceKey = Enumerable.Range(40, 32).Select(i => (byte)i).ToArray();
    private readonly FakeOperations _ops = new();
    private TaskHub? _hub;
    private string _id = "";

    private DurableHubClient Client => _hub!.Client;

    public async Task InitializeAsync()
    {
        _ops.Verifier = new ApprovalVerifier(new ConfiguredApproverKeys(new Dictionary<string, byte[]> { ["alice"] = AliceKey }), new InMemoryNonceStore());
        var registry = new DurableTaskRegistry();
        MoveTablesOrchestration.Register(registry);
        _hub = await TestTaskHub.StartAsync(registry, TestServices.With(_ops));
        var spec = new MoveTablesCreate
        {
            Workflow = "commerce2customer", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer", "corder"],
            Approvals = new ApprovalPolicy { Required = true, Approvers = ["alice"] }, RequestedBy = "ci-pipeline",
        };
        _id = await Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));
        await WaitAsync(s => s.Phase == Phases.Running, "running after the copy");
    }

    // IAsyncLifetime: xunit 2 calls this one, and the hub's storage goes with the test.
    public async Task DisposeAsync()
    {
        if (_hub is not null)
        {
            await _hub.DisposeAndDeleteAsync();
        }
    }

    private async Task<WorkflowState> WaitAsync(Func<WorkflowState, bool> until, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await Client.GetInstanceAsync(_id, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(30);
        }

        throw new TimeoutException($"Workflow never reached: {what}. Phase {last?.Phase}, commands {string.Join(" | ", last?.Commands.Select(c => $"{c.RequestId} {c.Action}:{c.State}:{c.Message}") ?? [])}");
    }

    /// <summary>Sends a command and returns the state once the workflow has answered it (any answer).</summary>
    private async Task<(WorkflowState State, CommandResult Result)> SendAsync(WorkflowCommand command, Func<CommandResult, bool>? final = null)
    {
        await Client.RaiseEventAsync(_id, MoveTablesOrchestration.CommandEvent, command);
        var state = await WaitAsync(s => s.Phase != Phases.Switching && s.Commands.Any(c => c.RequestId == command.RequestId && (final ?? (_ => true))(c)), $"the answer to {command.RequestId}");
        return (state, state.Commands.Last(c => c.RequestId == command.RequestId));
    }

    private static SignedApproval Approval(string action, long generation, string nonce) =>
        SignedApproval.Sign(AliceKey, "movetables:customer.commerce2customer", action, generation, "alice", nonce, DateTimeOffset.UtcNow.AddMinutes(10));

    private Task<(WorkflowState State, CommandResult Result)> ApproveAsync(string requestId, SignedApproval approval) =>
        SendAsync(new WorkflowCommand { Action = "Approve", RequestId = requestId, RequestedBy = "chatops", Approval = approval });

    private static WorkflowCommand Switch(string requestId, string? types = null, bool reverse = false) => new()
    {
        Action = reverse ? "ReverseTraffic" : "SwitchTraffic", RequestId = requestId, RequestedBy = "bob",
        Switch = types is null ? null : new SwitchOptions { TabletTypes = types.Split(',') },
    };

    /// <summary>Waits until the command has run (or was refused), past its "waiting for approval".</summary>
    private async Task<(WorkflowState State, CommandResult Result)> DoneAsync(string requestId)
    {
        var state = await WaitAsync(s => s.Commands.Any(c => c.RequestId == requestId && c.State is "done" or "failed" or "rejected"), $"{requestId} finished");
        return (state, state.Commands.Last(c => c.RequestId == requestId));
    }

    [Fact]
    public async Task An_approval_for_Complete_while_SwitchTraffic_is_pending_is_refused_and_after_switch_reverse_switch_it_cannot_run_Complete()
    {
        var (pending, _) = await SendAsync(Switch("s1"));
        Assert.Equal("SwitchTraffic", pending.Pending!.Action);

        // The bug: this approval was accepted, kept, and later ran Complete at once.
        var completeAhead = Approval("Complete", 0, "c-ahead");
        var (afterAhead, refused) = await ApproveAsync("a-complete", completeAhead);
        Assert.Equal("rejected", refused.State);
        Assert.Contains("Complete is not the pending action: SwitchTraffic is pending in traffic generation 0", refused.Message);
        Assert.Equal("SwitchTraffic", afterAhead.Pending!.Action);

        await ApproveAsync("a-s1", Approval("SwitchTraffic", 0, "s1-ok"));
        var (switched, s1) = await DoneAsync("s1");
        Assert.Equal("done", s1.State);
        Assert.Equal(1, switched.TrafficGeneration);

        var (reversed, r1) = await SendAsync(Switch("r1", reverse: true), c => c.State != "waiting for approval");
        Assert.Equal("done", r1.State);
        Assert.Equal(2, reversed.TrafficGeneration);

        await SendAsync(Switch("s2"));
        await ApproveAsync("a-s2", Approval("SwitchTraffic", 2, "s2-ok"));
        var (again, s2) = await DoneAsync("s2");
        Assert.Equal("done", s2.State);
        Assert.Equal(3, again.TrafficGeneration);
        Assert.True(again.Traffic.AllSwitched);

        // Complete waits for an approval of its own, in this generation: it does not run at once.
        var (waiting, x1) = await SendAsync(new WorkflowCommand { Action = "Complete", RequestId = "x1", RequestedBy = "bob" });
        Assert.Equal("waiting for approval", x1.State);
        Assert.Equal("Complete", waiting.Pending!.Action);
        Assert.Equal(3, waiting.Pending.Generation);

        // The old approval, now that Complete is pending, is still refused: it names generation 0.
        var (_, old) = await ApproveAsync("a-old", completeAhead);
        Assert.Equal("rejected", old.State);
        Assert.Contains("traffic generation 0, but the workflow is in traffic generation 3", old.Message);
        Assert.DoesNotContain("Complete", _ops.Calls);

        await ApproveAsync("a-x1", Approval("Complete", 3, "x1-ok"));
        var meta = await Client.WaitForInstanceCompletionAsync(_id, true, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        var final = meta.ReadOutputAs<WorkflowState>()!;
        Assert.Equal(Phases.Completed, final.Phase);
        Assert.Single(_ops.Calls, c => c == "Complete");

        // Every decision is in the audit trail.
        Assert.Contains(final.Audit, a => a is { Action: "Approve", Outcome: "rejected" } && a.Detail.Contains("approval of Complete for traffic generation 0 refused: Complete is not the pending action", StringComparison.Ordinal));
        Assert.Contains(final.Audit, a => a is { Action: "Approve", Outcome: "rejected" } && a.Detail.Contains("is in traffic generation 3", StringComparison.Ordinal));
        Assert.Equal(3, final.Audit.Count(a => a is { Who: "alice", Action: "Approve", Outcome: "accepted" }));
        Assert.Equal(["SwitchTraffic", "SwitchTraffic", "Complete"], final.Audit.Where(a => a.Outcome == "consumed").Select(a => a.Action));
    }

    [Fact]
    public async Task An_approval_for_an_older_generation_is_refused_naming_the_current_one()
    {
        await SendAsync(Switch("reads", "REPLICA,RDONLY"));
        await ApproveAsync("a-reads", Approval("SwitchTraffic", 0, "reads-0"));
        var (readsSwitched, reads) = await DoneAsync("reads");
        Assert.Equal("done", reads.State);
        Assert.Equal(1, readsSwitched.TrafficGeneration);

        var (pending, _) = await SendAsync(Switch("writes", "PRIMARY"));
        Assert.Equal(1, pending.Pending!.Generation);
        var (stillPending, stale) = await ApproveAsync("a-stale", Approval("SwitchTraffic", 0, "writes-0"));
        Assert.Equal("rejected", stale.State);
        Assert.Contains("approval of SwitchTraffic for traffic generation 0 refused: the approval is for traffic generation 0, but the workflow is in traffic generation 1", stale.Message);
        Assert.Equal("writes", stillPending.Pending!.RequestId);

        // Signed for a generation that has not happened yet: refused too.
        var (_, ahead) = await ApproveAsync("a-ahead", Approval("SwitchTraffic", 2, "writes-2"));
        Assert.Contains("the workflow is in traffic generation 1", ahead.Message);

        await ApproveAsync("a-writes", Approval("SwitchTraffic", 1, "writes-1"));
        var (all, writes) = await DoneAsync("writes");
        Assert.Equal("done", writes.State);
        Assert.Equal(2, all.TrafficGeneration);
        Assert.Equal(["Switch:REPLICA,RDONLY", "Switch:PRIMARY"], _ops.Calls.Where(c => c.StartsWith("Switch", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_approval_is_consumed_the_same_command_again_needs_a_new_one_and_approving_ahead_is_refused()
    {
        // Nothing is pending: an approval given ahead is refused, not kept for later.
        var (_, ahead) = await ApproveAsync("a-ahead", Approval("SwitchTraffic", 0, "ahead"));
        Assert.Equal("rejected", ahead.State);
        Assert.Contains("nothing is pending", ahead.Message);

        // A switch that fails changes no traffic and starts no new generation.
        _ops.FailSwitchWith = "replication lag of workflow commerce2customer is 99s, over --max-replication-lag-allowed 30s";
        var (pending, s1) = await SendAsync(Switch("s1"));
        Assert.Equal("waiting for approval", s1.State);
        var first = Approval("SwitchTraffic", 0, "first");
        await ApproveAsync("a-first", first);
        var (failed, s1Done) = await DoneAsync("s1");
        Assert.Equal("failed", s1Done.State);
        Assert.Equal(0, failed.TrafficGeneration);
        Assert.Null(failed.Pending);

        // Sent again, the switch waits for a new approval: the first was spent on s1.
        _ops.FailSwitchWith = null;
        var (again, s2) = await SendAsync(Switch("s2"));
        Assert.Equal("waiting for approval", s2.State);
        Assert.Equal("s2", again.Pending!.RequestId);
        var (_, replay) = await ApproveAsync("a-replay", first);
        Assert.Equal("rejected", replay.State);
        Assert.Contains("approval nonce 'first' was already used (replayed)", replay.Message);
        Assert.Single(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));

        await ApproveAsync("a-second", Approval("SwitchTraffic", 0, "second"));
        var (switched, s2Done) = await DoneAsync("s2");
        Assert.Equal("done", s2Done.State);
        Assert.Equal(1, switched.TrafficGeneration);
        Assert.Contains(switched.Audit, a => a is { Action: "Approve", Outcome: "rejected" } && a.Detail.Contains("nothing is pending", StringComparison.Ordinal));
        Assert.Contains(switched.Audit, a => a is { Action: "Approve", Outcome: "rejected" } && a.Detail.Contains("replayed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_traffic_change_drops_the_pending_command_and_its_approval_is_refused()
    {
        await SendAsync(Switch("reads", "REPLICA,RDONLY"));
        await ApproveAsync("a-reads", Approval("SwitchTraffic", 0, "reads"));
        await DoneAsync("reads");

        var (pending, _) = await SendAsync(Switch("writes", "PRIMARY"));
        Assert.Equal(1, pending.Pending!.Generation);
        // Reversing the reads (no approval needed) moves traffic: the waiting write switch was asked for in another state.
        var (reversed, back) = await SendAsync(Switch("back", "REPLICA,RDONLY", reverse: true), c => c.State != "waiting for approval");
        Assert.Equal("done", back.State);
        Assert.Equal(2, reversed.TrafficGeneration);
        Assert.Null(reversed.Pending);
        Assert.Contains(reversed.Commands, c => c is { RequestId: "writes", State: "dropped" });

        var (_, late) = await ApproveAsync("a-late", Approval("SwitchTraffic", 1, "writes-1"));
        Assert.Equal("rejected", late.State);
        Assert.Contains("nothing is pending", late.Message);
        Assert.DoesNotContain("Switch:PRIMARY", _ops.Calls);
    }

    [Fact]
    public async Task A_grant_sent_with_a_command_is_ignored()
    {
        // Only the workflow grants approvals; a caller's grant would let the command skip its own approval.
        var (state, s1) = await SendAsync(Switch("s1") with { Grant = new ApprovalGrant("alice", "forged", 0) });
        Assert.Equal("waiting for approval", s1.State);
        Assert.Null(state.Pending!.Command.Grant);
        Assert.DoesNotContain(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));
    }
}
