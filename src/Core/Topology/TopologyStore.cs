using System.Runtime.CompilerServices;
using System.Text;
using Durable.Topology.Etcd;

namespace Durable.Topology;

/// <summary>Where the topology lives in etcd and the knobs of its locks and leased server ids.</summary>
public sealed class TopologyOptions
{
    /// <summary>Root of everything; the global topology is <c>{Root}/global</c>, cell <c>c</c> is <c>{Root}/c</c>.</summary>
    public string Root { get; init; } = "/durable";

    /// <summary>Binlog server ids are leased from this range; it must not contain any tablet's server id.</summary>
    public uint ServerIdMin { get; init; } = 1_000_000_000;

    public uint ServerIdMax { get; init; } = 1_000_099_999;

    /// <summary>Keyspace locks expire this long after their holder stops renewing them (e.g. it was killed).</summary>
    public TimeSpan LockTtl { get; init; } = TimeSpan.FromSeconds(30);

    public string GlobalRoot => Root.TrimEnd('/') + "/global";

    public string CellRoot(string cell) => Root.TrimEnd('/') + "/" + cell;
}

/// <summary>
/// The topology records in etcd: cells, keyspaces, shards, tablets, VSchemas, routing rules, mounts, keyspace locks and
/// leased server ids. Records are JSON values; every update is a compare-and-swap on the record's mod revision, and
/// writes under a keyspace lock also compare the lock key, so neither a racing writer nor an expired lock holder can
/// overwrite a change it has not seen.
/// </summary>
public sealed class TopologyStore
{
    public TopologyStore(EtcdConnection etcd, TopologyOptions? options = null)
    {
        Etcd = etcd;
        Options = options ?? new TopologyOptions();
        if (Options.ServerIdMin == 0 || Options.ServerIdMin > Options.ServerIdMax)
        {
            throw new ArgumentException($"Server id range {Options.ServerIdMin}..{Options.ServerIdMax} is empty or starts at 0.");
        }
    }

    public EtcdConnection Etcd { get; }

    public TopologyOptions Options { get; }

    // ---- Key layout (mirrors Vitess's: global records under the global root, tablets under their cell) ----

    public string CellKey(string cell) => $"{Options.GlobalRoot}/cells/{cell}/CellInfo";

    public string KeyspaceKey(string keyspace) => $"{Options.GlobalRoot}/keyspaces/{keyspace}/Keyspace";

    public string KeyspacePrefix(string keyspace) => $"{Options.GlobalRoot}/keyspaces/{keyspace}/";

    public string ShardKey(string keyspace, string shard) => $"{Options.GlobalRoot}/keyspaces/{keyspace}/shards/{shard}/Shard";

    public string VSchemaKey(string keyspace) => $"{Options.GlobalRoot}/keyspaces/{keyspace}/VSchema";

    public string RoutingRulesKey => $"{Options.GlobalRoot}/RoutingRules";

    public string MountKey(string name) => MountKey(name, MountTypes.Vitess);

    /// <summary>Mounts live where Vitess keeps them (<c>ExternalClusters/vitess/NAME</c>); unmanaged servers beside them.</summary>
    public string MountKey(string name, string type) => $"{Options.GlobalRoot}/ExternalClusters/{type}/{name}";

    public string LockKey(string keyspace) => $"{Options.GlobalRoot}/locks/keyspaces/{keyspace}";

    /// <summary>Named locks (Vitess's LockName), e.g. "customer/commerce2customer" for one workflow's VDiff.</summary>
    public string NamedLockKey(string name) => $"{Options.GlobalRoot}/locks/names/{name}";

    public string ServerIdKey(uint id) => $"{Options.GlobalRoot}/serverids/{id}";

    public string TabletKey(string alias)
    {
        var (cell, uid) = TabletRecord.ParseAlias(alias);
        return $"{Options.CellRoot(cell)}/tablets/{TabletRecord.MakeAlias(cell, uid)}/Tablet";
    }

