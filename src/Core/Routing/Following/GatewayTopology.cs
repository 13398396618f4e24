using Durable.Core.KeyRanges;
using System.Collections.Immutable;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Routing.Following;

/// <summary>
/// The topology a gateway routes by, followed live through one etcd watch on the topology root: the routing rules
/// (applied straight from the watch event, so a rule change reaches the gateway within the watch's latency, well under
/// 1 s), the keyspaces with their databases, sharded flag and VSchema tables, and every cell's tablets (re-read when a
/// keyspace, shard, VSchema, cell or tablet record changes). <see cref="Current"/> is swapped atomically; readers keep
/// the snapshot they started with. While etcd is unreachable the last snapshot stays in force: the watch reconnects
/// on its own (<see cref="EtcdConnection.WatchAsync"/>), and after a compaction or a watch error everything is re-read.
/// </summary>
public sealed class GatewayTopology : IGatewayTopology, IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly TopologyStore _store;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _waitersLock = new();
    private readonly List<(long Revision, TaskCompletionSource Done)> _waiters = [];
    private readonly string _rulesKey;
    private readonly string _mirrorKey;
    private readonly string _keyspacesPrefix;
    private readonly string _cellsPrefix;
    private Task? _loop;
    private RoutingSnapshot? _current;
    private IReadOnlyList<TabletRecord> _tablets = [];
    private long _seenRevision;

    public GatewayTopology(TopologyStore store, ILogger<GatewayTopology>? logger = null)
    {
        _store = store;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _rulesKey = store.RoutingRulesKey;
        _mirrorKey = store.MirrorRulesKey();
        _keyspacesPrefix = store.Options.GlobalRoot + "/keyspaces/";
        _cellsPrefix = store.Options.GlobalRoot + "/cells/";
    }

    /// <summary>The snapshot; only valid once <see cref="Ready"/> has completed.</summary>
    public RoutingSnapshot Current => Volatile.Read(ref _current) ?? throw new InvalidOperationException("The gateway topology is not loaded yet: await Ready first.");

    public IReadOnlyList<TabletRecord> Tablets => Volatile.Read(ref _tablets);

    /// <summary>Completes once rules, keyspaces and tablets are loaded (the gateway accepts no connection before).</summary>
    public Task Ready => _ready.Task;

    /// <summary>The etcd revision everything in <see cref="Current"/> and <see cref="Tablets"/> reflects.</summary>
    public long SeenRevision => Interlocked.Read(ref _seenRevision);

    /// <summary>Raised after the tablets list changed (the backend picker probes new tablets at once).</summary>
    public event Action? TabletsChanged;

    /// <summary>Starts following; <see cref="Ready"/> completes after the first full read.</summary>
    public void Start()
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("The gateway topology was already started.");
        }

        _loop = FollowAsync(_stop.Token);
    }

    /// <summary>
    /// Completes once the gateway has seen every topology change up to <paramref name="revision"/> (an etcd store
    /// revision, e.g. the one a switch wrote its routing rules at): the snapshot's rules are then at least that new.
    /// </summary>
    public Task WaitForRevisionAsync(long revision, CancellationToken ct)
    {
        if (_ready.Task.IsCompleted && SeenRevision >= revision)
        {
            return Task.CompletedTask;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waitersLock)
        {
            if (_ready.Task.IsCompleted && SeenRevision >= revision)
            {
                return Task.CompletedTask;
            }

            _waiters.Add((revision, done));
        }

        return ct.CanBeCanceled ? done.Task.WaitAsync(ct) : done.Task;
    }

    public async ValueTask DisposeAsync()
    {
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
    }

    private async Task FollowAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var revision = await LoadAllAsync(ct).ConfigureAwait(false);
                await WatchFromAsync(revision, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // etcd unreachable or a record unreadable: keep serving the last snapshot and read everything again.
                _logger.LogWarning("Gateway topology under {Root}: {Problem}; keeping the last snapshot and re-reading in {Delay}s.",
                    _store.Options.Root, e.Message, RetryDelay.TotalSeconds);
                await Task.Delay(RetryDelay, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads rules, keyspaces and tablets; returns the store revision the watch must resume after.</summary>
    private async Task<long> LoadAllAsync(CancellationToken ct)
    {
        // The rules' range answer carries the store revision: anything written later is delivered by the watch.
        var rulesRange = await _store.Etcd.RangeAsync(System.Text.Encoding.UTF8.GetBytes(_rulesKey), ct: ct).ConfigureAwait(false);
        var rulesKv = rulesRange.Kvs.Count > 0 ? rulesRange.Kvs[0] : null;
        var rules = rulesKv is null ? RoutingRules.Empty : RoutingRules.Parse(rulesKv.ValueString);
        var (keyspaces, tablets) = await ReadKeyspacesAndTabletsAsync(ct).ConfigureAwait(false);

        // Read at the rules' revision, so a mirror change after it is delivered by the watch like any other.
        var mirrorRange = await _store.Etcd.RangeAsync(System.Text.Encoding.UTF8.GetBytes(_mirrorKey), revision: rulesRange.Revision, ct: ct).ConfigureAwait(false);
        var mirror = mirrorRange.Kvs.Count > 0 ? MirrorRules.Parse(mirrorRange.Kvs[0].ValueString) : MirrorRules.Empty;
        Publish(new RoutingSnapshot(rules, rulesKv?.ModRevision ?? 0, keyspaces) { Mirror = mirror }, tablets, rulesRange.Revision);
        if (_ready.TrySetResult())
        {
            _logger.LogInformation("Gateway topology under {Root} loaded at revision {Revision}: {Keyspaces} keyspaces, {Tablets} tablets, {Rules} routing rules.",
                _store.Options.Root, rulesRange.Revision, keyspaces.Count, tablets.Count, rules.Rules.Count);
        }

        return rulesRange.Revision;
    }

    private async Task WatchFromAsync(long revision, CancellationToken ct)
    {
        await foreach (var batch in _store.Etcd.WatchAsync(_store.Options.Root.TrimEnd('/') + "/", prefix: true, startRevision: revision + 1, ct: ct).ConfigureAwait(false))
        {
            if (batch.Compacted)
            {
                // Events were lost: the state is whatever etcd holds now.
                _logger.LogWarning("Gateway topology watch under {Root} met a compaction; re-reading everything.", _store.Options.Root);
                return;
            }

            var rulesEvent = default(EtcdEvent);
            var mirrorEvent = default(EtcdEvent);
            var reread = false;
            var last = revision;
            foreach (var e in batch.Events)
            {
                var key = e.Kv.KeyString;
                last = Math.Max(last, e.Kv.ModRevision);
                if (key == _rulesKey)
                {
                    rulesEvent = e;
                }
                else if (key == _mirrorKey)
                {
                    mirrorEvent = e;
                }
                else if (AffectsKeyspacesOrTablets(key))
                {
                    reread = true;
                }
            }

            last = Math.Max(last, batch.Revision);
            var current = Current;
            var snapshot = current;
            if (rulesEvent is not null)
            {
                snapshot = snapshot with
                {
                    Rules = rulesEvent.Type == EtcdEventType.Delete ? RoutingRules.Empty : RoutingRules.Parse(rulesEvent.Kv.ValueString),
                    RulesRevision = rulesEvent.Kv.ModRevision,
                };
            }

            if (mirrorEvent is not null)
            {
                snapshot = snapshot with
                {
                    Mirror = mirrorEvent.Type == EtcdEventType.Delete ? MirrorRules.Empty : MirrorRules.Parse(mirrorEvent.Kv.ValueString),
                };
            }

            var tablets = Tablets;
            if (reread)
            {
                var (keyspaces, read) = await ReadKeyspacesAndTabletsAsync(ct).ConfigureAwait(false);
                snapshot = snapshot with { Keyspaces = keyspaces };
                tablets = read;
            }

            Publish(snapshot, tablets, last);
            revision = last;
        }
    }

    private bool AffectsKeyspacesOrTablets(string key) =>
        (key.StartsWith(_keyspacesPrefix, StringComparison.Ordinal)
         && (key.EndsWith("/Keyspace", StringComparison.Ordinal) || key.EndsWith("/VSchema", StringComparison.Ordinal) || key.EndsWith("/Shard", StringComparison.Ordinal)))
        || key.StartsWith(_cellsPrefix, StringComparison.Ordinal)
        || (key.EndsWith("/Tablet", StringComparison.Ordinal) && key.Contains("/tablets/", StringComparison.Ordinal));

    private async Task<(IReadOnlyDictionary<string, RoutedKeyspace> Keyspaces, IReadOnlyList<TabletRecord> Tablets)> ReadKeyspacesAndTabletsAsync(CancellationToken ct)
    {
        var tablets = await _store.GetTabletsAsync(ct: ct).ConfigureAwait(false);
        var keyspaces = ImmutableDictionary.CreateBuilder<string, RoutedKeyspace>(StringComparer.Ordinal);
        foreach (var keyspace in await _store.GetKeyspacesAsync(ct).ConfigureAwait(false))
        {
            var vschemaJson = await _store.GetVSchemaJsonAsync(keyspace.Name, ct).ConfigureAwait(false);
            var vschema = vschemaJson is null ? null : VSchemaDocument.Parse(vschemaJson.Value);
            var tables = vschema is null
                ? ImmutableHashSet<string>.Empty
                : vschema.Tables.Keys.ToImmutableHashSet(StringComparer.Ordinal);
            var shards = (await _store.GetShardsAsync(keyspace.Name, ct).ConfigureAwait(false))
                .Select(s => s.Value.Name)
                // Key-range order: the hex of the start sorts as its bytes do ("" first).
                .OrderBy(name => KeyRange.TryParseShard(name, out var range, out _) ? Convert.ToHexString(range.Start) : name, StringComparer.Ordinal)
                .ToList();

            // The tablets' database is vt_<keyspace> by convention; a tablet record says what it really is.
            var dbName = tablets.FirstOrDefault(t => t.Keyspace == keyspace.Name && t.TabletType == TabletType.Primary)?.DbName
                         ?? tablets.FirstOrDefault(t => t.Keyspace == keyspace.Name)?.DbName
                         ?? "vt_" + keyspace.Name;
            keyspaces[keyspace.Name] = new RoutedKeyspace(keyspace.Name, dbName, keyspace.Sharded, tables) { VSchema = vschema, Shards = shards };
        }

        return (keyspaces.ToImmutable(), tablets);
    }

    private void Publish(RoutingSnapshot snapshot, IReadOnlyList<TabletRecord> tablets, long revision)
    {
        var tabletsChanged = !ReferenceEquals(tablets, Volatile.Read(ref _tablets));
        Volatile.Write(ref _tablets, tablets);
        Volatile.Write(ref _current, snapshot);
        List<TaskCompletionSource>? released = null;
        lock (_waitersLock)
        {
            if (revision > Interlocked.Read(ref _seenRevision))
            {
                Interlocked.Exchange(ref _seenRevision, revision);
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Revision <= revision)
                {
                    (released ??= []).Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        released?.ForEach(d => d.TrySetResult());
        if (tabletsChanged)
        {
            TabletsChanged?.Invoke();
        }
    }
}
