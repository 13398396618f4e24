using Durable.MySql;
using Durable.Topology;

namespace Durable.Replication;

/// <summary>One server the engine talks to.</summary>
public sealed record TabletEndpoint(string Alias, string Keyspace, string Shard, string Type, string Host, int Port, string DbName)
{
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

    private static TabletEndpoint Map(TabletRecord t) => new(t.Alias, t.Keyspace, t.Shard, Durable.Topology.TabletTypes.Name(t.TabletType), t.Host, t.Port, t.DbName);
}

/// <summary>Opens connections to tablets with the engine's account.</summary>
public sealed class TabletConnector(ITabletResolver resolver, ReplicationCredentials credentials)
{
    public ITabletResolver Resolver { get; } = resolver;

    public ReplicationCredentials Credentials { get; } = credentials;

    /// <summary>Statement timeout for engine connections; snapshot reads of big chunks need more than the default.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public MySqlConnectionOptions Options(TabletEndpoint tablet, string? database = null) => new()
    {
        Host = tablet.Host,
        Port = tablet.Port,
        User = Credentials.User,
        Password = Credentials.Password,
        Database = database,
        SslMode = SslMode.Preferred,
        CommandTimeout = CommandTimeout,
    };

    public Task<MySqlConnection> OpenAsync(TabletEndpoint tablet, string? database = null, CancellationToken ct = default) =>
        MySqlConnection.OpenAsync(Options(tablet, database), ct);
}