    // ---- Generic record access ----

    public async Task<Versioned<T>?> ReadAsync<T>(string key, CancellationToken ct = default)
    {
        var kv = await Etcd.GetAsync(key, ct).ConfigureAwait(false);
        return kv is null ? null : new Versioned<T>(TopologyJson.Deserialize<T>(kv.ValueString, key), kv.ModRevision);
    }

    /// <summary>Reads every record under a prefix whose key ends with <paramref name="leafName"/>.</summary>
    public async Task<IReadOnlyList<Versioned<T>>> ReadAllAsync<T>(string prefix, string leafName, CancellationToken ct = default)
    {
        var (kvs, _) = await Etcd.GetPrefixAsync(prefix, ct: ct).ConfigureAwait(false);
        return [.. kvs.Where(kv => kv.KeyString.EndsWith("/" + leafName, StringComparison.Ordinal))
            .Select(kv => new Versioned<T>(TopologyJson.Deserialize<T>(kv.ValueString, kv.KeyString), kv.ModRevision))];
    }

    /// <summary>Writes a record that must not exist yet; a second creator gets a conflict error.</summary>
    public Task<long> CreateAsync<T>(string key, T value, KeyspaceLock? underLock = null, CancellationToken ct = default) =>
        CommitAsync([EtcdCompare.Absent(key)], [EtcdOp.Put(key, TopologyJson.Serialize(value))], underLock, $"create {key}", ct);

    /// <summary>
    /// Replaces a record only if it is still at <paramref name="expectedModRevision"/> (what the caller read);
    /// otherwise throws <see cref="TopologyConflictException"/> and writes nothing.
    /// </summary>
    public Task<long> UpdateAsync<T>(string key, T value, long expectedModRevision, KeyspaceLock? underLock = null, CancellationToken ct = default) =>
        CommitAsync([EtcdCompare.ModRevisionIs(key, expectedModRevision)], [EtcdOp.Put(key, TopologyJson.Serialize(value))], underLock, $"update {key}", ct);

