using System.Collections.Concurrent;
using System.Net.Sockets;
using Durable.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Routing.Following;

/// <summary>
/// Picks a backend tablet from the followed topology, as vtgate's tablet gateway does for an unsharded keyspace:
/// PRIMARY is the shard's primary tablet; REPLICA/RDONLY a tablet of that type that the background probe found
/// reachable, replicating and within the lag limit, in the gateway's cell when one there serves, spread round-robin
/// over the serving ones. Health comes from a probe loop (every <see cref="BackendPickerOptions.ProbeInterval"/>) so
/// <see cref="PickAsync"/> does no I/O. For a sharded keyspace <see cref="PickShardAsync"/> does the same within one shard.
/// </summary>
public sealed class BackendPicker : IBackendPicker, IAsyncDisposable
{
    private const string NotProbedYet = "not probed yet";

    private readonly IGatewayTopology _topology;
    private readonly ITabletHealthProbe _probe;
    private readonly BackendPickerOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, string?> _problems = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private Task? _loop;
    private int _next;

    public BackendPicker(IGatewayTopology topology, ITabletHealthProbe probe, BackendPickerOptions? options = null, ILogger<BackendPicker>? logger = null)
    {
        _topology = topology;
        _probe = probe;
        _options = options ?? new BackendPickerOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        if (topology is GatewayTopology followed)
        {
            followed.TabletsChanged += ProbeSoon;
        }
    }

