using System.Text.Json;

namespace Durable.Testing;

/// <summary>
/// The second, separate cluster that <c>infra/local/cluster.sh up --with-external</c> starts for Migrate (its own etcd,
/// tablets 1100/1101 of keyspace commerce, registered only in its own topology), as its <c>cluster.json</c> describes
/// it (<c>DURABLE_EXTERNAL_CLUSTER_FILE</c>, else <c>.local/external/cluster.json</c>).
/// </summary>
public sealed class ExternalCluster
{
    private static readonly Lazy<ExternalCluster> Loaded = new(Load);
    private readonly IReadOnlyDictionary<string, string> _secrets;

    private ExternalCluster(ClusterFile file, IReadOnlyDictionary<string, string> secrets, string path)
    {
        File = file;
        _secrets = secrets;
        Path = path;
    }

    /// <summary>The external cluster of this checkout; throws with the command to run when it is not up.</summary>
    public static ExternalCluster Current => Loaded.Value;

    public ClusterFile File { get; }

    public string Path { get; }

    public string EtcdEndpoints => string.Join(',', File.Etcd.Endpoints);

    /// <summary>The topology root its tablets are registered under (cluster.sh registers it like the main one).</summary>
    public string TopologyRoot { get; } = "/durable";

    public TabletInfo Tablet(int uid) =>
        File.Tablets.FirstOrDefault(t => t.Uid == uid)
        ?? throw new ArgumentException($"No tablet with uid {uid} in {Path}; known: {string.Join(", ", File.Tablets.Select(t => t.Uid))}.");

    public TabletInfo Primary(string keyspace, string shard = "0") =>
        File.Tablets.FirstOrDefault(t => t.Keyspace == keyspace && t.Shard == shard && t.Type == "PRIMARY")
        ?? throw new ArgumentException($"No PRIMARY for {keyspace}/{shard} in {Path}.");

    /// <summary>The user name and password of one of its accounts (its own secrets file).</summary>
    public (string User, string Password) Account(string role)
    {
        if (!File.Accounts.TryGetValue(role, out var user))
        {
            throw new ArgumentException($"Unknown account role '{role}'; known: {string.Join(", ", File.Accounts.Keys)}.");
        }

        var key = $"DURABLE_{role.ToUpperInvariant()}_PASSWORD";
        return _secrets.TryGetValue(key, out var password)
            ? (user, password)
            : throw new InvalidOperationException($"{key} is missing from the external cluster's secrets file.");
    }

    private static ExternalCluster Load()
    {
        var path = Environment.GetEnvironmentVariable("DURABLE_EXTERNAL_CLUSTER_FILE");
        if (string.IsNullOrEmpty(path))
        {
            path = System.IO.Path.Combine(LocalCluster.RepositoryRoot(), ".local", "external", "cluster.json");
        }

        if (!System.IO.File.Exists(path))
        {
            throw new InvalidOperationException(
                $"The external cluster is not up ({path} does not exist). Run ./infra/local/cluster.sh up --with-external.");
        }

        var file = JsonSerializer.Deserialize<ClusterFile>(System.IO.File.ReadAllText(path), LocalCluster.JsonOptions)
                   ?? throw new InvalidOperationException($"{path} is empty.");
        return new ExternalCluster(file, LocalCluster.ReadSecrets(file.SecretsFile), path);
    }
}
