using System.Collections.Concurrent;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// The MoveTables copy on the in-memory hub with the real activities: one stream per target shard (unsharded source,
/// two-shard target split by a hash vindex), each copied by a chain of bounded <c>MoveTables_CopyChunk</c> activities
/// until every row is on its shard.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CopyFanOutIntegrationTests
{
    private const int Rows = 400;
    private const int ChunkRows = 25;

    [Fact]
    public async Task Copy_fans_out_per_stream_as_chains_of_chunk_activities_and_copies_every_row_once()
    {
        // Small chunks, as DURABLE_COPY_CHUNK_ROWS sets them on a host: each stream's copy takes many activities.
        await using var bed = new ClusterBed("fanout", new MoveTablesSettings { CopyBudget = MoveTablesEnvironmentOptions.CopyBudgetFromSettings(ChunkRows.ToString(System.Globalization.CultureInfo.InvariantCulture)) });
        await bed.InitAsync();
        var table = "customer_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{table}` (customer_id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(100) NOT NULL)",
            $"INSERT INTO `{table}` SELECT seq, CONCAT('c', seq) FROM seq_1_to_{Rows}");
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(300, "vt_customer_sharded", table);
        bed.DropLater(400, "vt_customer_sharded", table);
        var vschema = "{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"" + table + "\":{\"column_vindexes\":[{\"column\":\"customer_id\",\"name\":\"hash\"}]}}}";
        await new TopologyAdmin(bed.Env.Store).ApplyVSchemaAsync("customer_sharded", vschema);

        var recording = new RecordingOperations(bed.Env.Operations);
        await bed.StartWorkerAsync(recording);
        var spec = new MoveTablesCreate { Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer_sharded", SourceKeyspace = "commerce", Tables = [table], TabletTypes = "PRIMARY" };
        var id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));
        var state = await WaitCopiedAsync(bed, id, TimeSpan.FromMinutes(3));
        Assert.True(state.Phase == Phases.Running, $"{state.Phase}: {state.LastError}");

        // One chain per stream, each of several chunks, the last one done; together they copied every row once.
        Assert.Equal(2, state.Streams.Count);
        Assert.Equal(state.Streams.OrderBy(s => s.Shard), recording.Chunks.Keys.OrderBy(s => s.Shard));
        foreach (var (stream, chunks) in recording.Chunks)
        {
            var results = chunks.ToList();
            Assert.True(results.Count >= 4, $"stream {stream} ran {results.Count} chunks; a chain of bounded chunks ({ChunkRows} rows each) was expected");
            Assert.True(results[^1].Done, $"the last chunk of stream {stream} is not done");
        }

        Assert.Equal(Rows, recording.Chunks.Values.Sum(c => c.Sum(r => r.RowsCopied)));
        foreach (var s in state.Streams)
        {
            var record = Assert.Single(await bed.Env.Engine.ListStreamsAsync(s.Keyspace, s.Shard, spec.Workflow));
            Assert.Equal(StreamState.Running, record.State);
        }

        var low = await DumpAsync(300, "vt_customer_sharded", table);
        var high = await DumpAsync(400, "vt_customer_sharded", table);
        Assert.True(low.Count > 0 && high.Count > 0, $"-80 holds {low.Count} rows, 80- {high.Count}");
        Assert.Equal(Rows, low.Count + high.Count);
        Assert.Equal(await DumpAsync(100, "vt_commerce", table), low.Concat(high).OrderBy(r => r.Id).ToList());
    }

    private static async Task<WorkflowState> WaitCopiedAsync(ClusterBed bed, string id, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && last.Phase is Phases.Running or Phases.Stopped or Phases.Failed)
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the copy did not finish within {timeout.TotalSeconds:0} s: phase {last?.Phase}, error {last?.LastError}, " +
                                   $"copy {string.Join(", ", last?.Copy.Select(c => $"{c.Table} {c.RowsCopied}") ?? [])}");
    }

    private static async Task<List<(long Id, string Row)>> DumpAsync(int uid, string db, string table)
    {
        await using var c = await MySqlConnection.OpenAsync(ClusterBed.Account("dba", uid, db));
        var rows = new List<(long, string)>();
        await using var r = await c.QueryAsync($"SELECT customer_id, CONCAT_WS('|', customer_id, email) FROM `{table}` ORDER BY customer_id");
        while (await r.ReadAsync())
        {
            rows.Add((r.GetInt64(0), r.GetString(1) ?? "(null)"));
        }

        return rows;
    }
}

/// <summary>The real operations, with every CopyChunk answer recorded per stream in order (whichever execution ran it).</summary>
internal sealed class RecordingOperations(IMoveTablesOperations inner) : IMoveTablesOperations
{
    public ConcurrentDictionary<StreamRef, ConcurrentQueue<CopyChunkResult>> Chunks { get; } = new();

    public async Task<CopyChunkResult> CopyChunkAsync(MoveTablesCreate spec, StreamRef stream, CancellationToken ct)
    {
        var result = await inner.CopyChunkAsync(spec, stream, ct);
        Chunks.GetOrAdd(stream, _ => new ConcurrentQueue<CopyChunkResult>()).Enqueue(result);
        return result;
    }

    public Task<PreflightResult> PreflightAsync(MoveTablesCreate spec, CancellationToken ct) => inner.PreflightAsync(spec, ct);

    public Task<CreateResult> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct) => inner.CreateAsync(spec, tables, ct);

    public Task<ProgressResult> ProgressAsync(WorkflowState state, CancellationToken ct) => inner.ProgressAsync(state, ct);

    public Task SetStreamsAsync(StreamsRequest request, CancellationToken ct) => inner.SetStreamsAsync(request, ct);

    public Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct) => inner.SwitchAsync(request, ct);

    public Task CompleteAsync(CleanupRequest request, CancellationToken ct) => inner.CompleteAsync(request, ct);

    public Task CancelAsync(CleanupRequest request, CancellationToken ct) => inner.CancelAsync(request, ct);

    public Task<ApprovalVerdict> VerifyApprovalAsync(VerifyApprovalRequest request, CancellationToken ct) => inner.VerifyApprovalAsync(request, ct);
}
