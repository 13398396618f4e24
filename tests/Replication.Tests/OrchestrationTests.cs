using Durable.Activities.Replication;
using Durable.DurableTask;
using Durable.DurableTask.Client;
using Durable.DurableTask.InMemory;
using Durable.DurableTask.Worker;
using Durable.Orchestrations;

namespace Durable.Replication.Tests;

[Trait("Category", "Integration")]
public sealed class OrchestrationTests
{
    [Fact]
    public async Task Copy_fans_out_per_stream_as_chains_of_chunk_activities_with_bounded_history()
    {
        await using var bed = new TestBed("orch");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE customer (customer_id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(100) NOT NULL)",
            "INSERT INTO customer SELECT seq, CONCAT('c', seq) FROM seq_1_to_400");

        var service = new InMemoryOrchestrationService();
        var registry = ReplicationRegistration.AddReplication(new DurableTaskRegistry(), bed.Engine);
        registry.AddOrchestratorFunc<CreateStreamsInput, CopyFanOutResult>("Test.MoveAndCopy", async (context, input) =>
        {
            var streams = await context.CallActivityAsync<IReadOnlyList<StreamRef>>(CreateStreamsActivity.Name, input);
            return await context.CallSubOrchestratorAsync<CopyFanOutResult>(CopyFanOutOrchestrator.Name,
                new CopyFanOutInput(streams, new CopyChunkInput(streams[0], MaxRows: 25), ChunksPerGeneration: 3),
                new SubOrchestrationOptions(instanceId: context.InstanceId + ":fanout"));
        });
        await using var worker = new DurableTaskWorker(service, registry, new DurableTaskWorkerOptions { MaxConcurrentActivities = 4, MaxConcurrentOrchestrations = 4 });
        await worker.StartAsync();
        var client = new DurableTaskClient(service) { MaxPollingInterval = TimeSpan.FromMilliseconds(50) };

        var input = new CreateStreamsInput
        {
            Workflow = "wf",
            SourceKeyspace = "commerce",
            SourceShards = ["0"],
            TargetKeyspace = "customer_sharded",
            TargetShards = ["-80", "80-"],
            Tables = ["customer"],
            Vindexes = [new TableVindex("customer", "hash", "customer_id")],
        };
        var id = await client.ScheduleNewOrchestrationInstanceAsync("Test.MoveAndCopy", input, new StartOrchestrationOptions("move-" + bed.Suffix));
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var done = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{done.RuntimeStatus}: {done.FailureDetails?.ErrorMessage}");
        var result = done.ReadOutputAs<CopyFanOutResult>()!;
        Assert.Equal(2, result.Streams.Count);
        Assert.Equal(400, result.RowsCopied);
        Assert.All(result.Streams, s => Assert.Equal("Running", s.FinalState));
        Assert.All(result.Streams, s => Assert.True(s.Generations >= 2, $"stream {s.Stream} ran {s.Chunks} chunks in {s.Generations} generations; ContinueAsNew never happened"));

        // Each chain's history holds one generation only.
        foreach (var s in result.Streams)
        {
            var history = await client.GetOrchestrationHistoryAsync($"{id}:fanout:copy:{s.Stream.TargetKeyspace}:{s.Stream.TargetShard}:{s.Stream.StreamId}");
            Assert.InRange(history.Count, 1, 40);
        }

        var low = await TestBed.DumpAsync(300, bed.TargetDb, "customer");
        var high = await TestBed.DumpAsync(400, bed.TargetDb, "customer");
        Assert.Equal(400, low.Count + high.Count);
        Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "customer"), low.Concat(high).OrderBy(r => r.Length).ThenBy(r => r, StringComparer.Ordinal).ToList());
    }
}
