using Durable.Core.Positions;
using Durable.MySql;

namespace Durable.Replication;

/// <summary>
/// The engine's entry points, each one step an activity or the Streamer calls: create streams (with the refusals),
/// start/stop them, set stop positions, copy one chunk, delete a workflow's streams.
/// </summary>
public sealed class ReplicationEngine
{
    public ReplicationEngine(TabletConnector connector, IServerIdSource serverIds, ReplicationEngineOptions? options = null)
    {
        Options = options ?? new ReplicationEngineOptions();
        Connector = connector;
        Sidecar = new Sidecar(Options.SidecarName);
        Store = new StreamStore(Sidecar);
        Throttler = Options.Throttle is null ? null : new ServerThrottler(connector, Options.Throttle);
        Replicator = new Replicator(connector, serverIds, Options.Replicator, Throttler);
        Copier = new Copier(connector, Sidecar, Replicator);
        Preflight = new Preflight(connector);
    }

    public ReplicationEngineOptions Options { get; }

    public TabletConnector Connector { get; }

    public Sidecar Sidecar { get; }

    public StreamStore Store { get; }

    public Replicator Replicator { get; }

    public ServerThrottler? Throttler { get; }

    public Copier Copier { get; }

    public Preflight Preflight { get; }

    /// <summary>Runs <paramref name="work"/> on the target shard's primary with the sidecar in place.</summary>
    public async Task<T> OnTargetAsync<T>(string keyspace, string shard, Func<MySqlConnection, Task<T>> work, CancellationToken ct)
    {
        var tablet = await Connector.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
        await using var c = await Connector.OpenAsync(tablet, ct: ct).ConfigureAwait(false);
        await Sidecar.EnsureAsync(c, ct).ConfigureAwait(false);
        return await work(c).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates a stream after the refusal checks, creating missing target tables as the source defines them. A stream
    /// that already exists is returned as is (the calling activity may be delivered twice).
    /// </summary>
    public async Task<long> CreateStreamAsync(StreamSpec spec, PreflightOptions? preflight = null, CancellationToken ct = default)
    {
        spec.Validate();
        var existing = await OnTargetAsync(spec.TargetKeyspace, spec.TargetShard, async c =>
            (await Store.ListAsync(c, spec.Workflow, ct: ct).ConfigureAwait(false))
            .FirstOrDefault(s => s.SourceKeyspace == spec.SourceKeyspace && s.SourceShard == spec.SourceShard), ct).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing.Id;
        }

        await Preflight.EnsureAsync(spec, preflight, ct).ConfigureAwait(false);
        await Preflight.CreateTargetTablesAsync(spec, ct).ConfigureAwait(false);
        return await OnTargetAsync(spec.TargetKeyspace, spec.TargetShard, c => Store.CreateAsync(c, spec, ct), ct).ConfigureAwait(false);
    }

    public Task<StreamRecord> StartStreamAsync(string keyspace, string shard, long id, CancellationToken ct = default) =>
        OnTargetAsync(keyspace, shard, c => Store.StartAsync(c, id, ct), ct);

    public Task<StreamRecord> StopStreamAsync(string keyspace, string shard, long id, string message, CancellationToken ct = default) =>
        OnTargetAsync(keyspace, shard, c => Store.SetStateAsync(c, id, StreamState.Stopped, message, ct), ct);

    public Task<StreamRecord> FreezeStreamAsync(string keyspace, string shard, long id, CancellationToken ct = default) =>
        OnTargetAsync(keyspace, shard, c => Store.SetStateAsync(c, id, StreamState.Frozen, "frozen", ct), ct);

    public Task<bool> SetStopPositionAsync(string keyspace, string shard, long id, GtidPosition? stop, CancellationToken ct = default) =>
        OnTargetAsync(keyspace, shard, async c =>
        {
            await Store.SetStopPositionAsync(c, id, stop, ct).ConfigureAwait(false);
            return true;
        }, ct);

    public Task<IReadOnlyList<StreamRecord>> ListStreamsAsync(string keyspace, string shard, string? workflow = null, CancellationToken ct = default) =>
        OnTargetAsync(keyspace, shard, c => Store.ListAsync(c, workflow, ct: ct), ct);

    public Task<int> DeleteWorkflowAsync(string keyspace, string shard, string workflow, CancellationToken ct = default) =>
        OnTargetAsync(keyspace, shard, c => Store.DeleteWorkflowAsync(c, workflow, ct), ct);

    public Task<ChunkResult> CopyChunkAsync(string keyspace, string shard, long id, string owner, CopyBudget? budget = null, CancellationToken ct = default) =>
        Copier.CopyChunkAsync(keyspace, shard, id, owner, budget ?? new CopyBudget(), ct);

}
