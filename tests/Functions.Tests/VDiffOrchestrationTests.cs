using System.Collections.Concurrent;
using Durable.Functions.Engine;
using Durable.Functions.Orchestrations;
using Durable.Testing;
using Durable.VDiff;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Durable.Functions.Tests;

/// <summary>
/// The fan-out and re-run logic of the durable VDiff on a private task hub on the cluster's Azurite (no database: the
/// operations are recorded).
/// </summary>
public sealed class VDiffOrchestrationTests : IAsyncLifetime
{
    private TaskHub? _hub;

    private sealed class RecordingOperations : IVDiffOperations
    {
        public ConcurrentQueue<string> Calls { get; } = new();

        public ConcurrentDictionary<string, int> ShardRuns { get; } = new();

        public int Creates;

        public Task<(string Uuid, IReadOnlyList<string> Shards)> CreateAsync(string workflow, string keyspace, VDiffOptions options, string? uuid = null, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Creates);
            Calls.Enqueue($"create {uuid}");
            return Task.FromResult<(string, IReadOnlyList<string>)>((uuid!, ["-80", "80-"]));
        }

        public Task<string> RunShardAsync(string uuid, string workflow, string keyspace, string shard, TimeSpan? budget, CancellationToken ct)
        {
            var n = ShardRuns.AddOrUpdate($"{uuid}/{shard}", 1, (_, v) => v + 1);
            Calls.Enqueue($"run {shard} #{n}");
            // Shard -80 needs three budgets, 80- one: the shard chain must go on until each says it is done.
            return Task.FromResult(shard == "-80" && n < 3 ? VDiffStates.Started : VDiffStates.Completed);
        }

        public Task<int> StopAsync(string workflow, string keyspace, string uuid, CancellationToken ct = default)
        {
            Calls.Enqueue($"stop {uuid}");
            return Task.FromResult(0);
        }

        public Task<VDiffReport?> ShowAsync(string workflow, string keyspace, string selector, bool verbose, CancellationToken ct = default) =>
            Task.FromResult<VDiffReport?>(new VDiffReport
            {
                Workflow = workflow, Keyspace = keyspace, State = VDiffStates.Completed, UUID = selector, RowsCompared = 42, HasMismatch = workflow == "dirty",
                Shards = "-80,80-", TableSummary = new Dictionary<string, TableSummary>(),
            });
    }

    private async Task<DurableHubClient> StartAsync(IVDiffOperations ops)
    {
        var registry = new DurableTaskRegistry();
        VDiffOrchestration.Register(registry);
        _hub = await TestTaskHub.StartAsync(registry, TestServices.With(ops));
        return _hub.Client;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls a test class's DisposeAsync of the latter, and the hub would stay.
    public async Task DisposeAsync()
    {
        if (_hub is not null)
        {
            await _hub.DisposeAndDeleteAsync();
        }
    }

    [Fact]
    public async Task Fans_out_per_shard_and_chains_budgeted_activities_until_each_shard_is_done()
    {
        var ops = new RecordingOperations();
        var client = await StartAsync(ops);
        var id = await client.ScheduleNewOrchestrationInstanceAsync(VDiffOrchestration.Orchestrator, new VDiffRunInput("clean", "customer", new VDiffOptions()));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var meta = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        var outcome = meta.ReadOutputAs<VDiffOutcome>()!;
        Assert.True(outcome.IsClean);
        Assert.Equal(42, outcome.RowsCompared);
        Assert.Equal(1, ops.Creates);
        Assert.Equal(3, ops.ShardRuns[$"{outcome.Uuid}/-80"]);
        Assert.Equal(1, ops.ShardRuns[$"{outcome.Uuid}/80-"]);
        Assert.True(Guid.TryParse(outcome.Uuid, out _));
    }

    [Fact]
    public async Task Schedule_re_runs_on_the_timer_and_reports_a_mismatch_as_not_clean()
    {
        var ops = new RecordingOperations();
        var client = await StartAsync(ops);
        var id = await client.ScheduleNewOrchestrationInstanceAsync(VDiffOrchestration.ScheduleOrchestrator,
            new VDiffScheduleInput("dirty", "customer", new VDiffOptions(), IntervalSeconds: 1, MaxRuns: 2));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        OrchestrationMetadata meta;
        try
        {
            meta = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token);
        }
        catch (OperationCanceledException)
        {
            var m = await client.GetInstancesAsync(id, true);
            throw new Xunit.Sdk.XunitException($"stuck: {m?.RuntimeStatus} {m?.SerializedCustomStatus} {m?.FailureDetails?.ErrorMessage} calls: {string.Join("; ", ops.Calls)}");
        }

        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        var outcome = meta.ReadOutputAs<VDiffOutcome>()!;
        Assert.False(outcome.IsClean);
        Assert.True(outcome.HasMismatch);
        Assert.Equal(2, ops.Creates);
    }
}
