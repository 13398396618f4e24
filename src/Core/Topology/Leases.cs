using System.Diagnostics;
using Durable.Topology.Etcd;

namespace Durable.Topology;

/// <summary>
/// Keeps one etcd lease alive by renewing it every third of its TTL, so whatever is attached to it (a lock, a
/// leased server id) lives exactly as long as this process does: if the process dies, renewals stop and etcd deletes
/// the keys when the TTL runs out. If renewals fail for a whole TTL, the lease is treated as lost.
/// </summary>
public sealed class LeaseKeeper : IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private int _disposed;

    public LeaseKeeper(EtcdConnection etcd, long leaseId, long ttlSeconds)
    {
        _etcd = etcd;
        LeaseId = leaseId;
        TtlSeconds = ttlSeconds;
        _loop = RunAsync(_stop.Token);
    }

    public long LeaseId { get; }

    public long TtlSeconds { get; }

    /// <summary>True once the lease is known to have expired (or could not be renewed for a whole TTL).</summary>
    public bool IsLost => _lost.Task.IsCompleted;

    /// <summary>Completes when the lease is lost, so holders can stop work that depended on it.</summary>
    public Task Lost => _lost.Task;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping is the point
        }

        try
        {
            // Revoking deletes the attached keys now instead of at TTL expiry.
            await _etcd.LeaseRevokeAsync(LeaseId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (EtcdException)
        {
            // etcd unreachable: the lease still expires on its own after its TTL.
        }

        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var sinceRenewal = Stopwatch.StartNew();
        var interval = TimeSpan.FromSeconds(Math.Max(0.5, TtlSeconds / 3.0));
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(interval, ct).ConfigureAwait(false);
            try
            {
                var ttl = await _etcd.LeaseKeepAliveOnceAsync(LeaseId, ct).ConfigureAwait(false);
                if (ttl <= 0)
                {
                    _lost.TrySetResult();
                    return;
                }

                sinceRenewal.Restart();
            }
            catch (EtcdException) when (!ct.IsCancellationRequested)
            {
                if (sinceRenewal.Elapsed.TotalSeconds >= TtlSeconds)
                {
                    _lost.TrySetResult();
                    return;
                }
            }
        }
    }
}

/// <summary>
/// A keyspace lock held through an etcd lease. Writes made under it are transactions that include <see cref="Guard"/>,
/// so once the lock has expired (the holder paused or died) or been taken over, those writes fail instead of landing.
/// </summary>
public sealed class KeyspaceLock : IAsyncDisposable
{
    private readonly LeaseKeeper _lease;

    internal KeyspaceLock(string keyspace, string description, string key, long createRevision, LockRecord record, LeaseKeeper lease)
    {
        Keyspace = keyspace;
        Description = description;
        Key = key;
        CreateRevision = createRevision;
        Record = record;
        _lease = lease;
    }

    /// <summary>The keyspace (or, for a named lock, the name) this lock is on.</summary>
    public string Keyspace { get; }

    /// <summary>"keyspace 'commerce'" or "lock 'customer/wf'", for messages.</summary>
    public string Description { get; }

    public string Key { get; }

    /// <summary>The revision at which this holder created the lock key; a new holder's key has another one.</summary>
    public long CreateRevision { get; }

    public LockRecord Record { get; }

    public bool IsLost => _lease.IsLost;

    public Task Lost => _lease.Lost;

    /// <summary>The compare every write under this lock carries: the lock key is still the one this holder made.</summary>
    public EtcdCompare Guard => EtcdCompare.CreateRevisionIs(Key, CreateRevision);

    /// <summary>Releases the lock now (revokes its lease, which deletes the lock key).</summary>
    public ValueTask UnlockAsync() => _lease.DisposeAsync();

    public ValueTask DisposeAsync() => _lease.DisposeAsync();
}

/// <summary>
/// A MySQL replication server id leased from etcd for one binlog connection. Two dumps with the same server id kill
/// each other, so ids come from a range no tablet uses and each is held by exactly one live process.
/// </summary>
public sealed class LeasedServerId : IAsyncDisposable
{
    private readonly LeaseKeeper _lease;

    internal LeasedServerId(uint serverId, LeaseKeeper lease)
    {
        ServerId = serverId;
        _lease = lease;
    }

    public uint ServerId { get; }

    public bool IsLost => _lease.IsLost;

    public Task Lost => _lease.Lost;

    public ValueTask DisposeAsync() => _lease.DisposeAsync();
}
