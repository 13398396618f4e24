using Durable.MySql;
using Durable.Topology;

namespace Durable.Replication;

/// <summary>One server the engine talks to.</summary>
public sealed record TabletEndpoint(string Alias, string Keyspace, string Shard, string Type, string Host, int Port, string DbName)
{
    /// <summary>
    /// The account the tablet record names for this server (an adopted/unmanaged server has its own), or null for the
    /// engine's account. Only the user and the password's reference (secret:NAME / env:NAME) travel with the endpoint:
    /// the password is resolved by <see cref="TabletAccounts"/> when a connection is opened, so it is never held in
    /// topology-derived objects, state or logs.
    /// </summary>
    public string? User { get; init; }

    /// <summary>Where <see cref="User"/>'s password is on this host; null with <see cref="User"/>.</summary>
    public string? PasswordRef { get; init; }

    public override string ToString() => $"{Alias} ({Keyspace}/{Shard} {Type} {Host}:{Port})";
}

/// <summary>The account the engine uses on every tablet (the "filtered" role). The password is never printed.</summary>
public sealed record ReplicationCredentials(string User, string Password)
{
    public override string ToString() => $"user {User}";
}

/// <summary>Where the tablets of a shard are. The topology implementation is the production one; tests may list tablets.</summary>
public interface ITabletResolver
{
    Task<TabletEndpoint> PrimaryAsync(string keyspace, string shard, CancellationToken ct);

    /// <summary>A source tablet of the given types (Vitess tablet_types: "PRIMARY", "REPLICA,PRIMARY", "in_order:REPLICA,PRIMARY"), skipping <paramref name="exclude"/>.</summary>
    Task<TabletEndpoint> SourceAsync(string keyspace, string shard, string tabletTypes, IReadOnlyCollection<string> exclude, CancellationToken ct);

    /// <summary>Replica tablets of a shard (for throttling on their lag).</summary>
    Task<IReadOnlyList<TabletEndpoint>> ReplicasAsync(string keyspace, string shard, CancellationToken ct);

    /// <summary>Every primary that may hold a sidecar with streams.</summary>
    Task<IReadOnlyList<TabletEndpoint>> PrimariesAsync(CancellationToken ct);
}

/// <summary>A fixed list of tablets (tests, and deployments that configure the tablets instead of reading etcd).</summary>
public sealed class StaticTabletResolver(IReadOnlyList<TabletEndpoint> tablets) : ITabletResolver
{
    public IReadOnlyList<TabletEndpoint> Tablets { get; } = tablets;

    public Task<TabletEndpoint> PrimaryAsync(string keyspace, string shard, CancellationToken ct) =>
        Task.FromResult(Tablets.FirstOrDefault(t => t.Keyspace == keyspace && t.Shard == shard && t.Type == "PRIMARY")
            ?? throw new ReplicationException($"No PRIMARY tablet for {keyspace}/{shard}; known: {Known()}."));

    public Task<TabletEndpoint> SourceAsync(string keyspace, string shard, string tabletTypes, IReadOnlyCollection<string> exclude, CancellationToken ct)
    {
        var spec = TabletTypeSpec.Parse(string.IsNullOrWhiteSpace(tabletTypes) ? "PRIMARY" : tabletTypes);
        foreach (var type in spec.Types)
        {
            var name = Durable.Topology.TabletTypes.Name(type);
            var match = Tablets.FirstOrDefault(t => t.Keyspace == keyspace && t.Shard == shard && t.Type == name && !exclude.Contains(t.Alias));
            if (match is not null)
            {
                return Task.FromResult(match);
            }
        }

        throw new ReplicationException($"No {spec} tablet of {keyspace}/{shard} outside [{string.Join(", ", exclude)}]; known: {Known()}.");
    }

