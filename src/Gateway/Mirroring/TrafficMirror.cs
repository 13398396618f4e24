using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Durable.MySql;
using Durable.Routing;
using Durable.Routing.Sharding;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway.Mirroring;

/// <summary>
/// MirrorTraffic in the gateway, as vtgate's mirror primitive: after a client's read-only statement was answered, a share
/// of those whose tables all have mirror rules to one keyspace (<see cref="MirrorPlan"/>, <see cref="MirrorSampler"/>) is
/// queued for that keyspace; a few workers route each copy against the mirror snapshot, run it on connections of their
/// own (a pool of their own) and discard the answer. The client's answer and latency never depend on the mirror: the
/// queue is bounded and a copy that does not fit is dropped (counted), nothing is awaited on the session's path, and a
/// statement with no mirror rules in force costs one property read.
/// </summary>
internal sealed class TrafficMirror : IAsyncDisposable
{
    private readonly IStatementRouter _router;
    private readonly IBackendPicker _picker;
    private readonly BackendPool _pool;
    private readonly ILogger<TrafficMirror> _logger;
    private readonly Channel<MirrorJob> _queue;

    private readonly MirrorSampler _sampler = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;

    public TrafficMirror(GatewaySettings settings, IStatementRouter router, IBackendPicker picker, ILogger<TrafficMirror> logger, ILogger<BackendPool> poolLogger)
    {
        _router = router;
        _picker = picker;
        _logger = logger;
        _pool = new BackendPool(settings, poolLogger);
        QueueCapacity = settings.MirrorQueueSize;
        _queue = Channel.CreateBounded<MirrorJob>(new BoundedChannelOptions(QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once instead of evicting: the newest copy is dropped
            SingleReader = false,
            SingleWriter = false,
        });
        _workers = [.. Enumerable.Range(0, settings.MirrorWorkers).Select(_ => Task.Run(WorkAsync))];
    }

    /// <summary>Copies waiting for a worker (Gateway:MirrorQueueSize); more are dropped (and counted), never waited for.</summary>
    public int QueueCapacity { get; }

    public MirrorMetrics Metrics { get; } = new();

    public int QueueDepth => _queue.Reader.Count;

    /// <summary>
    /// Called for every statement the session answered: mirrors it when the snapshot it was routed on has mirror rules
    /// for all its tables. Never blocks and never throws into the session.
    /// </summary>
    /// <param name="sql">The client's text (null for a prepared statement: not mirrored).</param>
    /// <param name="started">When the session started the statement (Stopwatch timestamp): the source latency the client saw.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Offer(RoutedStatement routed, string? sql, KeyspaceTarget? session, RoutingSnapshot? snapshot, long started, bool failed)
    {
        if (snapshot is null || snapshot.Mirror.IsEmpty)
        {
            return; // the hot path: no mirror rules in force
        }

        OfferMirrored(routed, sql, session, snapshot, started, failed);
    }

    private void OfferMirrored(RoutedStatement routed, string? sql, KeyspaceTarget? session, RoutingSnapshot snapshot, long started, bool failed)
    {
        // Read-only statements only, as vtgate mirrors them: one SELECT (not FOR UPDATE, not INTO a variable) on tables.
        if (sql is null || routed.Kind != StatementKind.Select || routed.Writes || routed.Parts != 1 || routed.Target is not { } target
            || routed.Effects != SessionEffects.None)
        {
            return;
        }

        var plan = MirrorPlan.For(snapshot);
        if (!plan.TryMatch(routed.Tables, target.Type, out _, out var percent) || !_sampler.Take(percent))
        {
            return;
        }

        if (_queue.Writer.TryWrite(new MirrorJob(sql, session, plan)))
        {
            Metrics.Queued(Stopwatch.GetElapsedTime(started), failed);
        }
        else
        {
            Metrics.Drop();
        }
    }

    private async Task WorkAsync()
    {
        var ct = _stop.Token;
        try
        {
            await foreach (var job in _queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                await RunAsync(job, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>Routes the copy against the mirror snapshot, runs it on the target and reads the answer to its end.</summary>
    private async Task RunAsync(MirrorJob job, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var routed = _router.Route(job.Sql, new RouteContext(job.Session, job.Plan.MirrorSnapshot));
            var target = routed.Target!;
            if (routed.ShardedKeyspace is null)
            {
                await RunOnAsync(await _picker.PickAsync(target, ct).ConfigureAwait(false), routed.Sql, ct).ConfigureAwait(false);
            }
            else
            {
                // A sharded target (e.g. MoveTables into customer_sharded): planned per shard as the sessions plan it,
                // the shards' answers read in parallel (a SELECT needs no sequence values).
                var plan = ShardPlanner.Analyze(routed, job.Plan.MirrorSnapshot).Plan();
                var endpoints = new List<BackendEndpoint>(plan.Queries.Count);
                foreach (var query in plan.Queries)
                {
                    endpoints.Add(await _picker.PickShardAsync(target, query.Shard, ct).ConfigureAwait(false));
                }

                await Task.WhenAll(plan.Queries.Select((q, i) => RunOnAsync(endpoints[i], q.Sql, ct))).ConfigureAwait(false);
            }

            Metrics.Answered(Stopwatch.GetElapsedTime(started), failed: false);
        }
        catch (Exception ex) when (ex is GatewaySqlException or MySqlException or IOException)
        {
            Metrics.Answered(Stopwatch.GetElapsedTime(started), failed: true);
            _logger.LogDebug("Mirrored statement failed on the target: {Error}", ex.Message);
        }
    }

    /// <summary>Runs one text on one tablet over a mirror connection and reads the answer to its end.</summary>
    private async Task RunOnAsync(BackendEndpoint endpoint, string sql, CancellationToken ct)
    {
        var connection = await _pool.RentAsync(endpoint, foundRows: false, ct).ConfigureAwait(false);
        try
        {
            await connection.Connection.ExecuteAsync(sql, ct).ConfigureAwait(false);
        }
        finally
        {
            await _pool.ReturnAsync(connection).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping is the point
        }

        await _pool.DisposeAsync().ConfigureAwait(false);
        Metrics.Dispose();
        _stop.Dispose();
    }

    /// <summary>One queued copy: the client's text, the session's keyspace target, and the plan of the snapshot it ran on.</summary>
    private sealed record MirrorJob(string Sql, KeyspaceTarget? Session, MirrorPlan Plan);
}
