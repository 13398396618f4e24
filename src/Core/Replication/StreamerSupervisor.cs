using System.Text;
using Durable.MySql;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Logging;

namespace Durable.Replication;

public sealed record StreamerOptions
{
    /// <summary>This replica's name (host and process); written into ownership keys and the stream log.</summary>
    public string ReplicaName { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>How often the sidecars are scanned; stream changes (start, stop, stop position, delete) take effect within it.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Ownership lease TTL: a replica that stops renewing (dead or paused) loses its streams after this.</summary>
    public TimeSpan OwnershipTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The etcd prefix of ownership keys, e.g. /durable/global.</summary>
    public string OwnershipRoot { get; init; } = "/durable/global";

    /// <summary>At most this many streams per replica, so N replicas share the work.</summary>
    public int MaxStreams { get; init; } = 1000;

    public StreamRunnerOptions Runner { get; init; } = new();

    /// <summary>Where ownership, scans and what the streams apply are measured; null: not measured.</summary>
    public StreamerMetrics? Metrics { get; init; }
}

/// <summary>
/// The Streamer's main loop: scans every primary's sidecar for Running streams, owns each through an etcd lease (one
/// key per stream) and runs it with a <see cref="StreamRunner"/>, which bumps the stream's owner epoch so a paused
/// former owner cannot commit. A runner is stopped when its stream leaves Running, its stop position changes, the
/// stream is deleted, or the lease is lost; the next scan starts it again where appropriate.
/// </summary>
public sealed class StreamerSupervisor(ReplicationEngine engine, EtcdConnection etcd, StreamerOptions options, ILogger logger) : IAsyncDisposable
{
    private readonly Dictionary<string, Owned> _owned = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MySqlConnection> _scanConnections = new(StringComparer.Ordinal);
    private long _lastScanTicks = long.MinValue;

    /// <summary>Keys ("alias/id") of the streams this replica runs now.</summary>
    public IReadOnlyCollection<string> OwnedStreams
    {
        get
        {
            lock (_owned)
            {
                return _owned.Keys.ToArray();
            }
        }
    }