    public Task<IReadOnlyList<TabletEndpoint>> ReplicasAsync(string keyspace, string shard, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<TabletEndpoint>>(Tablets.Where(t => t.Keyspace == keyspace && t.Shard == shard && t.Type == "REPLICA").ToList());

    public Task<IReadOnlyList<TabletEndpoint>> PrimariesAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<TabletEndpoint>>(Tablets.Where(t => t.Type == "PRIMARY").ToList());

    private string Known() => string.Join(", ", Tablets.Select(t => t.ToString()));
}

/// <summary>Tablets from the etcd topology; source tablets chosen by the tablet picker (health-probed).</summary>
public sealed class TopologyTabletResolver(TopologyStore store, TabletPicker picker, IReadOnlyCollection<string>? cells = null) : ITabletResolver
{
    public async Task<TabletEndpoint> PrimaryAsync(string keyspace, string shard, CancellationToken ct)
    {
        var tablets = await store.GetTabletsAsync(cells, keyspace, shard, ct).ConfigureAwait(false);
        var primary = tablets.FirstOrDefault(t => t.TabletType == TabletType.Primary)
            ?? throw new ReplicationException($"The topology has no PRIMARY tablet for {keyspace}/{shard}.");
        return Map(primary);
    }

    public async Task<TabletEndpoint> SourceAsync(string keyspace, string shard, string tabletTypes, IReadOnlyCollection<string> exclude, CancellationToken ct)
    {
        var tablets = (await store.GetTabletsAsync(cells, keyspace, shard, ct).ConfigureAwait(false)).Where(t => !exclude.Contains(t.Alias)).ToList();
        var picked = await picker.PickAsync(tablets, keyspace, shard, TabletTypeSpec.Parse(string.IsNullOrWhiteSpace(tabletTypes) ? "PRIMARY" : tabletTypes), cells, ct).ConfigureAwait(false);
        return Map(picked);
    }

    public async Task<IReadOnlyList<TabletEndpoint>> ReplicasAsync(string keyspace, string shard, CancellationToken ct) =>
        [.. (await store.GetTabletsAsync(cells, keyspace, shard, ct).ConfigureAwait(false)).Where(t => t.TabletType == TabletType.Replica).Select(Map)];

    public async Task<IReadOnlyList<TabletEndpoint>> PrimariesAsync(CancellationToken ct) =>
        [.. (await store.GetTabletsAsync(cells, ct: ct).ConfigureAwait(false)).Where(t => t.TabletType == TabletType.Primary).Select(Map)];

    /// <summary>The record's account travels with the endpoint (as a reference); <see cref="TabletAccounts"/> resolves it.</summary>
    internal static TabletEndpoint Map(TabletRecord t) => new(t.Alias, t.Keyspace, t.Shard, Durable.Topology.TabletTypes.Name(t.TabletType), t.Host, t.Port, t.DbName)
    {
        User = string.IsNullOrWhiteSpace(t.User) ? null : t.User,
        PasswordRef = string.IsNullOrWhiteSpace(t.PasswordRef) ? null : t.PasswordRef,
    };
}

/// <summary>
/// Which account the engine logs in to a tablet with: the tablet record's own user and password reference when it has
/// them (resolved through this host's secrets, then the environment, as mounts are), else the engine account. This is
/// how a server adopted into the topology with an account of its own (RegisterExternalSource --as-keyspace, or
/// AddTablet --user/--password-ref) is read and written by the copy, the Streamer, VDiff and the workflow steps.
/// </summary>
public sealed class TabletAccounts
{
    private readonly string? _secretsFile;
    private readonly TimeProvider _time;
    private volatile IReadOnlyDictionary<string, string> _secrets;
    private long _lastReload = long.MinValue;

    /// <param name="engine">The engine account (the "filtered" role) from configuration.</param>
    /// <param name="secrets">The host's secrets (DURABLE_SECRETS_FILE) as loaded at start.</param>
    /// <param name="secretsFile">That file: a reference missing from <paramref name="secrets"/> re-reads it (secrets are
    /// added while hosts run, e.g. for a newly registered source), at most every <see cref="ReloadInterval"/>.</param>
    public TabletAccounts(ReplicationCredentials engine, IReadOnlyDictionary<string, string>? secrets = null, string? secretsFile = null, TimeProvider? time = null)
    {
        Engine = engine;
        _secrets = secrets ?? new Dictionary<string, string>();
        _secretsFile = string.IsNullOrWhiteSpace(secretsFile) ? null : secretsFile;
        _time = time ?? TimeProvider.System;
        if (secrets is null && _secretsFile is not null)
        {
            _secrets = CredentialReference.LoadSecretsFile(_secretsFile);
        }
    }

