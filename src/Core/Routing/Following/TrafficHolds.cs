using System.Diagnostics;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Routing.Following;

/// <summary>
/// The gateway's side of the cutover hold protocol (vtgate's keyspace-events buffering): registers the gateway on an
/// etcd lease, follows the hold records through a watch, and for a hold that is holding, holds new statements on its
/// tables (under both keyspaces' names) and acknowledges it. When the hold ends (committed or rolled back) it waits
/// until the followed topology has reached the routing rules the switch ended with, then releases every waiter, which
/// routes again: onto the new routing after a commit, the old after a rollback. It never releases on an end it has
/// not seen: if etcd is unreachable, held statements fail at their limits instead (the switch may have committed).
/// </summary>
public sealed class TrafficHolds : ITrafficHolds, IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly TrafficHoldStore _store;
    private readonly IGatewayTopology _topology;
    private readonly TrafficHoldsOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private readonly Dictionary<string, Hold> _byKey = new(StringComparer.Ordinal);
    private Hold[]? _active; // null while nothing is held: WaitIfHeld's only cost then is this volatile read
    private int _held;
    private LeaseKeeper? _lease;
    private Task? _follow;
    private Task? _register;

    public TrafficHolds(TrafficHoldStore store, IGatewayTopology topology, TrafficHoldsOptions options, ILogger<TrafficHolds>? logger = null)
    {
        _store = store;
        _topology = topology;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _store.GatewayKey(options.Name); // a bad name fails here, naming it, before anything is written
    }

    /// <summary>Completes once the gateway is registered and the holds active now are loaded (and held).</summary>
    public Task Ready => _ready.Task;

    /// <summary>Statements waiting on a hold now.</summary>
    public int HeldCount => Volatile.Read(ref _held);

    /// <summary>The ids of the holds this gateway holds now.</summary>
    public IReadOnlyList<string> ActiveHoldIds => [.. (Volatile.Read(ref _active) ?? []).Select(h => h.Record.Id)];

    /// <summary>Registers the gateway and loads the active holds; <see cref="Ready"/> completes after both.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (_follow is not null)
        {
            throw new InvalidOperationException("The traffic holds were already started.");
        }

        await RegisterAsync(ct).ConfigureAwait(false);
        _register = KeepRegisteredAsync(_stop.Token);
        _follow = FollowAsync(_stop.Token);
        await _ready.Task.WaitAsync(ct).ConfigureAwait(false);
    }

    public Task? WaitIfHeld(IReadOnlyList<QualifiedTable> tables, CancellationToken ct)
    {
        var active = Volatile.Read(ref _active);
        if (active is null)
        {
            return null;
        }

        var hold = Covering(active, tables);
        return hold is null ? null : HoldAsync(hold, ct);
    }

    public bool IsHeld(IReadOnlyList<QualifiedTable> tables)
    {
        var active = Volatile.Read(ref _active);
        return active is not null && Covering(active, tables) is not null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var loop in new[] { _follow, _register })
        {
            if (loop is not null)
            {
                try
                {
                    await loop.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // stopping is the point
                }
            }
        }

        lock (_gate)
        {
            foreach (var hold in _byKey.Values)
            {
                hold.Released.TrySetException(new GatewaySqlException(GatewaySqlException.LockWaitTimeout, "HY000",
                    $"The gateway is stopping while tables {hold.TablesText} are held for the traffic switch of workflow {hold.Record.WorkflowName}; the statement did not run: retry it through another gateway."));
                hold.Dispose();
            }

            _byKey.Clear();
            Volatile.Write(ref _active, null);
        }

        if (_lease is not null)
        {
            await _lease.DisposeAsync().ConfigureAwait(false); // revoking it drops the registration now
        }

        _stop.Dispose();
    }

    private static Hold? Covering(Hold[] active, IReadOnlyList<QualifiedTable> tables)
    {
        for (var i = 0; i < tables.Count; i++)
        {
            foreach (var hold in active)
            {
                if (hold.Tables.Contains(tables[i]))
                {
                    return hold;
                }
            }
        }

        return null;
    }

    /// <summary>One held statement, within the three limits.</summary>
    private async Task HoldAsync(Hold hold, CancellationToken ct)
    {
        var limits = _options.Limits;
        if (hold.Expired)
        {
            throw hold.ExpiredError(limits);
        }

        if (Interlocked.Increment(ref _held) > limits.MaxHeld)
        {
            Interlocked.Decrement(ref _held);
            throw new GatewaySqlException(GatewaySqlException.LockWaitTimeout, "HY000",
                $"The gateway already holds {limits.MaxHeld} statements (the limit, Gateway:BufferSize) while the traffic of workflow {hold.Record.WorkflowName} " +
                $"switches; this one on {hold.TablesText} was not held and did not run: retry it.");
        }

        try
        {
            await hold.Released.Task.WaitAsync(limits.Window, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new GatewaySqlException(GatewaySqlException.LockWaitTimeout, "HY000",
                $"The statement on {hold.TablesText} was held {limits.Window.TotalSeconds:0.#}s (the limit, Gateway:BufferWindowSeconds) while the traffic of workflow " +
                $"{hold.Record.WorkflowName} switches, and did not run: retry it.");
        }
        finally
        {
            Interlocked.Decrement(ref _held);
        }
    }

    // ---- Registration ----

    private async Task RegisterAsync(CancellationToken ct)
    {
        var (leaseId, ttl) = await _store.Store.Etcd.LeaseGrantAsync(_options.RegistrationTtl, ct).ConfigureAwait(false);
        var lease = new LeaseKeeper(_store.Store.Etcd, leaseId, ttl);
        try
        {
            await _store.RegisterGatewayAsync(new GatewayRegistration(_options.Name, _options.Cell, DateTimeOffset.UtcNow), leaseId, ct).ConfigureAwait(false);
        }
        catch
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var old = Interlocked.Exchange(ref _lease, lease);
        if (old is not null)
        {
            await old.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A lease lost (etcd unreachable for a whole TTL) is replaced, and the registration and acks written again.</summary>
    private async Task KeepRegisteredAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await _lease!.Lost.WaitAsync(ct).ConfigureAwait(false);
            _logger.LogWarning("Gateway {Name}: its etcd registration lapsed; registering again.", _options.Name);
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await RegisterAsync(ct).ConfigureAwait(false);
                    foreach (var hold in Volatile.Read(ref _active) ?? [])
                    {
                        await AcknowledgeAsync(hold.Record, ct).ConfigureAwait(false);
                    }

                    break;
                }
                catch (Exception e) when (e is EtcdException or TopologyException)
                {
                    _logger.LogWarning("Gateway {Name}: registering again failed: {Problem}; retrying in {Delay}s.", _options.Name, e.Message, RetryDelay.TotalSeconds);
                    await Task.Delay(RetryDelay, ct).ConfigureAwait(false);
                }
            }
        }
    }

    // ---- Following the hold records ----

    private async Task FollowAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var (holds, revision) = await _store.ReadHoldsAsync(ct).ConfigureAwait(false);
                Reconcile(holds, revision);
                _ready.TrySetResult();
                await foreach (var batch in _store.Store.Etcd.WatchAsync(_store.HoldsPrefix, prefix: true, startRevision: revision + 1, ct: ct).ConfigureAwait(false))
                {
                    if (batch.Compacted)
                    {
                        _logger.LogWarning("Gateway {Name}: the hold watch met a compaction; re-reading the holds.", _options.Name);
                        break;
                    }

                    foreach (var e in batch.Events)
                    {
                        if (e.Type == EtcdEventType.Delete)
                        {
                            End(e.Kv.KeyString, null, e.Kv.ModRevision);
                        }
                        else
                        {
                            Apply(e.Kv.KeyString, TopologyJson.Deserialize<TrafficHoldRecord>(e.Kv.ValueString, e.Kv.KeyString));
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Holds stay as they are: nothing is released on an end not seen.
                _logger.LogWarning("Gateway {Name}: following the holds failed: {Problem}; re-reading in {Delay}s.", _options.Name, e.Message, RetryDelay.TotalSeconds);
                await Task.Delay(RetryDelay, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>After a full read: apply every record; a hold whose record is gone has ended.</summary>
    private void Reconcile(IReadOnlyList<Versioned<TrafficHoldRecord>> holds, long revision)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var hold in holds)
        {
            var key = _store.HoldKey(hold.Value.TargetKeyspace, hold.Value.Workflow);
            keys.Add(key);
            Apply(key, hold.Value);
        }

        string[] gone;
        lock (_gate)
        {
            gone = [.. _byKey.Keys.Where(k => !keys.Contains(k))];
        }

        foreach (var key in gone)
        {
            End(key, null, revision);
        }
    }

    private void Apply(string key, TrafficHoldRecord record)
    {
        if (!record.IsHolding)
        {
            End(key, record.Id, record.RulesRevision);
            return;
        }

        Hold? replaced = null;
        Hold hold;
        lock (_gate)
        {
            if (_byKey.TryGetValue(key, out var existing))
            {
                if (existing.Record.Id == record.Id)
                {
                    return;
                }

                replaced = existing; // an older hold of the workflow whose end was never seen: this one supersedes it
            }

            hold = new Hold(record);
            _byKey[key] = hold;
            Publish();
        }

        if (replaced is not null)
        {
            ReleaseWhenReached(key, replaced, _topology is GatewayTopology t ? t.SeenRevision : 0);
        }

        hold.StartExpiry(_options.Limits, _logger);
        _logger.LogInformation("Gateway {Name}: holding {Tables} for the traffic switch of workflow {Workflow} (hold {Id}).",
            _options.Name, hold.TablesText, record.WorkflowName, record.Id);
        _ = AcknowledgeAsync(record, _stop.Token);
    }

    /// <summary>The hold of <paramref name="key"/> ended (of id <paramref name="id"/>, or whatever it was when null).</summary>
    private void End(string key, string? id, long rulesRevision)
    {
        Hold? hold;
        lock (_gate)
        {
            if (!_byKey.TryGetValue(key, out hold) || (id is not null && hold.Record.Id != id) || hold.Ending)
            {
                return;
            }

            hold.Ending = true;
        }

        ReleaseWhenReached(key, hold, rulesRevision);
    }

    /// <summary>Releases the hold's waiters once the topology has the rules the switch ended with, never before.</summary>
    private void ReleaseWhenReached(string key, Hold hold, long rulesRevision)
    {
        _ = ReleaseAsync();

        async Task ReleaseAsync()
        {
            var clock = Stopwatch.StartNew();
            try
            {
                await _topology.WaitForRevisionAsync(rulesRevision, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return; // stopping: DisposeAsync fails what is held
            }

            lock (_gate)
            {
                if (_byKey.TryGetValue(key, out var current) && ReferenceEquals(current, hold))
                {
                    _byKey.Remove(key);
                }

                Publish();
            }

            hold.Released.TrySetResult();
            hold.Dispose();
            _logger.LogInformation("Gateway {Name}: released {Tables} of workflow {Workflow} (hold {Id}) at rules revision {Revision}, {Ms} ms after its end was seen.",
                _options.Name, hold.TablesText, hold.Record.WorkflowName, hold.Record.Id, rulesRevision, clock.ElapsedMilliseconds);
        }
    }

    private async Task AcknowledgeAsync(TrafficHoldRecord record, CancellationToken ct)
    {
        try
        {
            await _store.AcknowledgeAsync(record.Id, _options.Name, _lease!.LeaseId, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EtcdException or TopologyException)
        {
            // The switch waits its bound for this gateway and goes on; the guards protect its clients meanwhile.
            _logger.LogWarning("Gateway {Name}: could not acknowledge hold {Id} of workflow {Workflow}: {Problem}.", _options.Name, record.Id, record.WorkflowName, e.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>Publishes the holds being held (under <see cref="_gate"/>): null when none, for the hot path.</summary>
    private void Publish() => Volatile.Write(ref _active, _byKey.Count == 0 ? null : [.. _byKey.Values]);

    /// <summary>One hold as this gateway holds it.</summary>
    private sealed class Hold : IDisposable
    {
        private readonly CancellationTokenSource _expiry = new();
        private volatile bool _expired;
        private int _disposed;

        public Hold(TrafficHoldRecord record)
        {
            Record = record;
            Tables = [.. record.Tables.SelectMany(t => new[] { new QualifiedTable(record.SourceKeyspace, t), new QualifiedTable(record.TargetKeyspace, t) })];
            TablesText = string.Join(", ", record.Tables.Select(t => $"{record.SourceKeyspace}.{t}"));
        }

        public TrafficHoldRecord Record { get; }

        public HashSet<QualifiedTable> Tables { get; }

        public string TablesText { get; }

        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Its end was seen; it is released once the topology reaches the end's rules.</summary>
        public bool Ending { get; set; }

        /// <summary>Held longer than the switch may last: what it held has failed, and it holds nothing more.</summary>
        public bool Expired => _expired;

        public GatewaySqlException ExpiredError(TrafficHoldLimits limits) =>
            new(GatewaySqlException.LockWaitTimeout, "HY000",
                $"The traffic switch of workflow {Record.WorkflowName} has held {TablesText} longer than {limits.MaxSwitchDuration.TotalSeconds:0.#}s " +
                "(the limit, Gateway:BufferMaxSwitchSeconds) and its end has not reached this gateway; the statement did not run: retry it.");

        /// <summary>After the switch's maximum duration (counted from when this gateway began holding), fails everything held.</summary>
        public void StartExpiry(TrafficHoldLimits limits, ILogger logger)
        {
            _ = ExpireAsync();

            async Task ExpireAsync()
            {
                try
                {
                    await Task.Delay(limits.MaxSwitchDuration, _expiry.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                _expired = true;
                if (Released.TrySetException(ExpiredError(limits)))
                {
                    logger.LogWarning("Hold {Id} of workflow {Workflow} on {Tables} outlasted {Seconds}s: what it held failed, and new statements on them fail until its end is seen.",
                        Record.Id, Record.WorkflowName, TablesText, limits.MaxSwitchDuration.TotalSeconds);
                }
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _expiry.Cancel();
                _expiry.Dispose();
            }
        }
    }
}
