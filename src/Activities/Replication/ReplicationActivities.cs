using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.DurableTask;
using Durable.Replication;

namespace Durable.Activities.Replication;

/// <summary>Names one stream: the target shard whose sidecar holds it, and its id there.</summary>
public sealed record StreamRef(string TargetKeyspace, string TargetShard, long StreamId)
{
    public override string ToString() => $"{TargetKeyspace}/{TargetShard}#{StreamId}";
}

/// <summary>How a table's rows are placed on a sharded target: the primary vindex type and its column.</summary>
public sealed record TableVindex(string Table, string VindexType, string Column);

/// <summary>Input of <see cref="CreateStreamsActivity"/>: one stream per (source shard, target shard).</summary>
public sealed record CreateStreamsInput
{
    public required string Workflow { get; init; }

    public required string SourceKeyspace { get; init; }

    public required IReadOnlyList<string> SourceShards { get; init; }

    public required string TargetKeyspace { get; init; }

    public required IReadOnlyList<string> TargetShards { get; init; }

    public required IReadOnlyList<string> Tables { get; init; }

    /// <summary>For a sharded target: each table's primary vindex (from the target vschema); empty for an unsharded one.</summary>
    public IReadOnlyList<TableVindex> Vindexes { get; init; } = [];

    public string TabletTypes { get; init; } = "PRIMARY";

    public string Cells { get; init; } = string.Empty;

    public string OnDdl { get; init; } = "IGNORE";

    public bool DeferSecondaryKeys { get; init; }

    public bool StopAfterCopy { get; init; }

    public string? SourceTimeZone { get; init; }

    public long MaxRowsPerSecond { get; init; }

    public bool AllowForeignKeys { get; init; }
}

/// <summary>Input of <see cref="CopyChunkActivity"/>.</summary>
public sealed record CopyChunkInput(StreamRef Stream, long MaxBytes = 1L << 30, int MaxRows = 1_000_000, int MaxSeconds = 60);

public sealed record SetStopPositionInput(StreamRef Stream, string? StopPosition);

public sealed record DeleteStreamsInput(string TargetKeyspace, IReadOnlyList<string> TargetShards, string Workflow);

/// <summary>
/// Creates the workflow's streams after the refusal checks (creating target tables as the source defines them).
/// Idempotent: a re-delivered call finds the streams it already created and returns them.
/// </summary>
public sealed class CreateStreamsActivity(ReplicationEngine engine) : TaskActivity<CreateStreamsInput, IReadOnlyList<StreamRef>>
{
    public const string Name = "Replication.CreateStreams";

    public override async Task<IReadOnlyList<StreamRef>> RunAsync(TaskActivityContext context, CreateStreamsInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var ct = context.CancellationToken;
        var refs = new List<StreamRef>();
        var unknown = input.Vindexes.Select(v => v.Table).Except(input.Tables, StringComparer.OrdinalIgnoreCase).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"Vindexes are given for tables that are not moved: {string.Join(", ", unknown)}.");
        }

        foreach (var targetShard in input.TargetShards)
        {
            var target = await engine.Connector.Resolver.PrimaryAsync(input.TargetKeyspace, targetShard, ct).ConfigureAwait(false);
            foreach (var sourceShard in input.SourceShards)
            {
                var rules = input.Tables.Select(t =>
                {
                    var vindex = input.Vindexes.FirstOrDefault(v => string.Equals(v.Table, t, StringComparison.OrdinalIgnoreCase));
                    return new TableRule(t, vindex is null ? null : new KeyRangeFilter(vindex.VindexType, [vindex.Column], targetShard));
                }).ToList();
                var spec = new StreamSpec
                {
                    Workflow = input.Workflow,
                    SourceKeyspace = input.SourceKeyspace,
                    SourceShard = sourceShard,
                    TargetKeyspace = input.TargetKeyspace,
                    TargetShard = targetShard,
                    TargetDb = target.DbName,
                    Filter = new StreamFilter(rules),
                    TabletTypes = input.TabletTypes,
                    Cells = input.Cells,
                    OnDdl = StreamStates.ParseOnDdl(input.OnDdl),
                    Options = new StreamOptions
                    {
                        DeferSecondaryKeys = input.DeferSecondaryKeys,
                        StopAfterCopy = input.StopAfterCopy,
                        SourceTimeZone = input.SourceTimeZone,
                        MaxRowsPerSecond = input.MaxRowsPerSecond,
                    },
                };
                var id = await engine.CreateStreamAsync(spec, new PreflightOptions { AllowForeignKeysToUnmovedTables = input.AllowForeignKeys }, ct).ConfigureAwait(false);
                refs.Add(new StreamRef(input.TargetKeyspace, targetShard, id));
            }
        }

        return refs;
    }
}

