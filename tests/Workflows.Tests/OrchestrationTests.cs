using System.Collections.Concurrent;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Engine;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;

namespace Durable.Workflows.Tests;

/// <summary>The cluster side of a workflow in memory: enough to drive the orchestration's logic in unit tests.</summary>
internal sealed class FakeOperations : IMoveTablesOperations
{
    public int ChunksPerStream { get; set; } = 3;

    private int _noTabletLeft;

    public void FindNoTabletFor(int chunks) => _noTabletLeft = chunks;
    public List<string> Problems { get; } = [];
    public ConcurrentQueue<string> Calls { get; } = new();
    public ConcurrentDictionary<long, int> Chunks { get; } = new();
    public long Lag { get; set; }
    public string? FailSwitchWith { get; set; }
    public ApprovalVerifier? Verifier { get; set; }

    public Task<PreflightResult> PreflightAsync(MoveTablesCreate spec, CancellationToken ct)
    {
        Calls.Enqueue("Preflight");
        return Task.FromResult(new PreflightResult(Problems.ToList(), spec.Tables));
    }

    public Task<CreateResult> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        Calls.Enqueue("Create");
        return Task.FromResult(new CreateResult([new StreamRef(spec.TargetKeyspace, "-80", 1, "0"), new StreamRef(spec.TargetKeyspace, "80-", 2, "0")],
            [.. tables.Select(t => new TableProgress(t, 0, 10, false))]));
    }

    /// <summary>Failures the copy of stream 1 throws, one per chunk attempt, before it copies again.</summary>
    public ConcurrentQueue<Exception> CopyFailures { get; } = new();

    public int FailedCopies;

    public Task<CopyChunkResult> CopyChunkAsync(MoveTablesCreate spec, StreamRef stream, CancellationToken ct)
    {
        if (stream.Id == 1 && CopyFailures.TryDequeue(out var failure))
        {
            Interlocked.Increment(ref FailedCopies);
            throw failure;
        }

        if (Interlocked.Decrement(ref _noTabletLeft) >= 0)
        {
            return Task.FromResult(new CopyChunkResult(false, null, 0, "No healthy RDONLY tablet of ext1:commerce/0: none listed"));
        }

        var n = Chunks.AddOrUpdate(stream.Id, 1, (_, v) => v + 1);
        return Task.FromResult(new CopyChunkResult(n >= ChunksPerStream, spec.Tables[0], 1));
    }

    public Task<ProgressResult> ProgressAsync(WorkflowState state, CancellationToken ct)
    {
        var copied = Chunks.Values.Sum();
        var total = ChunksPerStream * state.Streams.Count;
        return Task.FromResult(new ProgressResult([.. state.Tables.Select(t => new TableProgress(t, Math.Min(copied, total), total, copied >= total))], Lag, null));
    }

    public Task SetStreamsAsync(StreamsRequest request, CancellationToken ct)
    {
        Calls.Enqueue(request.Start ? "Start" : "Stop");
        return Task.CompletedTask;
    }

    /// <summary>Finished switch intents, as the cluster keeps them in etcd: a repeated delivery answers without switching.</summary>
    public InMemorySwitchOutcomes Outcomes { get; } = new();

    /// <summary>Every answer the switch activity gave, repeated deliveries included.</summary>
    public ConcurrentQueue<SwitchResult> SwitchAnswers { get; } = new();

    public async Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct)
    {
        var result = await SwitchLedger.RunOnceAsync(Outcomes, request, () => SwitchOnceAsync(request), ct);
        SwitchAnswers.Enqueue(result);
        return result;
    }

    private Task<SwitchResult> SwitchOnceAsync(SwitchRequest request)
    {
        Calls.Enqueue((request.Reverse ? "Reverse:" : "Switch:") + string.Join(",", request.Options.Types()));
        var traffic = request.State.Traffic;
        if (FailSwitchWith is not null)
        {
            return Task.FromResult(new SwitchResult(false, FailSwitchWith, traffic, request.State.Streams, request.State.ReverseStreams));
        }

        foreach (var t in request.Options.Types())
        {
            traffic = traffic.With(t, !request.Reverse);
        }

        var reverse = traffic.Primary && request.Options.EnableReverseReplication ? new[] { new StreamRef(request.State.Spec.SourceKeyspace, "0", 9, "-80") } : request.State.ReverseStreams.ToArray();
        return Task.FromResult(new SwitchResult(true, "ok", traffic, request.State.Streams, reverse));
    }

    public Task CompleteAsync(CleanupRequest request, CancellationToken ct)
    {
        Calls.Enqueue("Complete");
        return Task.CompletedTask;
    }

    public Task CancelAsync(CleanupRequest request, CancellationToken ct)
    {
        Calls.Enqueue("Cancel");
        return Task.CompletedTask;
    }

    public Task<ApprovalVerdict> VerifyApprovalAsync(VerifyApprovalRequest request, CancellationToken ct) =>
        Verifier!.VerifyAsync(request, ct);
}

