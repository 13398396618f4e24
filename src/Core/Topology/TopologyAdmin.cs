using System.Text.Json;
using System.Text.Json.Serialization;
using Durable.Core.KeyRanges;
using Durable.Topology.Etcd;

namespace Durable.Topology;

/// <summary>What AddTablet needs; <see cref="PasswordRef"/> is a reference (secret:NAME / env:NAME), never a password.</summary>
public sealed record AddTabletRequest(
    string Alias,
    string Keyspace,
    string Shard,
    string Type,
    string Host,
    int Port,
    string User,
    string PasswordRef,
    string? DbName = null,
    long? ServerId = null,
    bool AllowUpdate = false);

/// <summary>
/// A plain MySQL/MariaDB server adopted as a one-shard keyspace (<see cref="TopologyAdmin.RegisterUnmanagedKeyspaceAsync"/>).
/// <see cref="PasswordRef"/> is a reference (secret:NAME / env:NAME) to the password of <see cref="User"/>, the server's own
/// account with the filtered role's grants. <see cref="Cell"/>: default the topology's only cell; <see cref="Alias"/>:
/// default the cell and the next free uid.
/// </summary>
public sealed record UnmanagedKeyspaceRequest(
    string Keyspace,
    string Host,
    int Port,
    string DbName,
    string User,
    string PasswordRef,
    string? Cell = null,
    string? Alias = null,
    string SidecarDbName = "_vt");

/// <summary>The outcome of an Apply command: the document as stored (or as it would be, on a dry run).</summary>
public sealed record ApplyResult(string Json, bool DryRun, bool Written, long Revision);

/// <summary>
/// The vtctldclient-style admin commands as library calls (the HTTP API and durablectl call these). Each command
/// validates everything first and writes in a single etcd transaction, so a bad request writes nothing and two
/// racing commands cannot interleave half-way.
/// </summary>
public sealed class TopologyAdmin(TopologyStore store)
{
    public TopologyStore Store { get; } = store;

    // ---- Cells ----

    public async Task<CellInfo> CreateCellAsync(string cell, CancellationToken ct = default)
    {
        TabletTypes.ValidateName("cell", cell);
        var info = new CellInfo(cell, Store.Options.CellRoot(cell));
        try
        {
            await Store.CreateAsync(Store.CellKey(cell), info, ct: ct).ConfigureAwait(false);
        }
        catch (TopologyConflictException)
        {
            throw new TopologyValidationException($"Cell '{cell}' already exists.");
        }

        return info;
    }

    public Task<IReadOnlyList<CellInfo>> GetCellsAsync(CancellationToken ct = default) => Store.GetCellsAsync(ct);

    // ---- Keyspaces and shards ----

    /// <summary>
    /// Creates a keyspace, and with it the given shards. An unsharded keyspace gets shard "0" unless told otherwise;
    /// the shards of a sharded keyspace must cover the key space with no gap or overlap.
    /// </summary>
    public async Task<KeyspaceRecord> CreateKeyspaceAsync(
        string keyspace, bool sharded = false, IReadOnlyList<string>? shards = null, string sidecarDbName = "_vt", CancellationToken ct = default)
    {
        TabletTypes.ValidateName("keyspace", keyspace);
        TabletTypes.ValidateName("sidecar database", sidecarDbName);
        var shardNames = shards ?? (sharded ? [] : ["0"]);
        ValidateShardNames(keyspace, sharded, shardNames, requireCoverage: shardNames.Count > 0);
        var record = new KeyspaceRecord(keyspace, sharded, sidecarDbName);
        var compares = new List<EtcdCompare> { EtcdCompare.Absent(Store.KeyspaceKey(keyspace)) };
        var ops = new List<EtcdOp> { EtcdOp.Put(Store.KeyspaceKey(keyspace), TopologyJson.Serialize(record)) };
        foreach (var shard in shardNames)
        {
            compares.Add(EtcdCompare.Absent(Store.ShardKey(keyspace, shard)));
            ops.Add(EtcdOp.Put(Store.ShardKey(keyspace, shard), TopologyJson.Serialize(NewShard(keyspace, shard))));
        }

        try
        {
            await Store.CommitAsync(compares, ops, null, $"create keyspace '{keyspace}'", ct).ConfigureAwait(false);
        }
        catch (TopologyConflictException)
        {
            throw new TopologyValidationException($"Keyspace '{keyspace}' already exists (or one of its shards does); nothing was written.");
        }

        return record;
    }