/// <summary>
/// One bounded copy chunk of one stream (catch-up, snapshot, fast-forward, next PK range). Safe to re-deliver: the
/// chunk takes the stream by bumping its epoch and continues from what the sidecar says was committed.
/// </summary>
public sealed class CopyChunkActivity(ReplicationEngine engine) : TaskActivity<CopyChunkInput, ChunkResult>
{
    public const string Name = "Replication.CopyChunk";

    public override async Task<ChunkResult> RunAsync(TaskActivityContext context, CopyChunkInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var budget = new CopyBudget { MaxBytes = input.MaxBytes, MaxRows = input.MaxRows, MaxTime = TimeSpan.FromSeconds(input.MaxSeconds) };
        // Crash-test points of the host path: delivered, nothing done yet / the chunk committed but its result not
        // yet handed to the worker (the hub delivers the activity again and the chunk must continue, not repeat).
        FaultPoints.Hit("activity.copy-chunk.started");
        var result = await engine.CopyChunkAsync(input.Stream.TargetKeyspace, input.Stream.TargetShard, input.Stream.StreamId, $"{context.InstanceId}#{context.TaskId}", budget, context.CancellationToken).ConfigureAwait(false);
        FaultPoints.Hit("activity.copy-chunk.finished");
        return result;
    }
}

/// <summary>Starts a stream: Copying while tables remain to copy, else Running (the Streamer then takes it).</summary>
public sealed class StartStreamActivity(ReplicationEngine engine) : TaskActivity<StreamRef, string>
{
    public const string Name = "Replication.StartStream";

    public override async Task<string> RunAsync(TaskActivityContext context, StreamRef input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var current = (await engine.ListStreamsAsync(input.TargetKeyspace, input.TargetShard, ct: context.CancellationToken).ConfigureAwait(false))
            .FirstOrDefault(s => s.Id == input.StreamId) ?? throw new ReplicationException($"Stream {input} does not exist.");
        if (current.State is StreamState.Copying or StreamState.Running)
        {
            return current.State.ToString(); // already started (a re-delivered call)
        }

        var state = (await engine.StartStreamAsync(input.TargetKeyspace, input.TargetShard, input.StreamId, context.CancellationToken).ConfigureAwait(false)).State.ToString();
        FaultPoints.Hit("activity.start-stream.finished"); // started, but the orchestration has not heard it
        return state;
    }
}

/// <summary>Stops a stream (the Streamer lets go of it within a second).</summary>
public sealed class StopStreamActivity(ReplicationEngine engine) : TaskActivity<StreamRef, string>
{
    public const string Name = "Replication.StopStream";

    public override async Task<string> RunAsync(TaskActivityContext context, StreamRef input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var current = (await engine.ListStreamsAsync(input.TargetKeyspace, input.TargetShard, ct: context.CancellationToken).ConfigureAwait(false))
            .FirstOrDefault(s => s.Id == input.StreamId) ?? throw new ReplicationException($"Stream {input} does not exist.");
        if (current.State is StreamState.Stopped or StreamState.Frozen)
        {
            return current.State.ToString();
        }

        return (await engine.StopStreamAsync(input.TargetKeyspace, input.TargetShard, input.StreamId, $"stopped by {context.InstanceId}", context.CancellationToken).ConfigureAwait(false)).State.ToString();
    }
}

/// <summary>Sets (or clears, with null) a stream's stop position; the Streamer stops the stream there.</summary>
public sealed class SetStopPositionActivity(ReplicationEngine engine) : TaskActivity<SetStopPositionInput, bool>
{
    public const string Name = "Replication.SetStopPosition";

    public override Task<bool> RunAsync(TaskActivityContext context, SetStopPositionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var position = string.IsNullOrEmpty(input.StopPosition) ? null : GtidPosition.Decode(input.StopPosition);
        return engine.SetStopPositionAsync(input.Stream.TargetKeyspace, input.Stream.TargetShard, input.Stream.StreamId, position, context.CancellationToken);
    }
}

/// <summary>The streams of a target shard (optionally one workflow), for status and lag.</summary>
public sealed class GetStreamsActivity(ReplicationEngine engine) : TaskActivity<StreamRef, IReadOnlyList<StreamRecord>>
{
    public const string Name = "Replication.GetStreams";

    public override Task<IReadOnlyList<StreamRecord>> RunAsync(TaskActivityContext context, StreamRef input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return engine.ListStreamsAsync(input.TargetKeyspace, input.TargetShard, ct: context.CancellationToken);
    }
}

/// <summary>Deletes a workflow's streams (with copy state and log) on its target shards. Idempotent.</summary>
public sealed class DeleteStreamsActivity(ReplicationEngine engine) : TaskActivity<DeleteStreamsInput, int>
{
    public const string Name = "Replication.DeleteStreams";

    public override async Task<int> RunAsync(TaskActivityContext context, DeleteStreamsInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var deleted = 0;
        foreach (var shard in input.TargetShards)
        {
            deleted += await engine.DeleteWorkflowAsync(input.TargetKeyspace, shard, input.Workflow, context.CancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }
}