    /// <summary>
    /// Time since the last scan that listed the primaries and took what it could (a primary that cannot be read does not
    /// fail a scan); null before the first. The Streamer's readiness reads it: a scan needs the topology (etcd) and
    /// ownership needs etcd, so a scan that keeps failing or hanging means this replica cannot take streams.
    /// </summary>
    public TimeSpan? SinceLastSuccessfulScan
    {
        get
        {
            var last = Interlocked.Read(ref _lastScanTicks);
            return last == long.MinValue ? null : TimeSpan.FromMilliseconds(Environment.TickCount64 - last);
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        logger.LogInformation("Streamer {Replica} started; scanning sidecars every {Interval}", options.ReplicaName, options.PollInterval);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await ScanOnceAsync(ct).ConfigureAwait(false);
                    options.Metrics?.ScanCompleted(true);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break; // shutting down in the middle of a scan
                }
                catch (Exception e)
                {
                    options.Metrics?.ScanCompleted(false);
                    logger.LogWarning("Streamer scan failed: {Error}", e.Message);
                }

                try
                {
                    await Task.Delay(options.PollInterval, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            await StopAllAsync().ConfigureAwait(false);
        }
    }

    public async Task ScanOnceAsync(CancellationToken ct)
    {
        var seen = new Dictionary<string, (TabletEndpoint Tablet, StreamRecord Stream)>(StringComparer.Ordinal);
        foreach (var primary in await engine.Connector.Resolver.PrimariesAsync(ct).ConfigureAwait(false))
        {
            IReadOnlyList<StreamRecord> streams;
            try
            {
                streams = await ListRunningAsync(primary, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is MySqlException or IOException or ReplicationException)
            {
                logger.LogWarning("Cannot read streams on {Tablet}: {Error}", primary.Alias, e.Message);
                if (_scanConnections.Remove(primary.Alias, out var broken))
                {
                    await broken.DisposeAsync().ConfigureAwait(false);
                }

                // Streams there keep their runners; they fail on their own if the primary is really gone.
                lock (_owned)
                {
                    foreach (var o in _owned.Values.Where(o => o.Tablet.Alias == primary.Alias))
                    {
                        seen[o.Key] = (primary, o.Stream);
                    }
                }

                continue;
            }

            foreach (var s in streams)
            {
                seen[Key(primary, s.Id)] = (primary, s);
            }
        }

        // Stop runners whose stream is gone, no longer Running, has a new stop position, finished, or lost its lease.
        List<Owned> stale;
        lock (_owned)
        {
            stale = _owned.Values.Where(o =>
                !seen.TryGetValue(o.Key, out var now) ||
                now.Stream.StopPosition != o.Stream.StopPosition ||
                o.Runner.IsCompleted ||
                o.Lease.IsLost).ToList();
        }

        foreach (var o in stale)
        {
            await StopAsync(o).ConfigureAwait(false);
        }

        foreach (var (key, (tablet, stream)) in seen)
        {
            lock (_owned)
            {
                if (_owned.ContainsKey(key) || _owned.Count >= options.MaxStreams)
                {
                    continue;
                }
            }

            var lease = await TryOwnAsync(key, ct).ConfigureAwait(false);
            if (lease is null)
            {
                continue;
            }

            var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _ = lease.Lost.ContinueWith(_ => cts.Cancel(), TaskScheduler.Default);
            var runner = new StreamRunner(engine, logger, options.Runner, options.Metrics);
            var task = Task.Run(() => runner.RunAsync(tablet, stream.Id, options.ReplicaName, cts.Token), CancellationToken.None);
            lock (_owned)
            {
                _owned[key] = new Owned(key, tablet, stream, lease, cts, task);
            }

            options.Metrics?.StreamAcquired();

            logger.LogInformation("Streamer {Replica} owns stream {Key}", options.ReplicaName, key);
        }

        Interlocked.Exchange(ref _lastScanTicks, Environment.TickCount64);
    }

    private async Task<IReadOnlyList<StreamRecord>> ListRunningAsync(TabletEndpoint primary, CancellationToken ct)
    {
        if (!_scanConnections.TryGetValue(primary.Alias, out var c) || !c.IsUsable)
        {
            c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            _scanConnections[primary.Alias] = c;
        }

        var exists = await c.QueryScalarAsync($"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c.Quoter.String(engine.Sidecar.Name)} AND TABLE_NAME = 'vreplication'", ct).ConfigureAwait(false);
        if (exists != "1")
        {
            return [];
        }

        return await engine.Store.ListAsync(c, state: StreamState.Running, ct: ct).ConfigureAwait(false);
    }

    private async Task<LeaseKeeper?> TryOwnAsync(string key, CancellationToken ct)
    {
        var etcdKey = $"{options.OwnershipRoot.TrimEnd('/')}/streams/{key}";
        var (leaseId, ttl) = await etcd.LeaseGrantAsync(options.OwnershipTtl, ct).ConfigureAwait(false);
        var result = await etcd.TxnAsync(
            [EtcdCompare.Absent(etcdKey)],
            [EtcdOp.Put(etcdKey, options.ReplicaName, leaseId)],
            null,
            ct).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            await etcd.LeaseRevokeAsync(leaseId, ct).ConfigureAwait(false);
            return null;
        }

        return new LeaseKeeper(etcd, leaseId, ttl);
    }

    private async Task StopAsync(Owned o)
    {
        await o.Cancel.CancelAsync().ConfigureAwait(false);
        try
        {
            await o.Runner.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogWarning("Stream {Key} runner ended with {Error}", o.Key, e.Message);
        }

        await o.Lease.DisposeAsync().ConfigureAwait(false);
        o.Cancel.Dispose();
        lock (_owned)
        {
            _owned.Remove(o.Key);
        }

        options.Metrics?.StreamReleased();
        logger.LogInformation("Streamer {Replica} released stream {Key}", options.ReplicaName, o.Key);
    }

    private async Task StopAllAsync()
    {
        List<Owned> all;
        lock (_owned)
        {
            all = _owned.Values.ToList();
        }

        foreach (var o in all)
        {
            await StopAsync(o).ConfigureAwait(false);
        }

        foreach (var c in _scanConnections.Values)
        {
            await c.DisposeAsync().ConfigureAwait(false);
        }

        _scanConnections.Clear();
    }

    public async ValueTask DisposeAsync() => await StopAllAsync().ConfigureAwait(false);

    private static string Key(TabletEndpoint tablet, long id) => $"{tablet.Keyspace}/{tablet.Shard}/{id}";

    private sealed record Owned(string Key, TabletEndpoint Tablet, StreamRecord Stream, LeaseKeeper Lease, CancellationTokenSource Cancel, Task Runner);
}