    /// <summary>
    /// Read-modify-write that never loses a concurrent update: <paramref name="mutate"/> gets the current value (null
    /// if absent) and the write is retried on the latest value whenever someone else wrote in between.
    /// </summary>
    public async Task<Versioned<T>> MutateAsync<T>(
        string key, Func<T?, T> mutate, KeyspaceLock? underLock = null, CancellationToken ct = default)
        where T : class
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await ReadAsync<T>(key, ct).ConfigureAwait(false);
            var next = mutate(current?.Value);
            var compare = current is null ? EtcdCompare.Absent(key) : EtcdCompare.ModRevisionIs(key, current.ModRevision);
            try
            {
                var revision = await CommitAsync([compare], [EtcdOp.Put(key, TopologyJson.Serialize(next))], underLock, $"update {key}", ct).ConfigureAwait(false);
                return new Versioned<T>(next, revision);
            }
            catch (TopologyConflictException) when (attempt < 100)
            {
                // someone wrote first: re-read and apply our change on top of theirs
            }
        }
    }

    public Task<long> DeleteAsync(string key, long expectedModRevision, KeyspaceLock? underLock = null, CancellationToken ct = default) =>
        CommitAsync([EtcdCompare.ModRevisionIs(key, expectedModRevision)], [EtcdOp.Delete(key)], underLock, $"delete {key}", ct);

    /// <summary>
    /// Applies <paramref name="ops"/> atomically if all <paramref name="compares"/> hold (and, under a lock, the lock is
    /// still this holder's). On failure nothing is written and the error says whether the lock was lost or a record
    /// changed underneath.
    /// </summary>
    public async Task<long> CommitAsync(
        IReadOnlyList<EtcdCompare> compares, IReadOnlyList<EtcdOp> ops, KeyspaceLock? underLock, string what, CancellationToken ct = default)
    {
        var guards = underLock is null ? compares : [.. compares, underLock.Guard];
        var failure = underLock is null ? null : new[] { EtcdOp.Get(underLock.Key) };
        var result = await Etcd.TxnAsync(guards, ops, failure, ct).ConfigureAwait(false);
        if (result.Succeeded)
        {
            return result.Revision;
        }

        if (underLock is not null)
        {
            var lockKv = result.Ranges.Count > 0 && result.Ranges[0].Kvs.Count > 0 ? result.Ranges[0].Kvs[0] : null;
            if (lockKv is null || lockKv.CreateRevision != underLock.CreateRevision)
            {
                throw new TopologyLockLostException(
                    $"Cannot {what}: the lock on {underLock.Description} held by '{underLock.Record.Holder}' has expired or been taken over; nothing was written.");
            }
        }

        throw new TopologyConflictException($"Cannot {what}: it was changed by someone else since it was read; nothing was written. Re-read and retry.");
    }

    // ---- Typed reads ----

    public Task<Versioned<CellInfo>?> GetCellAsync(string cell, CancellationToken ct = default) => ReadAsync<CellInfo>(CellKey(cell), ct);

    public async Task<IReadOnlyList<CellInfo>> GetCellsAsync(CancellationToken ct = default) =>
        [.. (await ReadAllAsync<CellInfo>($"{Options.GlobalRoot}/cells/", "CellInfo", ct).ConfigureAwait(false)).Select(v => v.Value)];

    /// <summary>The keyspace record; <paramref name="keyspace"/> may be a <see cref="KeyspaceReference"/> (read through its mount).</summary>
    public async Task<Versioned<KeyspaceRecord>?> GetKeyspaceAsync(string keyspace, CancellationToken ct = default)
    {
        if (KeyspaceReference.IsReference(keyspace))
        {
            var (mount, store, reference) = await ThroughMountAsync(keyspace, ct).ConfigureAwait(false);
            if (mount is { IsUnmanaged: true })
            {
                return mount.Keyspace == reference.Keyspace ? new Versioned<KeyspaceRecord>(new KeyspaceRecord(keyspace, false), 0) : null;
            }

            var record = await Mounted(mount, () => store!.GetKeyspaceAsync(reference.Keyspace, ct)).ConfigureAwait(false);
            return record is null ? null : record with { Value = record.Value with { Name = keyspace } };
        }

        return await ReadAsync<KeyspaceRecord>(KeyspaceKey(keyspace), ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<KeyspaceRecord>> GetKeyspacesAsync(CancellationToken ct = default) =>
        [.. (await ReadAllAsync<KeyspaceRecord>($"{Options.GlobalRoot}/keyspaces/", "Keyspace", ct).ConfigureAwait(false))
            .Select(v => v.Value).OrderBy(k => k.Name, StringComparer.Ordinal)];

    public async Task<Versioned<ShardRecord>?> GetShardAsync(string keyspace, string shard, CancellationToken ct = default) =>
        KeyspaceReference.IsReference(keyspace)
            ? (await GetShardsAsync(keyspace, ct).ConfigureAwait(false)).FirstOrDefault(s => s.Value.Name == shard)
            : await ReadAsync<ShardRecord>(ShardKey(keyspace, shard), ct).ConfigureAwait(false);

    /// <summary>The keyspace's shards; <paramref name="keyspace"/> may be a <see cref="KeyspaceReference"/> (read through its mount).</summary>
    public async Task<IReadOnlyList<Versioned<ShardRecord>>> GetShardsAsync(string keyspace, CancellationToken ct = default)
    {
        if (KeyspaceReference.IsReference(keyspace))
        {
            var (mount, store, reference) = await ThroughMountAsync(keyspace, ct).ConfigureAwait(false);
            if (mount is { IsUnmanaged: true })
            {
                return mount.Keyspace == reference.Keyspace
                    ? [new Versioned<ShardRecord>(new ShardRecord(keyspace, "0", "", UnmanagedAlias(mount), true, []), 0)]
                    : [];
            }

            var shards = await Mounted(mount, () => store!.GetShardsAsync(reference.Keyspace, ct)).ConfigureAwait(false);
            return [.. shards.Select(s => s with { Value = s.Value with { Keyspace = keyspace } })];
        }

        return await ReadAllAsync<ShardRecord>($"{Options.GlobalRoot}/keyspaces/{keyspace}/shards/", "Shard", ct).ConfigureAwait(false);
    }

    public Task<Versioned<TabletRecord>?> GetTabletAsync(string alias, CancellationToken ct = default) =>
        ReadAsync<TabletRecord>(TabletKey(alias), ct);

    /// <summary>Tablets of the given cells (all known cells when none are given), optionally of one keyspace/shard.</summary>
    public async Task<IReadOnlyList<TabletRecord>> GetTabletsAsync(
        IReadOnlyCollection<string>? cells = null, string? keyspace = null, string? shard = null, CancellationToken ct = default)
    {
        if (KeyspaceReference.IsReference(keyspace))
        {
            return await ReferencedTabletsAsync(cells, keyspace!, shard, ct).ConfigureAwait(false);
        }

        var cellNames = cells is { Count: > 0 } ? cells : (await GetCellsAsync(ct).ConfigureAwait(false)).Select(c => c.Name).ToList();
        var tablets = new List<TabletRecord>();
        foreach (var cell in cellNames)
        {
            var records = await ReadAllAsync<TabletRecord>($"{Options.CellRoot(cell)}/tablets/", "Tablet", ct).ConfigureAwait(false);
            tablets.AddRange(records.Select(r => r.Value)
                .Where(t => (keyspace is null || t.Keyspace == keyspace) && (shard is null || t.Shard == shard)));
        }

        return [.. tablets.OrderBy(t => t.Cell, StringComparer.Ordinal).ThenBy(t => t.Uid)];
    }

    /// <summary>The keyspace's VSchema JSON, or null when none was applied.</summary>
    public async Task<Versioned<string>?> GetVSchemaJsonAsync(string keyspace, CancellationToken ct = default)
    {
        if (KeyspaceReference.IsReference(keyspace))
        {
            var (mount, store, reference) = await ThroughMountAsync(keyspace, ct).ConfigureAwait(false);
            return mount is { IsUnmanaged: true } ? null : await Mounted(mount, () => store!.GetVSchemaJsonAsync(reference.Keyspace, ct)).ConfigureAwait(false);
        }

        var kv = await Etcd.GetAsync(VSchemaKey(keyspace), ct).ConfigureAwait(false);
        return kv is null ? null : new Versioned<string>(kv.ValueString, kv.ModRevision);
    }

    /// <summary>The routing rules and their revision (0 when none were ever written: the rules are empty).</summary>
    public async Task<Versioned<RoutingRules>> GetRoutingRulesAsync(CancellationToken ct = default)
    {
        var kv = await Etcd.GetAsync(RoutingRulesKey, ct).ConfigureAwait(false);
        return kv is null ? new Versioned<RoutingRules>(RoutingRules.Empty, 0) : new Versioned<RoutingRules>(RoutingRules.Parse(kv.ValueString), kv.ModRevision);
    }

    /// <summary>Writes routing rules if they are still at <paramref name="expectedModRevision"/> (0: never written).</summary>
    public Task<long> SaveRoutingRulesAsync(RoutingRules rules, long expectedModRevision, KeyspaceLock? underLock = null, CancellationToken ct = default) =>
        CommitAsync(
            [expectedModRevision == 0 ? EtcdCompare.Absent(RoutingRulesKey) : EtcdCompare.ModRevisionIs(RoutingRulesKey, expectedModRevision)],
            [EtcdOp.Put(RoutingRulesKey, rules.ToJson())], underLock, "write the routing rules", ct);

    /// <summary>
    /// Changes the routing rules without losing a concurrent change: <paramref name="change"/> gets the current rules
    /// and is applied again on the latest ones whenever someone else wrote in between.
    /// </summary>
    public async Task<Versioned<RoutingRules>> UpdateRoutingRulesAsync(
        Func<RoutingRules, RoutingRules> change, KeyspaceLock? underLock = null, CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await GetRoutingRulesAsync(ct).ConfigureAwait(false);
            var next = change(current.Value);
            try
            {
                var revision = await SaveRoutingRulesAsync(next, current.ModRevision, underLock, ct).ConfigureAwait(false);
                return new Versioned<RoutingRules>(next, revision);
            }
            catch (TopologyConflictException) when (attempt < 100)
            {
                // someone else changed the rules: apply the change to theirs
            }
        }
    }

    /// <summary>
    /// Changes a keyspace's VSchema JSON (null when it has none) with the same retry-on-conflict rule; the result is
    /// validated like ApplyVSchema and nothing is written when it is invalid.
    /// </summary>
    public async Task<Versioned<VSchemaDocument>> UpdateVSchemaAsync(
        string keyspace, Func<string?, string> change, KeyspaceLock? underLock = null, CancellationToken ct = default)
    {
        var key = VSchemaKey(keyspace);
        for (var attempt = 1; ; attempt++)
        {
            var current = await GetVSchemaJsonAsync(keyspace, ct).ConfigureAwait(false);
            var next = VSchemaDocument.Parse(change(current?.Value));
            try
            {
                var revision = await CommitAsync(
                    [current is null ? EtcdCompare.Absent(key) : EtcdCompare.ModRevisionIs(key, current.ModRevision)],
                    [EtcdOp.Put(key, next.ToJson())], underLock, $"update the VSchema of '{keyspace}'", ct).ConfigureAwait(false);
                return new Versioned<VSchemaDocument>(next, revision);
            }
            catch (TopologyConflictException) when (attempt < 100)
            {
                // someone else changed the VSchema: apply the change to theirs
            }
        }
    }

    /// <summary>
    /// The routing rules now and after every change, for resolvers that follow them. Survives etcd restarts; after a
    /// compaction it re-reads, so the latest rules are always delivered.
    /// </summary>
    public async IAsyncEnumerable<Versioned<RoutingRules>> WatchRoutingRulesAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        // One read gives both the rules and the store revision to watch from, so no change falls in between.
        var initial = await Etcd.RangeAsync(Encoding.UTF8.GetBytes(RoutingRulesKey), ct: ct).ConfigureAwait(false);
        var kv = initial.Kvs.Count > 0 ? initial.Kvs[0] : null;
        var revision = initial.Revision;
        yield return new Versioned<RoutingRules>(kv is null ? RoutingRules.Empty : RoutingRules.Parse(kv.ValueString), kv?.ModRevision ?? 0);
        await foreach (var batch in Etcd.WatchAsync(RoutingRulesKey, startRevision: revision + 1, ct: ct).ConfigureAwait(false))
        {
            if (batch.Compacted)
            {
                var latest = await GetRoutingRulesAsync(ct).ConfigureAwait(false);
                yield return latest;
                continue;
            }

            var last = batch.Events[^1];
            yield return last.Type == EtcdEventType.Delete
                ? new Versioned<RoutingRules>(RoutingRules.Empty, last.Kv.ModRevision)
                : new Versioned<RoutingRules>(RoutingRules.Parse(last.Kv.ValueString), last.Kv.ModRevision);
        }
    }

    /// <summary>A mount of either type (a name is unique across types).</summary>
    public async Task<Versioned<MountRecord>?> GetMountAsync(string name, CancellationToken ct = default) =>
        await ReadAsync<MountRecord>(MountKey(name, MountTypes.Vitess), ct).ConfigureAwait(false)
        ?? await ReadAsync<MountRecord>(MountKey(name, MountTypes.Unmanaged), ct).ConfigureAwait(false);

    public async Task<IReadOnlyList<MountRecord>> GetMountsAsync(CancellationToken ct = default)
    {
        var (kvs, _) = await Etcd.GetPrefixAsync($"{Options.GlobalRoot}/ExternalClusters/", ct: ct).ConfigureAwait(false);
        return [.. kvs.Select(kv => TopologyJson.Deserialize<MountRecord>(kv.ValueString, kv.KeyString)).OrderBy(m => m.Name, StringComparer.Ordinal)];
    }

    // ---- Keyspaces of mounted sources (KeyspaceReference) ----

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TopologyStore> _mountStores = new(StringComparer.Ordinal);

    /// <summary>
    /// The topology root a mount's topo_root names: Vitess gives the global root (<c>/vitess/global</c>), Durable's
    /// root is the parent of <c>global</c>; both spellings are accepted.
    /// </summary>
    public static string MountedRoot(string topoRoot)
    {
        var root = topoRoot.TrimEnd('/');
        return root.EndsWith("/global", StringComparison.Ordinal) ? root[..^"/global".Length] : root;
    }

    /// <summary>
    /// Resolves the mount of a reference, freshly read from etcd every time (unregistering a mount takes effect at
    /// once); for a vitess mount also a store on the mount's topology server and root (cached per server and root).
    /// </summary>
    public async Task<(MountRecord? Mount, TopologyStore? Store, KeyspaceReference Reference)> ThroughMountAsync(string keyspace, CancellationToken ct = default)
    {
        var reference = KeyspaceReference.Parse(keyspace);
        if (reference.Mount is null)
        {
            return (null, this, reference);
        }

        var mount = (await GetMountAsync(reference.Mount, ct).ConfigureAwait(false))?.Value
                    ?? throw new TopologyNotFoundException(
                        $"node doesn't exist: mount '{reference.Mount}' is not registered in this topology. Register it first: " +
                        $"durablectl Mount register --name {reference.Mount} --topo-type etcd2 --topo-server HOST:PORT --topo-root /ROOT (or RegisterExternalSource for a plain MySQL/MariaDB server).");
        if (mount.IsUnmanaged)
        {
            return (mount, null, reference);
        }

        var server = mount.TopoServer.Contains("://", StringComparison.Ordinal) ? mount.TopoServer : "http://" + mount.TopoServer;
        var root = MountedRoot(mount.TopoRoot);
        var store = _mountStores.GetOrAdd($"{server}|{root}", _ => new TopologyStore(new EtcdConnection(server), new TopologyOptions { Root = root }));
        return (mount, store, reference);
    }

    /// <summary>Reads from a mounted topology; an unreachable or wrong topology gets the seeds' answer and the fix.</summary>
    private static async Task<T> Mounted<T>(MountRecord? mount, Func<Task<T>> read)
    {
        if (mount is null)
        {
            return await read().ConfigureAwait(false);
        }

        try
        {
            return await read().ConfigureAwait(false);
        }
        catch (Exception e) when (e is EtcdException or HttpRequestException or TopologyException or TaskCanceledException)
        {
            throw new MountUnreachableException(mount, e);
        }
    }

    private static string UnmanagedAlias(MountRecord mount) => TabletRecord.MakeAlias(mount.Name, 1);

    private async Task<IReadOnlyList<TabletRecord>> ReferencedTabletsAsync(IReadOnlyCollection<string>? cells, string keyspace, string? shard, CancellationToken ct)
    {
        var (mount, store, reference) = await ThroughMountAsync(keyspace, ct).ConfigureAwait(false);
        // The caller's cells restrict every tablet; the reference's cells (--cells of a workflow) restrict the
        // replicas and rdonlys it may stream from, while the shard's one primary stays visible wherever it is: the
        // workflow reads the schema and positions there, and VDiff finds the source database through it.
        IReadOnlyCollection<string>? wanted = cells is { Count: > 0 } ? cells : null;
        bool InReferenceCells(TabletRecord t) => reference.Cells.Count == 0 || t.TabletType == TabletType.Primary || reference.Cells.Contains(t.Cell);

        IReadOnlyList<TabletRecord> tablets;
        if (mount is { IsUnmanaged: true })
        {
            if (mount.Keyspace != reference.Keyspace || shard is not (null or "0"))
            {
                return [];
            }

            var (cell, uid) = TabletRecord.ParseAlias(UnmanagedAlias(mount));
            tablets = [new TabletRecord(UnmanagedAlias(mount), cell, uid, reference.Keyspace, "0", "PRIMARY", mount.Host!, mount.Port ?? 3306,
                mount.DbName!, mount.User ?? "", mount.PasswordRef ?? "")];
            tablets = [.. tablets.Where(t => wanted is null || wanted.Contains(t.Cell))];
        }
        else
        {
            tablets = await Mounted(mount, () => store!.GetTabletsAsync(wanted, reference.Keyspace, shard, ct)).ConfigureAwait(false);
        }

        tablets = [.. tablets.Where(InReferenceCells)];

        // The records carry the reference as their keyspace (callers compare it with what they asked for) and, for a
        // mount with its own account, that account: the mounted records' references point at the other cluster's secrets.
        return [.. tablets.Select(t => t with
        {
            Keyspace = keyspace,
            User = mount?.User is { Length: > 0 } user ? user : t.User,
            PasswordRef = mount?.PasswordRef is { Length: > 0 } pw ? pw : t.PasswordRef,
        })];
    }

    // ---- Keyspace locks ----

    /// <summary>
    /// Takes the lock on a keyspace, waiting up to <paramref name="wait"/> for a current holder to release it or for
    /// its lease to expire. The lock lives on a lease renewed by this process; dispose (or unlock) to release it.
    /// </summary>
    public Task<KeyspaceLock> LockKeyspaceAsync(
        string keyspace, string holder, string reason, TimeSpan? ttl = null, TimeSpan? wait = null, CancellationToken ct = default)
    {
        TabletTypes.ValidateName("keyspace", keyspace);
        return LockAsync(keyspace, LockKey(keyspace), $"keyspace '{keyspace}'", holder, reason, ttl, wait, ct);
    }

    /// <summary>
    /// Takes a named lock (letters, digits, '_', '-', '.', '/'), the same way as a keyspace lock; used for locks that
    /// are not about one keyspace, such as one workflow's VDiff ("targetKs/workflow").
    /// </summary>
    public Task<KeyspaceLock> LockNameAsync(
        string name, string holder, string reason, TimeSpan? ttl = null, TimeSpan? wait = null, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 200 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/')))
        {
            throw new TopologyValidationException($"Invalid lock name '{name}': use letters, digits, '_', '-', '.' and '/'.");
        }

        return LockAsync(name, NamedLockKey(name), $"lock '{name}'", holder, reason, ttl, wait, ct);
    }

    private async Task<KeyspaceLock> LockAsync(
        string name, string key, string what, string holder, string reason, TimeSpan? ttl, TimeSpan? wait, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + (wait ?? TimeSpan.FromSeconds(30));
        var lockTtl = ttl ?? Options.LockTtl;
        while (true)
        {
            var (leaseId, grantedTtl) = await Etcd.LeaseGrantAsync(lockTtl, ct).ConfigureAwait(false);
            var record = new LockRecord(holder, reason, DateTimeOffset.UtcNow, grantedTtl, leaseId);
            var result = await Etcd.TxnAsync(
                [EtcdCompare.Absent(key)],
                [EtcdOp.Put(key, TopologyJson.Serialize(record), leaseId), EtcdOp.Get(key)],
                [EtcdOp.Get(key)],
                ct).ConfigureAwait(false);
            var kv = result.Ranges.Count > 0 && result.Ranges[0].Kvs.Count > 0 ? result.Ranges[0].Kvs[0] : null;
            if (result.Succeeded && kv is not null)
            {
                return new KeyspaceLock(name, what, key, kv.CreateRevision, record, new LeaseKeeper(Etcd, leaseId, grantedTtl));
            }

            await Etcd.LeaseRevokeAsync(leaseId, ct).ConfigureAwait(false);
            var current = kv is null ? null : TopologyJson.Deserialize<LockRecord>(kv.ValueString, key);
            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw new TopologyLockTimeoutException(
                    $"{char.ToUpperInvariant(what[0])}{what[1..]} is locked by '{current?.Holder}' ({current?.Reason}) since {current?.AcquiredAt:u}; gave up waiting. " +
                    "If that holder is dead, its lock expires within its TTL.");
            }

            // Wait for the lock key to go (unlock or lease expiry), but re-check at least once a second.
            using var waitCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            waitCts.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                await foreach (var batch in Etcd.WatchAsync(key, startRevision: (kv?.ModRevision ?? 0) + 1, ct: waitCts.Token).ConfigureAwait(false))
                {
                    if (batch.Compacted || batch.Events.Any(e => e.Type == EtcdEventType.Delete))
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // re-check
            }
        }
    }

    /// <summary>The current holder of a keyspace lock, or null when it is free.</summary>
    public async Task<LockRecord?> GetLockAsync(string keyspace, CancellationToken ct = default) =>
        (await ReadAsync<LockRecord>(LockKey(keyspace), ct).ConfigureAwait(false))?.Value;

    // ---- Leased binlog server ids ----

    /// <summary>
    /// Leases a replication server id no tablet uses and no other live process holds. The id is released when the
    /// result is disposed, or by etcd when this process stops renewing it.
    /// </summary>
    public async Task<LeasedServerId> LeaseServerIdAsync(string holder, TimeSpan? ttl = null, CancellationToken ct = default)
    {
        var tablets = await GetTabletsAsync(ct: ct).ConfigureAwait(false);
        var tabletIds = tablets.Select(t => (ulong)(t.ServerId ?? t.Uid)).ToHashSet();
        var conflicting = tabletIds.Where(id => id >= Options.ServerIdMin && id <= Options.ServerIdMax).ToList();
        if (conflicting.Count > 0)
        {
            throw new TopologyValidationException(
                $"The leased server id range {Options.ServerIdMin}..{Options.ServerIdMax} contains tablet server ids {string.Join(", ", conflicting)}; choose a range no tablet uses.");
        }

        var (held, _) = await Etcd.GetPrefixAsync($"{Options.GlobalRoot}/serverids/", keysOnly: true, ct: ct).ConfigureAwait(false);
        var taken = held.Select(kv => kv.KeyString[(kv.KeyString.LastIndexOf('/') + 1)..]).ToHashSet(StringComparer.Ordinal);
        var size = (ulong)Options.ServerIdMax - Options.ServerIdMin + 1;
        var start = (ulong)Random.Shared.NextInt64((long)size); // spread concurrent callers over the range
        var (leaseId, grantedTtl) = await Etcd.LeaseGrantAsync(ttl ?? TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        for (ulong i = 0; i < size && i < 10_000; i++)
        {
            var id = (uint)(Options.ServerIdMin + ((start + i) % size));
            if (taken.Contains(id.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                continue;
            }

            var key = ServerIdKey(id);
            var result = await Etcd.TxnAsync([EtcdCompare.Absent(key)], [EtcdOp.Put(key, holder, leaseId)], null, ct).ConfigureAwait(false);
            if (result.Succeeded)
            {
                return new LeasedServerId(id, new LeaseKeeper(Etcd, leaseId, grantedTtl));
            }
        }

        await Etcd.LeaseRevokeAsync(leaseId, ct).ConfigureAwait(false);
        throw new TopologyException($"No free server id in {Options.ServerIdMin}..{Options.ServerIdMax}: {taken.Count} are leased.");
    }
}
