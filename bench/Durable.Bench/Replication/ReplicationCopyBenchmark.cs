using System.Globalization;
using System.Text.Json;
using Durable.Composition;
using Durable.Replication;
using Durable.Topology;
using Durable.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Bench.Replication;

/// <summary>
/// The side of bench/benchmarks/replication-copy.sh that the script times: the MoveTables copy of one stream as the
/// production host runs it. Chunk after chunk, each is the <c>MoveTables_CopyChunk</c> activity's own call,
/// <see cref="ClusterMoveTablesOperations.CopyChunkAsync"/>, with the host's settings (<see cref="MoveTablesSettings"/>
/// defaults: the copy budget of 20 s per snapshot; DURABLE_COPY_CHUNK_ROWS applied when set, as the host reads it), and
/// a chunk that failed transiently is retried as the orchestration's retry policy does (ActivityRetry.MoveTables: 4 attempts, 1 s doubling to at most 15 s; terminal failures are not retried). Not
/// included: the task hub's dispatch between chunks and the Progress activity after each round.
/// Args: targetKeyspace targetShard streamId. Settings: the Streamer__* variables (replication-env.sh).
/// </summary>
public static class ReplicationCopyBenchmark
{
    private const int MaxAttempts = 4;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 3 || !long.TryParse(args[2], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            Console.Error.WriteLine("usage: Durable.Bench replication-copy <targetKeyspace> <targetShard> <streamId>");
            return 2;
        }

        var settings = new MoveTablesSettings { CopyBudget = MoveTablesEnvironmentOptions.CopyBudgetFromSettings(Environment.GetEnvironmentVariable(MoveTablesEnvironmentOptions.CopyChunkRowsSetting)) };
        // The engine and the operations from the composition root the host uses, on the Streamer's settings and fixed tablet list.
        await using var services = DurableEngineServices.BuildToolEngine(settings);
        var engine = services.GetRequiredService<ReplicationEngine>();
        var operations = services.GetRequiredService<IMoveTablesOperations>();
        var record = (await engine.ListStreamsAsync(args[0], args[1])).FirstOrDefault(s => s.Id == id)
            ?? throw new InvalidOperationException($"Stream {id} does not exist on {args[0]}/{args[1]}.");
        var (spec, stream) = CopyInput.ForStream(record);
        var chunks = 0;
        while (true)
        {
            CopyChunkResult result;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    result = await operations.CopyChunkAsync(spec, stream, CancellationToken.None);
                    break;
                }
                catch (Exception e) when (attempt < MaxAttempts && TransientFailures.IsTransient(e))
                {
                    var delay = TimeSpan.FromSeconds(Math.Min(15, Math.Pow(2, attempt - 1)));
                    Console.Error.WriteLine($"chunk failed (attempt {attempt} of {MaxAttempts}, retrying in {delay.TotalSeconds:0} s): {e.Message}");
                    await Task.Delay(delay);
                }
            }

            if (result.WaitingFor is { } waiting)
            {
                Console.Error.WriteLine($"the copy waits for a source tablet, which a benchmark must not: {waiting}");
                return 1;
            }

            chunks++;
            if (result.Done)
            {
                var state = (await engine.ListStreamsAsync(args[0], args[1])).First(s => s.Id == id).State;
                Console.WriteLine($"copied in {chunks} chunks (budget: {settings.CopyBudget.MaxRows} rows, {settings.CopyBudget.MaxTime.TotalSeconds:0} s per chunk); state {state}");
                return 0;
            }
        }
    }
}
