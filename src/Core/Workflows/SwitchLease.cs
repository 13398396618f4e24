using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// A switch (or Complete, or Cancel) found that the etcd lease it acts under is gone: it was paused (SIGSTOP, a long GC)
/// or cut off from etcd for longer than the lease's TTL, and another process may already be finishing or undoing the
/// command from its journal. It must do nothing more.
/// </summary>
public sealed class SwitchLeaseLostException(string message) : Exception(message);

/// <summary>
/// The etcd lease a traffic command holds while it acts: the locks of the keyspaces it changes, all on short leases
/// (<see cref="MoveTablesSettings.SwitchLeaseTtl"/>) so that when the holder dies they lapse quickly and a live process
/// ends the command from its journal (<see cref="InterruptedCommandRecovery"/>). Before each step that changes MySQL
/// or the topology the holder checks, in one etcd transaction comparing every lock key, that the locks are still its own;
/// a holder that was only paused past its lease finds them gone and stops there.
/// </summary>
public sealed class SwitchLease : IAsyncDisposable
{
    /// <summary>
    /// A check this soon after a lock-compared write that succeeded is already answered: the locks' leases were alive
    /// then, renewed every third of their TTL, and cannot lapse within this. Saves the round trips of the checks that
    /// follow a journal save while writes are refused.
    /// </summary>
    private static readonly TimeSpan ConfirmedFor = TimeSpan.FromMilliseconds(100);

    private readonly TopologyStore _store;
    private readonly List<KeyspaceLock> _locks;
    private long _confirmedAt; // Stopwatch timestamp of the last lock-compared write or check that succeeded; 0: none

    private SwitchLease(TopologyStore store, List<KeyspaceLock> locks, string holder)
    {
        _store = store;
        _locks = locks;
        Holder = holder;
    }

    public string Holder { get; }

    public IReadOnlyList<KeyspaceLock> Locks => _locks;

    /// <summary>
    /// Locks <paramref name="keyspaces"/> in name order (two commands locking in opposite directions cannot deadlock),
    /// each on a lease of <paramref name="ttl"/>, waiting up to <paramref name="wait"/> for a current holder.
    /// </summary>
    public static async Task<SwitchLease> AcquireAsync(
        TopologyStore store, IEnumerable<string> keyspaces, string holder, string reason, TimeSpan ttl, TimeSpan wait, CancellationToken ct)
    {
        var locks = new List<KeyspaceLock>();
        try
        {
            foreach (var ks in keyspaces.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                locks.Add(await store.LockKeyspaceAsync(ks, holder, reason, ttl, wait, ct).ConfigureAwait(false));
            }

            return new SwitchLease(store, locks, holder);
        }
        catch
        {
            foreach (var l in Enumerable.Reverse(locks))
            {
                await l.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    public KeyspaceLock For(string keyspace) =>
        _locks.FirstOrDefault(l => l.Keyspace == keyspace) ?? throw new InvalidOperationException($"the lease of {Holder} does not cover keyspace '{keyspace}'");

    /// <summary>
    /// Throws <see cref="SwitchLeaseLostException"/> unless every lock key is still the one this holder created (one
    /// etcd transaction of compares). Called before each step that changes MySQL or the topology.
    /// </summary>
    public async Task EnsureHeldAsync(string step, CancellationToken ct)
    {
        if (_locks.FirstOrDefault(l => l.IsLost) is { } lost)
        {
            throw Lost(step, lost);
        }

        if (_confirmedAt != 0 && System.Diagnostics.Stopwatch.GetElapsedTime(_confirmedAt) < ConfirmedFor)
        {
            return;
        }

        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = await _store.Etcd.TxnAsync(_locks.Select(l => l.Guard), [], null, ct).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Lost(step, null);
        }

        Confirmed(sent);
    }

    /// <summary>A lock-compared write under this lease, sent at <paramref name="sentAt"/>, succeeded (see <see cref="ConfirmedFor"/>).</summary>
    internal void Confirmed(long sentAt) => _confirmedAt = sentAt;

    private SwitchLeaseLostException Lost(string step, KeyspaceLock? which) =>
        new($"{Holder} lost its lease on {(which is null ? string.Join(" and ", _locks.Select(l => l.Description)) : which.Description)} before the step '{step}' " +
            "(paused or cut off from etcd past the lease's TTL): another process finishes or undoes the command from its journal, and this one does nothing more");

    public async ValueTask DisposeAsync()
    {
        foreach (var l in Enumerable.Reverse(_locks))
        {
            await l.DisposeAsync().ConfigureAwait(false);
        }
    }
}
