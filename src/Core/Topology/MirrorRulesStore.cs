using Durable.Topology.Etcd;

namespace Durable.Topology;

/// <summary>
/// The mirror rules record in etcd, beside the routing rules (<c>{global}/MirrorRules</c>, where Vitess keeps its own):
/// read, compare-and-swap write, and a retrying change, as <see cref="TopologyStore"/> does for the routing rules.
/// </summary>
public static class MirrorRulesStore
{
    public static string MirrorRulesKey(this TopologyStore store) => $"{store.Options.GlobalRoot}/MirrorRules";

    /// <summary>The mirror rules and their revision (0 when none were ever written: the rules are empty).</summary>
    public static async Task<Versioned<MirrorRules>> GetMirrorRulesAsync(this TopologyStore store, CancellationToken ct = default)
    {
        var kv = await store.Etcd.GetAsync(store.MirrorRulesKey(), ct).ConfigureAwait(false);
        return kv is null ? new Versioned<MirrorRules>(MirrorRules.Empty, 0) : new Versioned<MirrorRules>(MirrorRules.Parse(kv.ValueString), kv.ModRevision);
    }

    /// <summary>Writes mirror rules if they are still at <paramref name="expectedModRevision"/> (0: never written).</summary>
    public static Task<long> SaveMirrorRulesAsync(this TopologyStore store, MirrorRules rules, long expectedModRevision, KeyspaceLock? underLock = null, CancellationToken ct = default)
    {
        var key = store.MirrorRulesKey();
        return store.CommitAsync(
            [expectedModRevision == 0 ? EtcdCompare.Absent(key) : EtcdCompare.ModRevisionIs(key, expectedModRevision)],
            [EtcdOp.Put(key, rules.ToJson())], underLock, "write the mirror rules", ct);
    }

    /// <summary>
    /// Changes the mirror rules without losing a concurrent change: <paramref name="change"/> gets the current rules and
    /// is applied again on the latest ones whenever someone else wrote in between. Nothing is written when the change
    /// leaves the rules as they were (a repeated removal costs no revision).
    /// </summary>
    public static async Task<Versioned<MirrorRules>> UpdateMirrorRulesAsync(
        this TopologyStore store, Func<MirrorRules, MirrorRules> change, KeyspaceLock? underLock = null, CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await store.GetMirrorRulesAsync(ct).ConfigureAwait(false);
            var next = change(current.Value);
            if (next.ToJson() == current.Value.ToJson())
            {
                return current;
            }

            try
            {
                var revision = await store.SaveMirrorRulesAsync(next, current.ModRevision, underLock, ct).ConfigureAwait(false);
                return new Versioned<MirrorRules>(next, revision);
            }
            catch (TopologyConflictException) when (attempt < 100)
            {
                // someone else changed the rules: apply the change to theirs
            }
        }
    }
}