    public ReplicationCredentials Engine { get; }

    public static TimeSpan ReloadInterval { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The account for <paramref name="tablet"/>. A record naming the engine's own user whose reference this host
    /// cannot resolve uses the engine account: that is what every tablet record written before per-tablet accounts
    /// names (secret:DURABLE_FILTERED_PASSWORD), and a host configured with only the engine password must keep working.
    /// Any other unresolvable account fails with the tablet, the user and the reference named (never a password).
    /// </summary>
    public ReplicationCredentials For(TabletEndpoint tablet)
    {
        if (tablet.User is not { Length: > 0 } user || tablet.PasswordRef is not { Length: > 0 } reference)
        {
            return Engine;
        }

        try
        {
            return new ReplicationCredentials(user, Resolve(reference));
        }
        catch (TopologyException) when (string.Equals(user, Engine.User, StringComparison.Ordinal))
        {
            return Engine;
        }
        catch (TopologyException e)
        {
            throw new ReplicationException(
                $"Tablet {tablet.Alias} ({tablet.Keyspace}/{tablet.Shard}) names the account {user} with password reference {reference}, which this host cannot resolve: {e.Message} " +
                $"Add {reference[(reference.IndexOf(':') + 1)..]} to this host's secrets file (DURABLE_SECRETS_FILE{(_secretsFile is null ? ", not set on this host" : "")}) or environment, " +
                "or register the tablet with an account this host knows (durablectl AddTablet --user ... --password-ref ...).", e);
        }
    }

    private string Resolve(string reference)
    {
        try
        {
            return CredentialReference.Resolve(reference, _secrets);
        }
        catch (TopologyException) when (_secretsFile is not null && Reload())
        {
            return CredentialReference.Resolve(reference, _secrets);
        }
    }

    /// <summary>Re-reads the secrets file unless that was done within <see cref="ReloadInterval"/>; true when it was re-read.</summary>
    private bool Reload()
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastReload);
        if (last != long.MinValue && _time.GetElapsedTime(last, now) < ReloadInterval)
        {
            return false;
        }

        Interlocked.Exchange(ref _lastReload, now);
        _secrets = CredentialReference.LoadSecretsFile(_secretsFile);
        return true;
    }
}

/// <summary>Opens connections to tablets, each with its own account (<see cref="TabletAccounts"/>), else the engine's.</summary>
public sealed class TabletConnector(ITabletResolver resolver, ReplicationCredentials credentials)
{
    public ITabletResolver Resolver { get; } = resolver;

    /// <summary>The engine account: used on every tablet whose record names no account of its own.</summary>
    public ReplicationCredentials Credentials { get; } = credentials;

    /// <summary>Per-tablet accounts; by default only the engine account (no secrets to resolve references with).</summary>
    public TabletAccounts Accounts { get; init; } = new(credentials);

    /// <summary>The account this connector logs in to <paramref name="tablet"/> with.</summary>
    public ReplicationCredentials CredentialsFor(TabletEndpoint tablet) => Accounts.For(tablet);

    /// <summary>Statement timeout for engine connections; snapshot reads of big chunks need more than the default.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public MySqlConnectionOptions Options(TabletEndpoint tablet, string? database = null)
    {
        var account = Accounts.For(tablet);
        return new MySqlConnectionOptions
        {
            Host = tablet.Host,
            Port = tablet.Port,
            User = account.User,
            Password = account.Password,
            Database = database,
            SslMode = SslMode.Preferred,
            CommandTimeout = CommandTimeout,
        };
    }

    public Task<MySqlConnection> OpenAsync(TabletEndpoint tablet, string? database = null, CancellationToken ct = default) =>
        MySqlConnection.OpenAsync(Options(tablet, database), ct);
}
