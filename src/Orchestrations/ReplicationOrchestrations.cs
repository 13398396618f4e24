using Durable.Activities.Replication;
using Durable.DurableTask;
using Durable.DurableTask.Worker;
using Durable.Replication;

namespace Durable.Orchestrations;

/// <summary>Input of the copy chain of one stream. Generation and RowsSoFar carry progress across ContinueAsNew.</summary>
public sealed record StreamCopyInput(StreamRef Stream, CopyChunkInput? Chunk = null, int ChunksPerGeneration = 20, int Generation = 0, long RowsSoFar = 0, int ChunksSoFar = 0);

public sealed record StreamCopyResult(StreamRef Stream, long RowsCopied, int Chunks, int Generations, string FinalState, string Position);

public sealed record CopyFanOutInput(IReadOnlyList<StreamRef> Streams, CopyChunkInput? Chunk = null, int ChunksPerGeneration = 20);

public sealed record CopyFanOutResult(IReadOnlyList<StreamCopyResult> Streams)
{
    public long RowsCopied => Streams.Sum(s => s.RowsCopied);
}

/// <summary>
/// The copy of one stream as a chain of bounded chunk activities. After <see cref="StreamCopyInput.ChunksPerGeneration"/>
/// chunks it continues as new with its progress in the input, so its history never grows beyond one generation.
/// Transient chunk failures are retried with back-off (durable timers); terminal ones (refusals, schema mismatch,
/// divergence, a stream in Error) fail the chain.
/// </summary>
public sealed class StreamCopyOrchestrator : TaskOrchestrator<StreamCopyInput, StreamCopyResult?>
{
    public const string Name = "Replication.StreamCopy";

    private static readonly string[] Terminal =
    [
        typeof(TerminalReplicationException).FullName!, typeof(StreamRefusedException).FullName!, typeof(InvalidStreamStateException).FullName!, typeof(ArgumentException).FullName!,
    ];

    public static TaskOptions ChunkRetry { get; } = TaskOptions.FromRetryPolicy(new RetryPolicy(10, TimeSpan.FromSeconds(1), 2.0, TimeSpan.FromMinutes(1))
    {
        HandleFailure = failure => !Terminal.Contains(failure.ErrorType),
    });

    public override async Task<StreamCopyResult?> RunAsync(TaskOrchestrationContext context, StreamCopyInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.ChunksPerGeneration < 1)
        {
            throw new ArgumentException($"ChunksPerGeneration must be at least 1, not {input.ChunksPerGeneration}.");
        }

        var chunk = input.Chunk ?? new CopyChunkInput(input.Stream);
        var rows = input.RowsSoFar;
        var chunks = input.ChunksSoFar;
        for (var i = 0; i < input.ChunksPerGeneration; i++)
        {
            var result = await context.CallActivityAsync<ChunkResult>(CopyChunkActivity.Name, chunk with { Stream = input.Stream }, ChunkRetry);
            rows += result.RowsCopied;
            chunks++;
            context.SetCustomStatus(new { stream = input.Stream.ToString(), table = result.Table, rows, chunks, generation = input.Generation });
            if (result.Done || result.State == StreamState.Stopped)
            {
                return new StreamCopyResult(input.Stream, rows, chunks, input.Generation + 1, result.State.ToString(), result.Position);
            }
        }

        context.ContinueAsNew(input with { Generation = input.Generation + 1, RowsSoFar = rows, ChunksSoFar = chunks });
        return null;
    }
}

/// <summary>Starts every stream and runs their copy chains in parallel, one sub-orchestration per stream.</summary>
public sealed class CopyFanOutOrchestrator : TaskOrchestrator<CopyFanOutInput, CopyFanOutResult>
{
    public const string Name = "Replication.CopyFanOut";

    public override async Task<CopyFanOutResult> RunAsync(TaskOrchestrationContext context, CopyFanOutInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        foreach (var stream in input.Streams)
        {
            await context.CallActivityAsync<string>(StartStreamActivity.Name, stream, StreamCopyOrchestrator.ChunkRetry);
        }

        var chains = input.Streams.Select(stream => context.CallSubOrchestratorAsync<StreamCopyResult>(
            StreamCopyOrchestrator.Name,
            new StreamCopyInput(stream, input.Chunk, input.ChunksPerGeneration),
            new SubOrchestrationOptions(instanceId: $"{context.InstanceId}:copy:{stream.TargetKeyspace}:{stream.TargetShard}:{stream.StreamId}")));
        var results = await Task.WhenAll(chains);
        return new CopyFanOutResult(results);
    }
}

/// <summary>Registers the replication orchestrators and activities with a worker's registry.</summary>
public static class ReplicationRegistration
{
    public static DurableTaskRegistry AddReplication(DurableTaskRegistry registry, ReplicationEngine engine)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(engine);
        registry.AddOrchestrator(StreamCopyOrchestrator.Name, () => new StreamCopyOrchestrator());
        registry.AddOrchestrator(CopyFanOutOrchestrator.Name, () => new CopyFanOutOrchestrator());
        registry.AddActivity(CreateStreamsActivity.Name, () => new CreateStreamsActivity(engine));
        registry.AddActivity(CopyChunkActivity.Name, () => new CopyChunkActivity(engine));
        registry.AddActivity(StartStreamActivity.Name, () => new StartStreamActivity(engine));
        registry.AddActivity(StopStreamActivity.Name, () => new StopStreamActivity(engine));
        registry.AddActivity(SetStopPositionActivity.Name, () => new SetStopPositionActivity(engine));
        registry.AddActivity(GetStreamsActivity.Name, () => new GetStreamsActivity(engine));
        registry.AddActivity(DeleteStreamsActivity.Name, () => new DeleteStreamsActivity(engine));
        return registry;
    }
}
