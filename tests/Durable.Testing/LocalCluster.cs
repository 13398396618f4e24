using System.Text.Json;
using System.Text.Json.Serialization;

namespace Durable.Testing;

/// <summary>
/// The local cluster that <c>infra/local/cluster.sh up</c> started, as described by the <c>cluster.json</c> it writes
/// (found through <c>DURABLE_CLUSTER_FILE</c>, else <c>.local/cluster.json</c> at the repository root), plus the
/// generated credentials from <c>secrets.env</c>. Integration tests read every address and password from here, so
/// they follow whatever ports <c>up</c> had to choose.
/// </summary>
public sealed class LocalCluster
{
    private static readonly Lazy<LocalCluster> Loaded = new(() => Load(
        "DURABLE_CLUSTER_FILE", "cluster.json", "The local cluster", "./infra/local/cluster.sh up, or ./infra/test.sh"));

    private static readonly Lazy<LocalCluster> LoadedExternal = new(() => Load(
        "DURABLE_EXTERNAL_CLUSTER_FILE", System.IO.Path.Combine("external", "cluster.json"), "The external cluster", "./infra/local/cluster.sh up --with-external"));
    private readonly IReadOnlyDictionary<string, string> _secrets;

    private LocalCluster(ClusterFile file, IReadOnlyDictionary<string, string> secrets, string path)
    {
        File = file;
        _secrets = secrets;
        Path = path;
    }

    /// <summary>The cluster of this checkout; throws with the command to run when it is not up.</summary>
    public static LocalCluster Current => Loaded.Value;

    public ClusterFile File { get; }

    public string Path { get; }

    /// <summary>The topology root its tablets are registered under (cluster.sh registers both clusters there).</summary>
    public string TopologyRoot { get; } = "/durable";

    /// <summary>
    /// The second, separate cluster that <c>cluster.sh up --with-external</c> starts for Migrate (its own etcd, tablets
    /// 1100/1101 of keyspace commerce, registered only in its own topology), as its <c>cluster.json</c> describes it
    /// (<c>DURABLE_EXTERNAL_CLUSTER_FILE</c>, else <c>.local/external/cluster.json</c>).
    /// </summary>
    public static LocalCluster External => LoadedExternal.Value;

    public string Cell => File.Cell;

    public IReadOnlyList<TabletInfo> Tablets => File.Tablets;

    /// <summary>Comma-separated etcd client URLs, e.g. <c>http://127.0.0.1:12379</c>.</summary>
    public string EtcdEndpoints => string.Join(',', File.Etcd.Endpoints);

    /// <summary>An Azure Storage connection string for the cluster's Azurite (well-known development account).</summary>
    public string AzureStorageConnectionString => File.Azurite.ConnectionString;

    public TabletInfo Tablet(int uid) =>
        File.Tablets.FirstOrDefault(t => t.Uid == uid)
        ?? throw new ArgumentException($"No tablet with uid {uid} in {Path}; known: {string.Join(", ", File.Tablets.Select(t => t.Uid))}.");

    public TabletInfo Primary(string keyspace, string shard = "0") =>
        File.Tablets.FirstOrDefault(t => t.Keyspace == keyspace && t.Shard == shard && t.Type == "PRIMARY")
        ?? throw new ArgumentException($"No PRIMARY for {keyspace}/{shard} in {Path}.");

    /// <summary>The user name and password of one of the generated accounts: dba, app, repl or filtered.</summary>
    public (string User, string Password) Account(string role)
    {
        if (!File.Accounts.TryGetValue(role, out var user))
        {
            throw new ArgumentException($"Unknown account role '{role}'; known: {string.Join(", ", File.Accounts.Keys)}.");
        }

        var key = $"DURABLE_{role.ToUpperInvariant()}_PASSWORD";
        return _secrets.TryGetValue(key, out var password)
            ? (user, password)
            : throw new InvalidOperationException($"{key} is missing from the secrets file {File.SecretsFile}.");
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "Durable.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Durable.sln not found above " + AppContext.BaseDirectory);
    }

    private static LocalCluster Load(string fileVariable, string defaultFile, string what, string upCommand)
    {
        var path = Environment.GetEnvironmentVariable(fileVariable);
        if (string.IsNullOrEmpty(path))
        {
            path = System.IO.Path.Combine(RepositoryRoot(), ".local", defaultFile);
        }

        if (!System.IO.File.Exists(path))
        {
            throw new InvalidOperationException($"{what} is not up ({path} does not exist). Run {upCommand}.");
        }

        var file = JsonSerializer.Deserialize<ClusterFile>(System.IO.File.ReadAllText(path), JsonOptions)
                   ?? throw new InvalidOperationException($"{path} is empty.");
        return new LocalCluster(file, ReadSecrets(file.SecretsFile), path);
    }

    /// <summary>Reads KEY=VALUE lines (the format cluster.sh writes); values are never printed.</summary>
    public static IReadOnlyDictionary<string, string> ReadSecrets(string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in System.IO.File.ReadAllLines(path))
        {
            var eq = line.IndexOf('=');
            if (line.StartsWith('#') || eq <= 0)
            {
                continue;
            }

            result[line[..eq].Trim()] = line[(eq + 1)..].Trim().Trim('\'');
        }

        return result;
    }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
    };
}

public sealed record ClusterFile(
    string Cell,
    EtcdInfo Etcd,
    AzuriteInfo Azurite,
    IReadOnlyDictionary<string, string> Accounts,
    string SecretsFile,
    IReadOnlyList<TabletInfo> Tablets,
    IReadOnlyList<GatewayInfo>? Gateways = null);

/// <summary>One gateway of the local cluster (vtgate's role): its MySQL port for clients (account "client"), its HTTP port for /healthz and /readyz.</summary>
public sealed record GatewayInfo(string Name, string Host, int MySqlPort, int HttpPort);

public sealed record EtcdInfo(IReadOnlyList<string> Endpoints);

public sealed record AzuriteInfo(int BlobPort, int QueuePort, int TablePort, string ConnectionString);

/// <summary>One MariaDB instance of the local cluster, registered (later) as a tablet.</summary>
public sealed record TabletInfo(
    string Alias,
    int Uid,
    string Keyspace,
    string Shard,
    string Type,
    string Host,
    int Port,
    string DbName,
    string Socket,
    [property: JsonPropertyName("primaryUid")] int? PrimaryUid);