    /// <summary>Deletes a keyspace; with <paramref name="recursive"/> also its shards, VSchema and tablets.</summary>
    public async Task DeleteKeyspaceAsync(string keyspace, bool recursive = false, CancellationToken ct = default)
    {
        var existing = await RequireKeyspaceAsync(keyspace, ct).ConfigureAwait(false);
        var shards = await Store.GetShardsAsync(keyspace, ct).ConfigureAwait(false);
        var tablets = await Store.GetTabletsAsync(keyspace: keyspace, ct: ct).ConfigureAwait(false);
        if (!recursive && (shards.Count > 0 || tablets.Count > 0))
        {
            throw new TopologyValidationException(
                $"Keyspace '{keyspace}' still has shards [{string.Join(", ", shards.Select(s => s.Value.Name))}] and {tablets.Count} tablet(s); " +
                "delete them first or pass recursive.");
        }

        var compares = new List<EtcdCompare> { EtcdCompare.ModRevisionIs(Store.KeyspaceKey(keyspace), existing.ModRevision) };
        compares.AddRange(shards.Select(s => EtcdCompare.ModRevisionIs(Store.ShardKey(keyspace, s.Value.Name), s.ModRevision)));
        var ops = new List<EtcdOp> { EtcdOp.DeletePrefix(Store.KeyspacePrefix(keyspace)) };
        ops.AddRange(tablets.Select(t => EtcdOp.Delete(Store.TabletKey(t.Alias))));
        await Store.CommitAsync(compares, ops, null, $"delete keyspace '{keyspace}'", ct).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<KeyspaceRecord>> GetKeyspacesAsync(CancellationToken ct = default) => Store.GetKeyspacesAsync(ct);

    public async Task<KeyspaceRecord> GetKeyspaceAsync(string keyspace, CancellationToken ct = default) =>
        (await RequireKeyspaceAsync(keyspace, ct).ConfigureAwait(false)).Value;

    /// <summary>Adds one shard; it may not overlap an existing shard of the keyspace (gaps are allowed while building up).</summary>
    public async Task<ShardRecord> CreateShardAsync(string keyspace, string shard, CancellationToken ct = default)
    {
        var ks = await RequireKeyspaceAsync(keyspace, ct).ConfigureAwait(false);
        var existing = await Store.GetShardsAsync(keyspace, ct).ConfigureAwait(false);
        if (existing.Any(s => s.Value.Name == shard))
        {
            throw new TopologyValidationException($"Shard {keyspace}/{shard} already exists.");
        }

        ValidateShardNames(keyspace, ks.Value.Sharded, [.. existing.Select(s => s.Value.Name), shard], requireCoverage: false);
        var record = NewShard(keyspace, shard);
        try
        {
            // The keyspace compare makes a concurrent DeleteKeyspace and CreateShard unable to both succeed.
            await Store.CommitAsync(
                [EtcdCompare.Absent(Store.ShardKey(keyspace, shard)), EtcdCompare.ModRevisionIs(Store.KeyspaceKey(keyspace), ks.ModRevision)],
                [EtcdOp.Put(Store.ShardKey(keyspace, shard), TopologyJson.Serialize(record))], null, $"create shard {keyspace}/{shard}", ct).ConfigureAwait(false);
        }
        catch (TopologyConflictException)
        {
            throw new TopologyValidationException($"Shard {keyspace}/{shard} already exists (or the keyspace changed meanwhile); nothing was written.");
        }

        return record;
    }

    /// <summary>Problems with the keyspace's shard layout (gaps, overlaps); empty when every keyspace id has one shard.</summary>
    public async Task<IReadOnlyList<string>> CheckShardCoverageAsync(string keyspace, CancellationToken ct = default)
    {
        await RequireKeyspaceAsync(keyspace, ct).ConfigureAwait(false);
        var shards = await Store.GetShardsAsync(keyspace, ct).ConfigureAwait(false);
        return ShardCoverage.Check(shards.Select(s => s.Value.Name));
    }

    /// <summary>Adds (<paramref name="remove"/>: removes) tables to a shard's denied list for one tablet type.</summary>
    public async Task<ShardRecord> UpdateDeniedTablesAsync(
        string keyspace, string shard, TabletType tabletType, IReadOnlyList<string> tables, bool remove, KeyspaceLock? underLock = null, CancellationToken ct = default)
    {
        if (await Store.GetShardAsync(keyspace, shard, ct).ConfigureAwait(false) is null)
        {
            throw new TopologyNotFoundException($"Shard {keyspace}/{shard} does not exist.");
        }

        var typeName = TabletTypes.Name(tabletType);
        var updated = await Store.MutateAsync<ShardRecord>(Store.ShardKey(keyspace, shard), current =>
        {
            var controls = current!.TabletControls.ToList();
            var index = controls.FindIndex(c => c.TabletType == typeName);
            var denied = index >= 0 ? controls[index].DeniedTables.ToList() : [];
            denied = remove ? [.. denied.Except(tables, StringComparer.Ordinal)] : [.. denied.Union(tables, StringComparer.Ordinal)];
            var control = new TabletControl(typeName, index >= 0 ? controls[index].Cells : [], denied, index >= 0 && controls[index].Frozen);
            if (index >= 0)
            {
                controls[index] = control;
            }
            else
            {
                controls.Add(control);
            }

            controls.RemoveAll(c => c.DeniedTables.Count == 0 && !c.Frozen);
            return current with { TabletControls = controls };
        }, underLock, ct).ConfigureAwait(false);
        return updated.Value;
    }

    // ---- Tablets ----

    /// <summary>
    /// Registers a tablet. Its keyspace and shard must exist; its cell is created if new. A PRIMARY becomes the shard's
    /// primary (refused if the shard already has another one).
    /// </summary>
    public async Task<TabletRecord> AddTabletAsync(AddTabletRequest request, CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await AddTabletOnceAsync(request, ct).ConfigureAwait(false);
            }
            catch (TopologyConflictException) when (attempt < 5)
            {
                // Another tablet of the same shard was added at the same moment: validate again on fresh records.
            }
        }
    }

    private async Task<TabletRecord> AddTabletOnceAsync(AddTabletRequest request, CancellationToken ct)
    {
        var (cell, uid) = TabletRecord.ParseAlias(request.Alias);
        TabletTypes.ValidateName("cell", cell);
        TabletType type;
        try
        {
            type = TabletTypes.Parse(request.Type);
        }
        catch (ArgumentException e)
        {
            throw new TopologyValidationException($"Tablet {request.Alias}: {e.Message}");
        }

        if (string.IsNullOrWhiteSpace(request.Host))
        {
            throw new TopologyValidationException($"Tablet {request.Alias} needs a host.");
        }

        if (request.Port is < 1 or > 65535)
        {
            throw new TopologyValidationException($"Tablet {request.Alias} has port {request.Port}; a port is 1-65535.");
        }

        if (string.IsNullOrWhiteSpace(request.User))
        {
            throw new TopologyValidationException($"Tablet {request.Alias} needs a MySQL user.");
        }

        CredentialReference.Validate(request.PasswordRef, $"tablet {request.Alias}");
        var keyspace = await Store.GetKeyspaceAsync(request.Keyspace, ct).ConfigureAwait(false);
        if (keyspace is null)
        {
            var known = await Store.GetKeyspacesAsync(ct).ConfigureAwait(false);
            throw new TopologyValidationException(
                $"Tablet {request.Alias} is for unknown keyspace '{request.Keyspace}'; known keyspaces: {(known.Count == 0 ? "none" : string.Join(", ", known.Select(k => k.Name)))}. Nothing was written.");
        }

        var shard = await Store.GetShardAsync(request.Keyspace, request.Shard, ct).ConfigureAwait(false);
        if (shard is null)
        {
            var shards = await Store.GetShardsAsync(request.Keyspace, ct).ConfigureAwait(false);
            throw new TopologyValidationException(
                $"Tablet {request.Alias} is for unknown shard '{request.Shard}' of keyspace '{request.Keyspace}'; its shards: {(shards.Count == 0 ? "none" : string.Join(", ", shards.Select(s => s.Value.Name)))}. Nothing was written.");
        }

        var tablet = new TabletRecord(
            TabletRecord.MakeAlias(cell, uid), cell, uid, request.Keyspace, request.Shard, TabletTypes.Name(type), request.Host, request.Port,
            request.DbName ?? $"vt_{request.Keyspace}", request.User, request.PasswordRef, request.ServerId);

        var tabletKey = Store.TabletKey(tablet.Alias);
        var existing = await Store.GetTabletAsync(tablet.Alias, ct).ConfigureAwait(false);
        if (existing is not null && !request.AllowUpdate)
        {
            throw new TopologyValidationException($"Tablet {tablet.Alias} already exists ({existing.Value.Keyspace}/{existing.Value.Shard} {existing.Value.Type}); pass AllowUpdate to replace it.");
        }

        var compares = new List<EtcdCompare>
        {
            existing is null ? EtcdCompare.Absent(tabletKey) : EtcdCompare.ModRevisionIs(tabletKey, existing.ModRevision),
            EtcdCompare.ModRevisionIs(Store.ShardKey(request.Keyspace, request.Shard), shard.ModRevision),
        };
        var ops = new List<EtcdOp> { EtcdOp.Put(tabletKey, TopologyJson.Serialize(tablet)) };
        if (await Store.GetCellAsync(cell, ct).ConfigureAwait(false) is null)
        {
            compares.Add(EtcdCompare.Absent(Store.CellKey(cell)));
            ops.Add(EtcdOp.Put(Store.CellKey(cell), TopologyJson.Serialize(new CellInfo(cell, Store.Options.CellRoot(cell)))));
        }

        var wasPrimary = existing is not null && existing.Value.TabletType == TabletType.Primary;
        var updatedShard = shard.Value;
        if (type == TabletType.Primary)
        {
            if (shard.Value.PrimaryAlias is { } primary && primary != tablet.Alias)
            {
                throw new TopologyValidationException(
                    $"Shard {request.Keyspace}/{request.Shard} already has primary {primary}; delete or retype it before adding {tablet.Alias} as PRIMARY.");
            }

            updatedShard = shard.Value with { PrimaryAlias = tablet.Alias, IsPrimaryServing = true };
        }
        else if (wasPrimary && shard.Value.PrimaryAlias == tablet.Alias)
        {
            updatedShard = shard.Value with { PrimaryAlias = null, IsPrimaryServing = false };
        }

        // The shard is written even when unchanged: its new revision makes a DeleteKeyspace that listed the tablets
        // before this one was added fail (and retry) instead of leaving this tablet behind.
        ops.Add(EtcdOp.Put(Store.ShardKey(request.Keyspace, request.Shard), TopologyJson.Serialize(updatedShard)));
        await Store.CommitAsync(compares, ops, null, $"add tablet {tablet.Alias}", ct).ConfigureAwait(false);
        return tablet;
    }

    /// <summary>Deletes tablets by alias, all or none; a PRIMARY only with <paramref name="allowPrimary"/>.</summary>
    public async Task DeleteTabletsAsync(IReadOnlyList<string> aliases, bool allowPrimary = false, CancellationToken ct = default)
    {
        var compares = new List<EtcdCompare>();
        var ops = new List<EtcdOp>();
        var shardUpdates = new Dictionary<string, (Versioned<ShardRecord> Shard, ShardRecord Updated)>();
        foreach (var alias in aliases.Select(TabletRecord.CanonicalAlias).Distinct())
        {
            var tablet = await Store.GetTabletAsync(alias, ct).ConfigureAwait(false)
                         ?? throw new TopologyNotFoundException($"Tablet {alias} does not exist; nothing was deleted.");
            if (tablet.Value.TabletType == TabletType.Primary)
            {
                if (!allowPrimary)
                {
                    throw new TopologyValidationException($"Tablet {alias} is the PRIMARY of {tablet.Value.Keyspace}/{tablet.Value.Shard}; pass allowPrimary to delete it. Nothing was deleted.");
                }

                var shardKey = Store.ShardKey(tablet.Value.Keyspace, tablet.Value.Shard);
                var shard = await Store.GetShardAsync(tablet.Value.Keyspace, tablet.Value.Shard, ct).ConfigureAwait(false);
                if (shard is not null && shard.Value.PrimaryAlias == alias)
                {
                    shardUpdates[shardKey] = (shard, shard.Value with { PrimaryAlias = null, IsPrimaryServing = false });
                }
            }

            compares.Add(EtcdCompare.ModRevisionIs(Store.TabletKey(alias), tablet.ModRevision));
            ops.Add(EtcdOp.Delete(Store.TabletKey(alias)));
        }

        foreach (var (key, (shard, updated)) in shardUpdates)
        {
            compares.Add(EtcdCompare.ModRevisionIs(key, shard.ModRevision));
            ops.Add(EtcdOp.Put(key, TopologyJson.Serialize(updated)));
        }

        if (ops.Count > 0)
        {
            await Store.CommitAsync(compares, ops, null, $"delete tablets {string.Join(", ", aliases)}", ct).ConfigureAwait(false);
        }
    }

    public Task<IReadOnlyList<TabletRecord>> GetTabletsAsync(
        string? keyspace = null, string? shard = null, IReadOnlyCollection<string>? cells = null, CancellationToken ct = default) =>
        Store.GetTabletsAsync(cells, keyspace, shard, ct);

    // ---- VSchema ----

    /// <summary>
    /// Validates a VSchema (given inline or as a file, exactly one) against the keyspace and stores it; with
    /// <paramref name="dryRun"/> only validates and returns what would be stored.
    /// </summary>
    public async Task<ApplyResult> ApplyVSchemaAsync(
        string keyspace, string? vschemaJson = null, string? vschemaFile = null, bool dryRun = false, CancellationToken ct = default)
    {
        var json = await ReadOneSourceAsync("vschema", vschemaJson, vschemaFile, ct).ConfigureAwait(false);
        var ks = await RequireKeyspaceAsync(keyspace, ct).ConfigureAwait(false);
        var document = VSchemaDocument.Parse(json);
        if (document.Sharded != ks.Value.Sharded)
        {
            throw new TopologyValidationException(
                $"VSchema says sharded={document.Sharded.ToString().ToLowerInvariant()} but keyspace '{keyspace}' is {(ks.Value.Sharded ? "sharded" : "unsharded")}; nothing was written.");
        }

        if (dryRun)
        {
            return new ApplyResult(document.ToIndentedJson(), DryRun: true, Written: false, 0);
        }

        var current = await Store.GetVSchemaJsonAsync(keyspace, ct).ConfigureAwait(false);
        var key = Store.VSchemaKey(keyspace);
        var revision = await Store.CommitAsync(
            [current is null ? EtcdCompare.Absent(key) : EtcdCompare.ModRevisionIs(key, current.ModRevision), EtcdCompare.ModRevisionIs(Store.KeyspaceKey(keyspace), ks.ModRevision)],
            [EtcdOp.Put(key, document.ToJson())], null, $"apply the VSchema of '{keyspace}'", ct).ConfigureAwait(false);
        return new ApplyResult(document.ToIndentedJson(), DryRun: false, Written: true, revision);
    }

    /// <summary>The keyspace's VSchema as indented JSON (<c>{}</c> when none was applied).</summary>
    public async Task<string> GetVSchemaAsync(string keyspace, CancellationToken ct = default)
    {
        await RequireKeyspaceAsync(keyspace, ct).ConfigureAwait(false);
        var json = await Store.GetVSchemaJsonAsync(keyspace, ct).ConfigureAwait(false);
        return json is null ? "{}" : VSchemaDocument.Parse(json.Value).ToIndentedJson();
    }

    // ---- Routing rules ----

    public async Task<string> GetRoutingRulesAsync(CancellationToken ct = default) =>
        (await Store.GetRoutingRulesAsync(ct).ConfigureAwait(false)).Value.ToJson(indented: true);

    /// <summary>
    /// Replaces the routing rules (given inline or as a file, exactly one) after checking them, including that every
    /// target keyspace exists; with <paramref name="dryRun"/> only validates and returns what would be stored.
    /// </summary>
    public async Task<ApplyResult> ApplyRoutingRulesAsync(
        string? rulesJson = null, string? rulesFile = null, bool dryRun = false, CancellationToken ct = default)
    {
        var json = await ReadOneSourceAsync("rules", rulesJson, rulesFile, ct).ConfigureAwait(false);
        var keyspaces = (await Store.GetKeyspacesAsync(ct).ConfigureAwait(false)).Select(k => k.Name).ToHashSet(StringComparer.Ordinal);
        var rules = RoutingRules.Parse(json, keyspaces.Contains);
        if (dryRun)
        {
            return new ApplyResult(rules.ToJson(indented: true), DryRun: true, Written: false, 0);
        }

        var current = await Store.GetRoutingRulesAsync(ct).ConfigureAwait(false);
        var revision = await Store.SaveRoutingRulesAsync(rules, current.ModRevision, ct: ct).ConfigureAwait(false);
        return new ApplyResult(rules.ToJson(indented: true), DryRun: false, Written: true, revision);
    }

    // ---- Mirror rules ----

    public async Task<string> GetMirrorRulesAsync(CancellationToken ct = default) =>
        (await Store.GetMirrorRulesAsync(ct).ConfigureAwait(false)).Value.ToJson(indented: true);

    /// <summary>
    /// Replaces the mirror rules (given inline or as a file, exactly one) after checking them (<see cref="MirrorRules.Parse"/>,
    /// with both keyspaces of every rule existing); with <paramref name="dryRun"/> only validates and returns what would be stored.
    /// </summary>
    public async Task<ApplyResult> ApplyMirrorRulesAsync(
        string? rulesJson = null, string? rulesFile = null, bool dryRun = false, CancellationToken ct = default)
    {
        var json = await ReadOneSourceAsync("rules", rulesJson, rulesFile, ct).ConfigureAwait(false);
        var keyspaces = (await Store.GetKeyspacesAsync(ct).ConfigureAwait(false)).Select(k => k.Name).ToHashSet(StringComparer.Ordinal);
        var rules = MirrorRules.Parse(json, keyspaces.Contains);
        if (dryRun)
        {
            return new ApplyResult(rules.ToJson(indented: true), DryRun: true, Written: false, 0);
        }

        var current = await Store.GetMirrorRulesAsync(ct).ConfigureAwait(false);
        var revision = await Store.SaveMirrorRulesAsync(rules, current.ModRevision, ct: ct).ConfigureAwait(false);
        return new ApplyResult(rules.ToJson(indented: true), DryRun: false, Written: true, revision);
    }

    // ---- Mounts ----

    public Task<MountRecord> MountRegisterAsync(string name, string topoType, string topoServer, string topoRoot, CancellationToken ct = default) =>
        MountRegisterAsync(name, topoType, topoServer, topoRoot, null, null, ct);

    /// <summary>
    /// Mounts another cluster's topology. <paramref name="user"/>/<paramref name="passwordRef"/> (optional, together):
    /// the account for the mounted tablets, a <c>secret:NAME</c>/<c>env:NAME</c> reference resolved by this cluster's
    /// hosts through their own secrets (the mounted tablet records' references name the other cluster's secrets).
    /// </summary>
    public async Task<MountRecord> MountRegisterAsync(string name, string topoType, string topoServer, string topoRoot, string? user, string? passwordRef, CancellationToken ct = default)
    {
        TabletTypes.ValidateName("mount", name);
        if (string.IsNullOrWhiteSpace(topoType) || string.IsNullOrWhiteSpace(topoServer) || string.IsNullOrWhiteSpace(topoRoot))
        {
            throw new TopologyValidationException($"Mount '{name}' needs --topo-type, --topo-server and --topo-root (e.g. etcd2, http://host:2379, /vitess/global).");
        }

        CheckAccount(name, user, passwordRef, required: false);
        var record = new MountRecord(name, topoType, topoServer, topoRoot, MountTypes.Vitess, NullIfEmpty(user), NullIfEmpty(passwordRef));
        await CreateMountAsync(record, ct).ConfigureAwait(false);
        return record;
    }

    /// <summary>
    /// Mount register's check that the mounted root is a topology: it must hold at least one keyspace under
    /// {root}/keyspaces/ (read as <see cref="TopologyStore.MountedRoot"/> resolves it). A wrong root was accepted before
    /// and failed only at the first create; now the refusal names the root, where it looked and what is there instead.
    /// </summary>
    public static async Task CheckMountedTopologyAsync(string topoServer, string topoRoot, CancellationToken ct = default)
    {
        var server = topoServer.Contains("://", StringComparison.Ordinal) ? topoServer : "http://" + topoServer;
        var global = TopologyStore.MountedRoot(topoRoot) + "/global";
        var keyspacesPrefix = global + "/keyspaces/";
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            using var etcd = new EtcdConnection(server);
            var (keys, _) = await etcd.GetPrefixAsync(keyspacesPrefix, keysOnly: true, ct: bound.Token).ConfigureAwait(false);
            var keyspaces = keys.Select(k => k.KeyString[keyspacesPrefix.Length..]).Where(k => k.EndsWith("/Keyspace", StringComparison.Ordinal))
                .Select(k => k[..^"/Keyspace".Length]).Where(k => !k.Contains('/')).ToList();
            if (keyspaces.Count > 0)
            {
                return;
            }

            var under = topoRoot.TrimEnd('/') + "/";
            var (found, _) = await etcd.GetPrefixAsync(under, pageSize: 1000, keysOnly: true, ct: bound.Token).ConfigureAwait(false);
            var children = found.Select(k => k.KeyString[under.Length..].Split('/')[0]).Where(c => c.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var what = children.Count == 0 ? "nothing (no key at all)" : string.Join(", ", children.Take(12)) + (children.Count > 12 ? $", ... ({children.Count} in all)" : "");
            throw new TopologyValidationException(
                $"Topology root '{topoRoot}' on {topoServer} holds no keyspaces (looked under {keyspacesPrefix}); under {under} there is {what}. " +
                "Give the global root of the cluster to mount (its vtctld's --topo-global-root, e.g. /vitess/global). Nothing was registered.");
        }
        catch (Exception e) when (e is not TopologyValidationException && !ct.IsCancellationRequested)
        {
            throw new TopologyValidationException($"Topology root '{topoRoot}' on {topoServer} could not be read: {e.Message}. Check --topo-server and --topo-root; nothing was registered.");
        }
    }

    /// <summary>
    /// Registers a plain MySQL/MariaDB server that no topology knows (the seeds' "Adopting Vitess" case) as the
    /// one-shard keyspace <paramref name="keyspace"/> of a mount of type unmanaged, usable as a Migrate/MoveTables source
    /// (<c>--mount-name NAME --source-keyspace KEYSPACE</c>). The password is a reference, never the password.
    /// </summary>
    public async Task<MountRecord> RegisterUnmanagedSourceAsync(string name, string keyspace, string host, int port, string dbName, string user, string passwordRef, CancellationToken ct = default)
    {
        TabletTypes.ValidateName("mount", name);
        TabletTypes.ValidateName("keyspace", keyspace);
        CheckServer($"External source '{name}'", host, port, dbName);
        CheckAccount(name, user, passwordRef, required: true);
        var record = new MountRecord(name, "none", "", "", MountTypes.Unmanaged, user, passwordRef, keyspace, host, port, dbName);
        await CreateMountAsync(record, ct).ConfigureAwait(false);
        return record;
    }

    private static void CheckServer(string owner, string host, int port, string dbName)
    {
        if (string.IsNullOrWhiteSpace(host) || host.Length > 255 || host.Any(c => char.IsWhiteSpace(c) || c is '/' or '@' or ';'))
        {
            throw new TopologyValidationException($"{owner}: host '{host}' is invalid; give a host name or IP address (e.g. 10.0.0.5 or db1.example.com).");
        }

        if (port is < 1 or > 65535)
        {
            throw new TopologyValidationException($"{owner}: port {port} is invalid; 1 to 65535.");
        }

        if (string.IsNullOrWhiteSpace(dbName) || dbName.Length > 64 || dbName.Any(c => c is '`' or '\0' or '/' or '\\' or '.'))
        {
            throw new TopologyValidationException($"{owner}: database '{dbName}' is invalid; the schema holding the tables (1 to 64 characters, no backtick, dot or slash).");
        }
    }

    /// <summary>
    /// Adopts a plain MySQL/MariaDB server as an ordinary keyspace of this topology, as Vitess does with an unmanaged
    /// tablet: an unsharded keyspace with shard <c>0</c> whose one tablet is the server, PRIMARY, with the server's own
    /// account (user + password reference; the engine logs in to it with that account). All in one etcd transaction,
    /// so a bad or conflicting request writes nothing. From then on it is a keyspace like any other: MoveTables from it
    /// gets routing rules, SwitchTraffic and a reverse stream in its sidecar that this topology's Streamer runs.
    /// </summary>
    public async Task<TabletRecord> RegisterUnmanagedKeyspaceAsync(UnmanagedKeyspaceRequest request, CancellationToken ct = default)
    {
        TabletTypes.ValidateName("keyspace", request.Keyspace);
        TabletTypes.ValidateName("sidecar database", request.SidecarDbName);
        var owner = $"Unmanaged keyspace '{request.Keyspace}'";
        CheckServer(owner, request.Host, request.Port, request.DbName);
        CheckAccount(request.Keyspace, request.User, request.PasswordRef, required: true, what: "Unmanaged keyspace");
        if (await Store.GetKeyspaceAsync(request.Keyspace, ct).ConfigureAwait(false) is not null)
        {
            throw new TopologyValidationException($"Keyspace '{request.Keyspace}' already exists; choose another name with --keyspace. Nothing was written.");
        }

        var cells = await Store.GetCellsAsync(ct).ConfigureAwait(false);
        var cell = request.Cell;
        if (string.IsNullOrWhiteSpace(cell))
        {
            cell = cells.Count == 1 ? cells[0].Name : throw new TopologyValidationException(
                $"{owner}: give --cell; this topology has {(cells.Count == 0 ? "no cells" : "cells " + string.Join(", ", cells.Select(c => c.Name)))}.");
        }

        TabletTypes.ValidateName("cell", cell);
        string alias;
        if (string.IsNullOrWhiteSpace(request.Alias))
        {
            // A uid no tablet of this topology has; the Absent compare below catches a racing registration.
            var tablets = await Store.GetTabletsAsync(ct: ct).ConfigureAwait(false);
            alias = TabletRecord.MakeAlias(cell, tablets.Count == 0 ? 1 : tablets.Max(t => t.Uid) + 1);
        }
        else
        {
            var (aliasCell, uid) = TabletRecord.ParseAlias(request.Alias);
            if (aliasCell != cell)
            {
                throw new TopologyValidationException($"{owner}: tablet alias {request.Alias} is in cell '{aliasCell}' but --cell is '{cell}'.");
            }

            alias = TabletRecord.MakeAlias(cell, uid);
        }

        var (_, tabletUid) = TabletRecord.ParseAlias(alias);
        var tablet = new TabletRecord(alias, cell, tabletUid, request.Keyspace, "0", TabletTypes.Name(TabletType.Primary), request.Host, request.Port,
            request.DbName, request.User, request.PasswordRef);
        var shard = NewShard(request.Keyspace, "0") with { PrimaryAlias = alias, IsPrimaryServing = true };
        var compares = new List<EtcdCompare>
        {
            EtcdCompare.Absent(Store.KeyspaceKey(request.Keyspace)),
            EtcdCompare.Absent(Store.ShardKey(request.Keyspace, "0")),
            EtcdCompare.Absent(Store.TabletKey(alias)),
        };
        var ops = new List<EtcdOp>
        {
            EtcdOp.Put(Store.KeyspaceKey(request.Keyspace), TopologyJson.Serialize(new KeyspaceRecord(request.Keyspace, false, request.SidecarDbName))),
            EtcdOp.Put(Store.ShardKey(request.Keyspace, "0"), TopologyJson.Serialize(shard)),
            EtcdOp.Put(Store.TabletKey(alias), TopologyJson.Serialize(tablet)),
        };
        if (cells.All(c => c.Name != cell))
        {
            compares.Add(EtcdCompare.Absent(Store.CellKey(cell)));
            ops.Add(EtcdOp.Put(Store.CellKey(cell), TopologyJson.Serialize(new CellInfo(cell, Store.Options.CellRoot(cell)))));
        }

        try
        {
            await Store.CommitAsync(compares, ops, null, $"register unmanaged keyspace '{request.Keyspace}'", ct).ConfigureAwait(false);
        }
        catch (TopologyConflictException)
        {
            throw new TopologyValidationException(
                $"{owner}: the keyspace or tablet {alias} was created meanwhile (or the cell was); nothing was written. Run the command again (with another --keyspace or --tablet-alias if taken).");
        }

        return tablet;
    }

    /// <summary>
    /// <see cref="RegisterUnmanagedKeyspaceAsync"/> from an unmanaged mount's record (RegisterExternalSource): the same
    /// server, database and account, as keyspace <paramref name="keyspace"/> (default: the keyspace the mount serves).
    /// The mount stays registered (workflows reading through it keep working); unregister it when they are done.
    /// </summary>
    public async Task<TabletRecord> RegisterUnmanagedKeyspaceFromMountAsync(string mountName, string? keyspace = null, string? cell = null, string? alias = null, CancellationToken ct = default)
    {
        var mount = await MountShowAsync(mountName, ct).ConfigureAwait(false);
        if (!mount.IsUnmanaged)
        {
            throw new TopologyValidationException(
                $"Mount '{mountName}' is a mounted {mount.MountType} cluster (topo server {mount.TopoServer}), not one unmanaged server: only a server registered with RegisterExternalSource --type unmanaged can become a keyspace of this topology.");
        }

        return await RegisterUnmanagedKeyspaceAsync(new UnmanagedKeyspaceRequest(
            string.IsNullOrWhiteSpace(keyspace) ? mount.Keyspace! : keyspace, mount.Host!, mount.Port ?? 0, mount.DbName!, mount.User ?? "", mount.PasswordRef ?? "", cell, alias), ct).ConfigureAwait(false);
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private static void CheckAccount(string name, string? user, string? passwordRef, bool required, string what = "Mount")
    {
        var hasUser = !string.IsNullOrWhiteSpace(user);
        var hasRef = !string.IsNullOrWhiteSpace(passwordRef);
        if (required ? !(hasUser && hasRef) : hasUser != hasRef)
        {
            throw new TopologyValidationException($"{what} '{name}' needs {(required ? "" : "both or neither of ")}--user and --credentials-ref (e.g. --user durable_filtered --credentials-ref secret:DURABLE_EXT1_FILTERED_PASSWORD).");
        }

        if (hasUser && (user!.Length > 80 || user.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '`' or '@')))
        {
            throw new TopologyValidationException($"{what} '{name}': user '{user}' is invalid; an account name without quotes, '@' or spaces.");
        }

        if (hasRef)
        {
            CredentialReference.Validate(passwordRef!, $"{what.ToLowerInvariant()} '{name}'");
        }
    }

    private async Task CreateMountAsync(MountRecord record, CancellationToken ct)
    {
        // A name is unique across mount types: both keys must be absent, in one txn.
        var vitess = Store.MountKey(record.Name, MountTypes.Vitess);
        var unmanaged = Store.MountKey(record.Name, MountTypes.Unmanaged);
        try
        {
            await Store.CommitAsync([EtcdCompare.Absent(vitess), EtcdCompare.Absent(unmanaged)],
                [EtcdOp.Put(Store.MountKey(record.Name, record.MountType), TopologyJson.Serialize(record))], null, $"register mount {record.Name}", ct).ConfigureAwait(false);
        }
        catch (TopologyConflictException)
        {
            throw new TopologyValidationException($"Mount '{record.Name}' is already registered; unregister it first.");
        }
    }

    public async Task MountUnregisterAsync(string name, CancellationToken ct = default)
    {
        var existing = await Store.GetMountAsync(name, ct).ConfigureAwait(false)
                       ?? throw new TopologyNotFoundException($"Mount '{name}' is not registered.");
        await Store.DeleteAsync(Store.MountKey(name, existing.Value.MountType), existing.ModRevision, ct: ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> MountListAsync(CancellationToken ct = default) =>
        [.. (await Store.GetMountsAsync(ct).ConfigureAwait(false)).Select(m => m.Name)];

    public async Task<MountRecord> MountShowAsync(string name, CancellationToken ct = default) =>
        (await Store.GetMountAsync(name, ct).ConfigureAwait(false))?.Value
        ?? throw new TopologyNotFoundException($"Mount '{name}' is not registered.");

    // ---- Local cluster registration ----

    /// <summary>
    /// Registers the local cluster that <c>infra/local/cluster.sh up</c> describes in its cluster.json: the cell, each
    /// keyspace with its shards (sharded when any shard is a key range other than "0"), and every tablet, with the
    /// "filtered" account and a <c>secret:DURABLE_FILTERED_PASSWORD</c> reference. Safe to run again: what already
    /// exists is kept, tablets are updated. Returns a line per thing done.
    /// </summary>
    public static async Task<IReadOnlyList<string>> RegisterLocalClusterAsync(
        string clusterJsonPath, string? etcdEndpoints = null, string? root = null, CancellationToken ct = default)
    {
        var file = JsonSerializer.Deserialize<LocalClusterFile>(await File.ReadAllTextAsync(clusterJsonPath, ct).ConfigureAwait(false), LocalClusterFile.JsonOptions)
                   ?? throw new TopologyValidationException($"{clusterJsonPath} is empty.");
        var endpoints = etcdEndpoints ?? string.Join(',', file.Etcd?.Endpoints ?? []);
        using var etcd = new EtcdConnection(endpoints);
        var admin = new TopologyAdmin(new TopologyStore(etcd, new TopologyOptions { Root = root ?? "/durable" }));
        var done = new List<string>();
        var user = file.Accounts is not null && file.Accounts.TryGetValue("filtered", out var filtered) ? filtered : "durable_filtered";

        if (await admin.Store.GetCellAsync(file.Cell, ct).ConfigureAwait(false) is null)
        {
            await admin.CreateCellAsync(file.Cell, ct).ConfigureAwait(false);
            done.Add($"created cell {file.Cell}");
        }

        foreach (var group in file.Tablets.GroupBy(t => t.Keyspace))
        {
            var shards = group.Select(t => t.Shard).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToList();
            var sharded = shards.Any(s => s is not ("0" or "-"));
            if (await admin.Store.GetKeyspaceAsync(group.Key, ct).ConfigureAwait(false) is null)
            {
                await admin.CreateKeyspaceAsync(group.Key, sharded, shards, ct: ct).ConfigureAwait(false);
                done.Add($"created keyspace {group.Key} ({(sharded ? "sharded" : "unsharded")}) with shards {string.Join(", ", shards)}");
            }
            else
            {
                foreach (var shard in shards)
                {
                    if (await admin.Store.GetShardAsync(group.Key, shard, ct).ConfigureAwait(false) is null)
                    {
                        await admin.CreateShardAsync(group.Key, shard, ct).ConfigureAwait(false);
                        done.Add($"created shard {group.Key}/{shard}");
                    }
                }
            }

            // Primaries first so that a replica re-registered as primary elsewhere never meets a stale primary alias.
            foreach (var tablet in group.OrderBy(t => t.Type == "PRIMARY" ? 0 : 1).ThenBy(t => t.Uid))
            {
                var alias = TabletRecord.MakeAlias(file.Cell, tablet.Uid);
                await admin.AddTabletAsync(
                    new AddTabletRequest(alias, tablet.Keyspace, tablet.Shard, tablet.Type, tablet.Host, tablet.Port, user,
                        "secret:DURABLE_FILTERED_PASSWORD", tablet.DbName, tablet.Uid, AllowUpdate: true), ct).ConfigureAwait(false);
                done.Add($"registered tablet {alias} {tablet.Keyspace}/{tablet.Shard} {tablet.Type} {tablet.Host}:{tablet.Port}");
            }
        }

        return done;
    }

    // ---- helpers ----

    private static ShardRecord NewShard(string keyspace, string shard) =>
        new(keyspace, shard, KeyRange.ParseShard(shard).ToString(), null, false, []);

    private static void ValidateShardNames(string keyspace, bool sharded, IReadOnlyList<string> shards, bool requireCoverage)
    {
        foreach (var shard in shards)
        {
            if (!KeyRange.TryParseShard(shard, out var range, out var error))
            {
                throw new TopologyValidationException(error + " Nothing was written.");
            }

            if (!sharded && !range.IsFull)
            {
                throw new TopologyValidationException($"Keyspace '{keyspace}' is unsharded, so its only shard is '0' (or '-'), not '{shard}'. Nothing was written.");
            }
        }

        if (shards.Distinct().Count() != shards.Count)
        {
            throw new TopologyValidationException($"Shard list for '{keyspace}' names a shard twice: {string.Join(", ", shards)}. Nothing was written.");
        }

        var problems = ShardCoverage.Check(shards);
        var relevant = requireCoverage ? problems : [.. problems.Where(p => p.StartsWith("Overlap", StringComparison.Ordinal))];
        if (relevant.Count > 0)
        {
            throw new TopologyValidationException($"Shards of keyspace '{keyspace}' [{string.Join(", ", shards)}]: {string.Join(" ", relevant)} Nothing was written.");
        }
    }

    private async Task<Versioned<KeyspaceRecord>> RequireKeyspaceAsync(string keyspace, CancellationToken ct)
    {
        TabletTypes.ValidateName("keyspace", keyspace);
        var record = await Store.GetKeyspaceAsync(keyspace, ct).ConfigureAwait(false);
        if (record is not null)
        {
            return record;
        }

        var known = await Store.GetKeyspacesAsync(ct).ConfigureAwait(false);
        throw new TopologyNotFoundException(
            $"Keyspace '{keyspace}' does not exist; known keyspaces: {(known.Count == 0 ? "none" : string.Join(", ", known.Select(k => k.Name)))}.");
    }

    private static async Task<string> ReadOneSourceAsync(string what, string? inline, string? file, CancellationToken ct)
    {
        if ((inline is null) == (file is null))
        {
            throw new TopologyValidationException($"Give exactly one of --{what} (inline JSON) or --{what}-file (a path).");
        }

        if (file is null)
        {
            return inline!;
        }

        if (!File.Exists(file))
        {
            throw new TopologyValidationException($"--{what}-file '{file}' does not exist.");
        }

        return await File.ReadAllTextAsync(file, ct).ConfigureAwait(false);
    }
}

/// <summary>The parts of the local cluster's cluster.json that registration reads.</summary>
internal sealed record LocalClusterFile(
    string Cell,
    LocalClusterEtcd? Etcd,
    IReadOnlyDictionary<string, string>? Accounts,
    IReadOnlyList<LocalClusterTablet> Tablets)
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
    };
}

internal sealed record LocalClusterEtcd(IReadOnlyList<string> Endpoints);

internal sealed record LocalClusterTablet(
    int Uid,
    string Keyspace,
    string Shard,
    string Type,
    string Host,
    int Port,
    string? DbName,
    [property: JsonPropertyName("primaryUid")] int? PrimaryUid);