public sealed class OrchestrationTests : IAsyncLifetime
{
    private readonly FakeOperations _ops = new();
    private TaskHub? _hub;
    private static readonly byte[] AliceKey = Enumerable.Range(7, 32).Select(i => (byte)i).ToArray();

    private DurableHubClient Client => _hub!.Client;

    private static MoveTablesCreate Spec(bool approvals = false, int? expiry = null) => new()
    {
        Workflow = "commerce2customer", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer", "corder"],
        Approvals = approvals ? new ApprovalPolicy { Required = true, Approvers = ["alice"], ExpirySeconds = expiry } : new ApprovalPolicy(),
        RequestedBy = "ci-pipeline",
    };

    private WorkflowTimings? _timings;

    private async Task<string> StartAsync(MoveTablesCreate spec)
    {
        _ops.Verifier = new ApprovalVerifier(new ConfiguredApproverKeys(new Dictionary<string, byte[]> { ["alice"] = AliceKey }), new InMemoryNonceStore());
        var registry = new DurableTaskRegistry();
        MoveTablesOrchestration.Register(registry);
        _hub = await TestTaskHub.StartAsync(registry, TestServices.With(_ops));
        return await Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec, Timings = _timings }, new StartOrchestrationOptions(spec.InstanceId));
    }

    private async Task<WorkflowState> WaitAsync(string id, Func<WorkflowState, bool> until, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var m = await Client.GetInstanceAsync(id, getInputsAndOutputs: true);
            last = m?.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(30);
        }

        throw new TimeoutException($"Workflow never reached: {what}. Last phase {last?.Phase}, error {last?.LastError}, commands {string.Join(" | ", last?.Commands.Select(c => c.Action + ":" + c.State + ":" + c.Message) ?? [])}");
    }

    private Task SendAsync(string id, WorkflowCommand command) => Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, command);

    private static Func<WorkflowState, bool> Answered(string requestId) => s => s.Commands.Any(c => c.RequestId == requestId && c.State != "waiting for approval");

    [Fact]
    public async Task A_transient_copy_failure_is_retried_and_the_copy_carries_on()
    {
        _ops.CopyFailures.Enqueue(new MySqlException(MySqlErrorCode.ServerLost, "HY000", "Lost connection to server during query"));
        var id = await StartAsync(Spec());
        var running = await WaitAsync(id, s => s.Phase == Phases.Running, "running after a retried chunk");
        Assert.True(running.CopyDone);
        Assert.Null(running.LastError);
        Assert.Equal(1, _ops.FailedCopies);
    }

    [Fact]
    public async Task A_terminal_copy_failure_is_not_retried_the_workflow_stops_and_says_why()
    {
        // Two queued: a retry of the failed chunk would take the second one.
        _ops.CopyFailures.Enqueue(new TerminalReplicationException("row 7 of customer diverged"));
        _ops.CopyFailures.Enqueue(new TerminalReplicationException("row 7 of customer diverged"));
        var id = await StartAsync(Spec());
        var stopped = await WaitAsync(id, s => s.Phase == Phases.Stopped, "stopped by the failed copy");
        Assert.Contains("Copy failed: row 7 of customer diverged", stopped.LastError);
        // Longer than the first retry interval (1 s): no second attempt came.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, _ops.FailedCopies);
        Assert.Single(_ops.CopyFailures);
    }

    [Fact]
    public async Task Lifecycle_create_copy_switch_reverse_switch_complete_with_custom_status_in_the_seeds_words()
    {
        var id = await StartAsync(Spec());
        Assert.Equal("movetables:customer.commerce2customer", id);
        var running = await WaitAsync(id, s => s.Phase == Phases.Running, "running after copy");
        Assert.True(running.CopyDone);
        Assert.All(running.Copy, t => Assert.Equal(100, t.Percent));
        Assert.Equal(3, _ops.Chunks[1]);
        Assert.Equal(3, _ops.Chunks[2]);
        Assert.Equal("Reads Not Switched. Writes Not Switched", running.TrafficStateText);

        await SendAsync(id, new WorkflowCommand { Action = "switchtraffic", RequestId = "s1", RequestedBy = "bob" });
        var switched = await WaitAsync(id, Answered("s1"), "switch answered");
        Assert.Equal("All Reads Switched. Writes Switched", switched.TrafficStateText);
        var result = switched.Commands.Single(c => c.RequestId == "s1");
        Assert.Equal("done", result.State);
        Assert.Contains("Start State: Reads Not Switched. Writes Not Switched\nCurrent State: All Reads Switched. Writes Switched", result.Message);

        await SendAsync(id, new WorkflowCommand { Action = "Cancel", RequestId = "c1", RequestedBy = "bob" });
        var refused = await WaitAsync(id, Answered("c1"), "cancel refused");
        Assert.Equal("rejected", refused.Commands.Single(c => c.RequestId == "c1").State);
        Assert.Contains("writes are switched", refused.Commands.Single(c => c.RequestId == "c1").Message);

        await SendAsync(id, new WorkflowCommand { Action = "ReverseTraffic", RequestId = "r1", RequestedBy = "bob" });
        var reversed = await WaitAsync(id, Answered("r1"), "reverse");
        Assert.Equal("Reads Not Switched. Writes Not Switched", reversed.TrafficStateText);

        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s2", RequestedBy = "bob" });
        await WaitAsync(id, Answered("s2"), "switch again");
        await SendAsync(id, new WorkflowCommand { Action = "Complete", RequestId = "x1", RequestedBy = "bob" });
        var meta = await Client.WaitForInstanceCompletionAsync(id, true, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        var final = meta.ReadOutputAs<WorkflowState>()!;
        Assert.Equal(Phases.Completed, final.Phase);
        Assert.Equal(["Preflight", "Create", "Switch:RDONLY,REPLICA,PRIMARY", "Reverse:RDONLY,REPLICA,PRIMARY", "Switch:RDONLY,REPLICA,PRIMARY", "Complete"], _ops.Calls.ToArray());
        // The audit trail names who did what.
        Assert.Contains(final.Audit, a => a.Who == "ci-pipeline" && a.Action == "Create");
        Assert.Contains(final.Audit, a => a.Who == "bob" && a.Action == "Complete" && a.Outcome == "done");
    }

    [Fact]
    public async Task Pre_flight_problems_fail_the_workflow_before_anything_is_created()
    {
        _ops.Problems.Add("Table 'nope' does not exist in source keyspace commerce.");
        var id = await StartAsync(Spec());
        var meta = await Client.WaitForInstanceCompletionAsync(id, true, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        var state = meta.ReadOutputAs<WorkflowState>()!;
        Assert.Equal(Phases.Failed, state.Phase);
        Assert.Contains("nothing was changed", state.LastError);
        Assert.Contains("'nope'", state.LastError);
        Assert.Equal(["Preflight"], _ops.Calls.ToArray());
    }

    [Fact]
    public async Task Switch_waits_for_a_signed_approval_and_refused_approvals_leave_it_waiting()
    {
        var id = await StartAsync(Spec(approvals: true));
        await WaitAsync(id, s => s.Phase == Phases.Running, "running");
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        var waiting = await WaitAsync(id, s => s.Pending is not null, "pending approval");
        Assert.Equal("SwitchTraffic", waiting.Pending!.Action);
        Assert.Equal("waiting for approval", waiting.Commands.Single(c => c.RequestId == "s1").State);

        // Signed with the wrong key: refused, still waiting, nothing switched.
        var forged = SignedApproval.Sign(new byte[32], id, "SwitchTraffic", 0, "alice", "n1", DateTimeOffset.UtcNow.AddMinutes(5));
        await SendAsync(id, new WorkflowCommand { Action = "Approve", RequestId = "a1", RequestedBy = "chatops", Approval = forged });
        var afterForged = await WaitAsync(id, Answered("a1"), "forged refused");
        Assert.Equal("rejected", afterForged.Commands.Single(c => c.RequestId == "a1").State);
        Assert.NotNull(afterForged.Pending);
        Assert.Equal("Reads Not Switched. Writes Not Switched", afterForged.TrafficStateText);

        var good = SignedApproval.Sign(AliceKey, id, "SwitchTraffic", 0, "alice", "n2", DateTimeOffset.UtcNow.AddMinutes(5));
        await SendAsync(id, new WorkflowCommand { Action = "Approve", RequestId = "a2", RequestedBy = "chatops", Approval = good });
        var switched = await WaitAsync(id, Answered("s1"), "switch after approval");
        Assert.Equal("done", switched.Commands.Last(c => c.RequestId == "s1").State);
        Assert.Null(switched.Pending);
        Assert.Contains(switched.Audit, a => a.Who == "alice" && a.Action == "Approve" && a.Outcome == "accepted");

        // The same approval again is refused: it was spent on s1, and nothing is pending now.
        await SendAsync(id, new WorkflowCommand { Action = "Approve", RequestId = "a3", RequestedBy = "chatops", Approval = good });
        var replay = await WaitAsync(id, Answered("a3"), "replay refused");
        Assert.Contains("nothing is pending", replay.Commands.Single(c => c.RequestId == "a3").Message);

        // Complete needs its own approval.
        await SendAsync(id, new WorkflowCommand { Action = "Complete", RequestId = "x1", RequestedBy = "bob" });
        var waitingComplete = await WaitAsync(id, s => s.Pending?.Action == "Complete", "complete pending");
        Assert.Equal(Phases.Running, waitingComplete.Phase);
        Assert.DoesNotContain("Complete", _ops.Calls);
    }

    [Fact]
    public async Task A_pending_command_expires_when_no_approval_arrives_in_time()
    {
        var id = await StartAsync(Spec(approvals: true, expiry: 1));
        await WaitAsync(id, s => s.Phase == Phases.Running, "running");
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "bob" });
        var expired = await WaitAsync(id, s => s.Commands.Any(c => c.RequestId == "s1" && c.State == "expired"), "expired");
        Assert.Null(expired.Pending);
        Assert.Equal(Phases.Running, expired.Phase);
        Assert.DoesNotContain(_ops.Calls, c => c.StartsWith("Switch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_switch_reports_its_error_and_leaves_traffic_where_it_was()
    {
        _ops.FailSwitchWith = "replication lag of workflow commerce2customer is 99s, over --max-replication-lag-allowed 30s";
        var id = await StartAsync(Spec());
        await WaitAsync(id, s => s.Phase == Phases.Running, "running");
        await SendAsync(id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1" });
        var failed = await WaitAsync(id, Answered("s1"), "failed");
        Assert.Equal("failed", failed.Commands.Single(c => c.RequestId == "s1").State);
        Assert.Contains("lag", failed.LastError);
        Assert.Equal("Reads Not Switched. Writes Not Switched", failed.TrafficStateText);
        Assert.Equal(Phases.Running, failed.Phase);
    }

    [Fact]
    public async Task Cancel_during_copy_waits_for_the_chunk_in_flight_then_cleans_up()
    {
        _ops.ChunksPerStream = 1_000_000;
        var id = await StartAsync(Spec());
        await WaitAsync(id, s => s.Phase == Phases.Copying && s.Copy.Any(t => t.RowsCopied > 0), "copying");
        await SendAsync(id, new WorkflowCommand { Action = "Cancel", RequestId = "c1" });
        var meta = await Client.WaitForInstanceCompletionAsync(id, true, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        Assert.Equal(Phases.Cancelled, meta.ReadOutputAs<WorkflowState>()!.Phase);
        Assert.Contains("Cancel", _ops.Calls);
    }

    private static MoveTablesCreate MigrateSpec() => new()
    {
        Kind = WorkflowKinds.Migrate, MountName = "ext1", Workflow = "import", TargetKeyspace = "commerce", SourceKeyspace = "commerce",
        Tables = ["customer", "corder"], TabletTypes = "REPLICA", RequestedBy = "ci-pipeline",
    };

    [Fact]
    public async Task Migrate_is_the_same_orchestration_without_switching_and_completes_after_the_copy()
    {
        var id = await StartAsync(MigrateSpec());
        Assert.Equal("migrate:commerce.import", id);
        var running = await WaitAsync(id, s => s.Phase == Phases.Running, "running after copy");
        Assert.True(running.CopyDone);
        Assert.Contains(running.Audit, a => a.Action == "Create" && a.Detail.Contains("copy customer,corder from ext1:commerce to commerce", StringComparison.Ordinal));

        foreach (var action in new[] { "SwitchTraffic", "ReverseTraffic" })
        {
            await SendAsync(id, new WorkflowCommand { Action = action, RequestId = action, RequestedBy = "bob" });
            var refused = await WaitAsync(id, Answered(action), action + " refused");
            var result = refused.Commands.Single(c => c.RequestId == action);
            Assert.Equal("rejected", result.State);
            Assert.Contains($"{action} is not available for Migrate workflow commerce.import", result.Message);
            Assert.Contains("separate, mounted cluster", result.Message);
            Assert.Contains("sidecar database", result.Message);
        }

        await SendAsync(id, new WorkflowCommand { Action = "Complete", RequestId = "x1", RequestedBy = "bob" });
        var meta = await Client.WaitForInstanceCompletionAsync(id, true, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        var final = meta.ReadOutputAs<WorkflowState>()!;
        Assert.Equal(Phases.Completed, final.Phase);
        Assert.Equal(["Preflight", "Create", "Complete"], _ops.Calls.ToArray());
    }

    [Fact]
    public async Task A_copy_without_a_reachable_source_tablet_says_it_is_waiting_and_why_then_carries_on()
    {
        _timings = new WorkflowTimings { TabletWaitSeconds = 0.3 };
        _ops.FindNoTabletFor(4);
        var id = await StartAsync(MigrateSpec());
        var waiting = await WaitAsync(id, s => s.LastError?.Contains("Waiting for a source tablet", StringComparison.Ordinal) == true, "waiting for a tablet");
        Assert.Equal(Phases.Copying, waiting.Phase);
        Assert.Contains("No healthy RDONLY tablet of ext1:commerce/0", waiting.LastError);
        var running = await WaitAsync(id, s => s.Phase == Phases.Running, "running once tablets are back");
        Assert.Null(running.LastError);
        Assert.True(running.CopyDone);
    }

    /// <summary>
    /// The copy chain's history stays bounded however long the copy is: a copy of more rounds than
    /// <see cref="MoveTablesOrchestration.TurnsPerGeneration"/> continues as new, so the history of the execution that
    /// finishes the copy holds at most one generation's chunks, and every chunk of every stream still ran. (The promise
    /// the retired per-stream copy chain kept; MoveTables does not yet: it continues as new only with no command
    /// waiter pending, and the copy phase leaves one pending until a command arrives, so this copy of 85 rounds keeps
    /// all 170 chunks in one history.)
    /// </summary>
    [Fact]
    public async Task A_long_copy_continues_as_new_so_its_history_holds_one_generation_of_chunks()
    {
        _ops.ChunksPerStream = MoveTablesOrchestration.TurnsPerGeneration * 2 + 5;
        var id = await StartAsync(Spec());
        var running = await WaitAsync(id, s => s.Phase == Phases.Running, "running after a long copy");
        Assert.True(running.CopyDone);
        Assert.All(_ops.Chunks.Values, n => Assert.True(n >= _ops.ChunksPerStream, $"a stream ran {n} of {_ops.ChunksPerStream} chunks"));
        var history = await Client.GetHistoryAsync(id) ?? [];
        var chunks = history.Count(e => e?["EventType"]?.GetValue<string>() == "TaskScheduled" && e["Name"]?.GetValue<string>() == MoveTablesOrchestration.CopyChunkActivity);
        Assert.True(chunks <= MoveTablesOrchestration.TurnsPerGeneration * running.Streams.Count,
            $"the current execution's history holds {chunks} CopyChunk activities of {_ops.Chunks.Values.Sum()} run: the copy never continued as new " +
            $"(at most {MoveTablesOrchestration.TurnsPerGeneration} rounds of {running.Streams.Count} streams expected in one generation)");
    }

    [Fact]
    public async Task Commands_sent_while_a_long_copy_spans_generations_are_all_handled()
    {
        _ops.ChunksPerStream = MoveTablesOrchestration.TurnsPerGeneration * 2 + 5;
        var id = await StartAsync(Spec());
        // Past the first generation's turns: the copy has continued as new at least once.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (_ops.Chunks.GetValueOrDefault(1) <= MoveTablesOrchestration.TurnsPerGeneration + 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the copy never got past its first generation");
            await Task.Delay(10);
        }

        await SendAsync(id, new WorkflowCommand { Action = "stop", RequestId = "stop1", RequestedBy = "bob" });
        var stopped = await WaitAsync(id, Answered("stop1"), "stop answered");
        Assert.Equal(Phases.Stopped, stopped.Phase);
        await SendAsync(id, new WorkflowCommand { Action = "start", RequestId = "start1", RequestedBy = "bob" });
        var running = await WaitAsync(id, s => s.Phase == Phases.Running && s.Commands.Any(c => c.RequestId == "start1"), "running after start");
        Assert.True(running.CopyDone);
        Assert.Equal("done", running.Commands.Single(c => c.RequestId == "stop1").State);
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