    /// <summary>Probes every tablet once (so the first picks know their health), then keeps probing in the background.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("The backend picker was already started.");
        }

        await ProbeAllAsync(ct).ConfigureAwait(false);
        _loop = ProbeLoopAsync(_stop.Token);
    }

    /// <summary>The last probe's verdict on a tablet: null when it serves, else why not.</summary>
    public string? ProblemOf(string alias) => _problems.TryGetValue(alias, out var problem) ? problem : NotProbedYet;

    public ValueTask<BackendEndpoint> PickAsync(KeyspaceTarget target, CancellationToken ct)
    {
        if (!_topology.Current.Keyspaces.TryGetValue(target.Keyspace, out var keyspace))
        {
            throw new GatewaySqlException(GatewaySqlException.BadDb, "42000",
                $"Unknown database '{target.Keyspace}': no such keyspace; keyspaces: {string.Join(", ", _topology.Current.Keyspaces.Keys.Order(StringComparer.Ordinal))}");
        }

        if (keyspace.Sharded && keyspace.Shards.Count > 0)
        {
            // A statement naming no table (SELECT 1, SET, SHOW VARIABLES) with a sharded session keyspace: any shard
            // answers it, as vtgate sends it to one; table statements are planned per shard (PickShardAsync).
            return PickShardAsync(target, keyspace.Shards[0], ct);
        }

        var tablets = _topology.Tablets;
        return target.Type == TabletType.Primary
            ? ValueTask.FromResult(PickPrimary(tablets, target, keyspace, null))
            : ValueTask.FromResult(PickServing(tablets, target, keyspace, null));
    }

    public ValueTask<BackendEndpoint> PickShardAsync(KeyspaceTarget target, string shard, CancellationToken ct)
    {
        if (!_topology.Current.Keyspaces.TryGetValue(target.Keyspace, out var keyspace))
        {
            throw new GatewaySqlException(GatewaySqlException.BadDb, "42000",
                $"Unknown database '{target.Keyspace}': no such keyspace; keyspaces: {string.Join(", ", _topology.Current.Keyspaces.Keys.Order(StringComparer.Ordinal))}");
        }

        var tablets = _topology.Tablets;
        return target.Type == TabletType.Primary
            ? ValueTask.FromResult(PickPrimary(tablets, target, keyspace, shard))
            : ValueTask.FromResult(PickServing(tablets, target, keyspace, shard));
    }

    public async ValueTask DisposeAsync()
    {
        if (_topology is GatewayTopology followed)
        {
            followed.TabletsChanged -= ProbeSoon;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // stopping is the point
            }
        }

        _stop.Dispose();
        _wake.Dispose();
    }

    /// <summary>
    /// The primary is taken as the topology says, whatever the last probe saw: a probe seconds old must not refuse
    /// writes to a primary that is back, and a primary that is really down gives the client the server's own error.
    /// </summary>
    private static BackendEndpoint PickPrimary(IReadOnlyList<TabletRecord> tablets, KeyspaceTarget target, RoutedKeyspace keyspace, string? shard)
    {
        foreach (var tablet in tablets)
        {
            if (tablet.Keyspace == target.Keyspace && tablet.TabletType == TabletType.Primary && (shard is null || tablet.Shard == shard))
            {
                return Endpoint(tablet, keyspace);
            }
        }

        throw new GatewaySqlException(GatewaySqlException.Unknown, "HY000",
            $"No PRIMARY tablet of keyspace '{target.Keyspace}'{(shard is null ? "" : $" shard {shard}")} is registered; tablets of the keyspace: {Describe(tablets, target.Keyspace, _ => null)}.");
    }

    private BackendEndpoint PickServing(IReadOnlyList<TabletRecord> tablets, KeyspaceTarget target, RoutedKeyspace keyspace, string? shard)
    {
        // Two passes without allocating: count the serving tablets (in the cell first), then take the n-th.
        var inCell = 0;
        var anywhere = 0;
        foreach (var tablet in tablets)
        {
            if (Serves(tablet, target, shard))
            {
                anywhere++;
                if (tablet.Cell == _options.Cell)
                {
                    inCell++;
                }
            }
        }

        if (anywhere == 0)
        {
            var typeName = TabletTypes.Name(target.Type);
            throw new GatewaySqlException(GatewaySqlException.Unknown, "HY000",
                $"No healthy {typeName} tablet of keyspace '{target.Keyspace}'{(shard is null ? "" : $" shard {shard}")} within the {_options.MaxReplicationLag.TotalSeconds:0.#}s lag limit; " +
                $"tablets of the keyspace: {Describe(tablets, target.Keyspace, t => t.TabletType != target.Type ? $"not {typeName}" : ProblemOf(t.Alias))}. " +
                $"Read from '{target.Keyspace}' (the primary) or retry once a {typeName.ToLowerInvariant()} is serving.");
        }

        var onlyCell = inCell > 0;
        var n = (int)((uint)Interlocked.Increment(ref _next) % (uint)(onlyCell ? inCell : anywhere));
        foreach (var tablet in tablets)
        {
            if (Serves(tablet, target, shard) && (!onlyCell || tablet.Cell == _options.Cell) && n-- == 0)
            {
                return Endpoint(tablet, keyspace);
            }
        }

        throw new InvalidOperationException("unreachable: the serving tablets were counted on the same list");
    }

    private bool Serves(TabletRecord tablet, KeyspaceTarget target, string? shard) =>
        tablet.Keyspace == target.Keyspace && (shard is null || tablet.Shard == shard) && tablet.TabletType == target.Type && _problems.TryGetValue(tablet.Alias, out var problem) && problem is null;

    private static BackendEndpoint Endpoint(TabletRecord tablet, RoutedKeyspace keyspace) =>
        new(tablet.Alias, tablet.Keyspace, tablet.Shard, tablet.TabletType, tablet.Host, tablet.Port, string.IsNullOrEmpty(tablet.DbName) ? keyspace.DbName : tablet.DbName);

    private static string Describe(IReadOnlyList<TabletRecord> tablets, string keyspace, Func<TabletRecord, string?> problem)
    {
        var mine = tablets.Where(t => t.Keyspace == keyspace).ToList();
        return mine.Count == 0
            ? "none"
            : string.Join(", ", mine.Select(t => $"{t.Alias} {t.Type} (cell {t.Cell}: {problem(t) ?? "serving"})"));
    }

    private void ProbeSoon()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (Exception e) when (e is SemaphoreFullException or ObjectDisposedException)
        {
            // a wake-up is already pending, or the picker is stopping
        }
    }

    private async Task ProbeLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await _wake.WaitAsync(_options.ProbeInterval, ct).ConfigureAwait(false);
            try
            {
                await ProbeAllAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning("Probing the gateway's tablets failed: {Problem}; the last verdicts stay.", e.Message);
            }
        }
    }

    /// <summary>Probes every tablet at once and records each verdict (null: serving).</summary>
    private async Task ProbeAllAsync(CancellationToken ct)
    {
        var tablets = _topology.Tablets;
        var verdicts = await Task.WhenAll(tablets.Select(t => CheckAsync(t, ct))).ConfigureAwait(false);
        for (var i = 0; i < tablets.Count; i++)
        {
            var before = _problems.TryGetValue(tablets[i].Alias, out var was) ? was : NotProbedYet;
            _problems[tablets[i].Alias] = verdicts[i];
            if (before != verdicts[i] && (before is null || verdicts[i] is null))
            {
                _logger.LogInformation("Tablet {Alias} ({Type} of {Keyspace}) {State}.", tablets[i].Alias, tablets[i].Type, tablets[i].Keyspace,
                    verdicts[i] is null ? "serves again" : "stops serving: " + verdicts[i]);
            }
        }

        foreach (var alias in _problems.Keys)
        {
            if (!tablets.Any(t => t.Alias == alias))
            {
                _problems.TryRemove(alias, out _);
            }
        }
    }

    /// <summary>The same verdicts as <see cref="TabletPicker"/>'s: reachable; for replicas, replicating and within the lag limit.</summary>
    private async Task<string?> CheckAsync(TabletRecord tablet, CancellationToken ct)
    {
        TabletHealth health;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ProbeTimeout);
        try
        {
            health = await _probe.ProbeAsync(tablet, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"no answer within {_options.ProbeTimeout.TotalSeconds:0.#}s";
        }
        catch (Exception e) when (e is IOException or SocketException or TopologyException or InvalidOperationException)
        {
            return "probe failed: " + e.Message;
        }

        if (!health.Reachable)
        {
            return "unreachable" + (health.Problem is null ? "" : $" ({health.Problem})");
        }

        if (tablet.TabletType == TabletType.Primary)
        {
            return null;
        }

        if (health.ReplicationRunning == false)
        {
            return "replication is not running" + (health.Problem is null ? "" : $" ({health.Problem})");
        }

        return health.LagSeconds is { } lag && lag > _options.MaxReplicationLag.TotalSeconds
            ? $"replication lag {lag:0.#}s exceeds {_options.MaxReplicationLag.TotalSeconds:0.#}s"
            : null;
    }
}
