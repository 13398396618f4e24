using System.Text.Json;
using Durable.Replication;
using Durable.Topology;
using Durable.Workflows;
using Microsoft.Extensions.Configuration;

namespace Durable.Streamer;

/// <summary>
/// The Streamer's settings (section "Streamer" of appsettings.json, environment variables Streamer__Key, or
/// --Streamer:Key=value). The password comes from configuration or secrets (e.g. Streamer__Password) and is never logged.
/// </summary>
public sealed class StreamerSettings
{
    public const string Section = "Streamer";

    /// <summary>Comma-separated etcd client URLs (ownership leases, leased server ids, and the topology).</summary>
    public string EtcdEndpoints { get; set; } = string.Empty;

    /// <summary>Root of the topology in etcd (TopologyOptions.Root).</summary>
    public string TopologyRoot { get; set; } = "/durable";

    /// <summary>The sidecar database name on target primaries.</summary>
    public string Sidecar { get; set; } = Durable.Replication.Sidecar.DefaultName;

    /// <summary>The engine account (the "filtered" role).</summary>
    public string User { get; set; } = string.Empty;

    public string Password { get; set; } = string.Empty;

    /// <summary>
    /// The host's secrets file (NAME=value lines, as DURABLE_SECRETS_FILE): tablet records that name an account of their
    /// own (an adopted server's user and secret:NAME reference) are logged in to with it; else the engine account.
    /// Unset: the environment variable DURABLE_SECRETS_FILE, if any.
    /// </summary>
    public string? SecretsFile { get; set; }

    /// <summary>Optional JSON file with a fixed tablet list ([{alias,keyspace,shard,type,host,port,dbName}]); else the topology is read.</summary>
    public string? TabletsFile { get; set; }

    public string? ReplicaName { get; set; }

    public int PollIntervalMs { get; set; } = 500;

    public int OwnershipTtlSeconds { get; set; } = 5;

    public bool Throttle { get; set; } = true;

    /// <summary>The default HTTP port: the one OpenTelemetry's Prometheus exporter listens on by convention.</summary>
    public const int DefaultHttpPort = 9464;

    /// <summary>
    /// The port of the Streamer's HTTP listener (/healthz, /readyz, /metrics) on every interface, so probes and scrapers
    /// from outside the machine or pod reach it; 0 turns the listener off (OTLP export, if configured, still runs).
    /// Replicas sharing a machine need a port each.
    /// </summary>
    public int HttpPort { get; set; } = DefaultHttpPort;

    /// <summary>
    /// How old the last successful sidecar scan may be while /readyz says ready: ten poll intervals, twice the ownership
    /// TTL, and at least 10 s, so one slow scan (a primary timing out) does not flap readiness.
    /// </summary>
    public TimeSpan ReadinessMaxScanAge => TimeSpan.FromMilliseconds(Math.Max(10_000, Math.Max(2_000L * OwnershipTtlSeconds, 10L * PollIntervalMs)));

    public static StreamerSettings From(IConfiguration configuration)
    {
        var settings = new StreamerSettings();
        configuration.GetSection(Section).Bind(settings);
        settings.Validate();
        return settings;
    }

    public void Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(EtcdEndpoints))
        {
            problems.Add("Streamer:EtcdEndpoints is empty; give the etcd client URLs, e.g. http://127.0.0.1:2379.");
        }

        if (string.IsNullOrWhiteSpace(User))
        {
            problems.Add("Streamer:User is empty; give the engine account (the 'filtered' role).");
        }

        if (PollIntervalMs is < 50 or > 1000)
        {
            problems.Add($"Streamer:PollIntervalMs={PollIntervalMs} is out of range; use 50..1000 so stream changes take effect within a second.");
        }

        if (OwnershipTtlSeconds is < 2 or > 300)
        {
            problems.Add($"Streamer:OwnershipTtlSeconds={OwnershipTtlSeconds} is out of range; use 2..300.");
        }

        if (HttpPort is < 0 or > 65535)
        {
            problems.Add($"Streamer:HttpPort={HttpPort} is out of range; use 1..65535, or 0 for no HTTP listener.");
        }

        if (TabletsFile is not null && !File.Exists(TabletsFile))
        {
            problems.Add($"Streamer:TabletsFile '{TabletsFile}' does not exist.");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", problems));
        }
    }

    public ITabletResolver CreateResolver(TopologyStore store)
    {
        if (TabletsFile is null)
        {
            return new TopologyTabletResolver(store, new TabletPicker(store, new MySqlHandshakeProbe()));
        }

        var tablets = JsonSerializer.Deserialize<List<TabletEndpoint>>(File.ReadAllText(TabletsFile), new JsonSerializerOptions(JsonSerializerDefaults.Web))
                      ?? throw new InvalidOperationException($"Streamer:TabletsFile '{TabletsFile}' holds no tablet list.");
        return new StaticTabletResolver(tablets);
    }

    /// <summary>
    /// The engine's settings for the composition root. The secrets file falls back to DURABLE_SECRETS_FILE, the name
    /// the Functions host reads, so one environment serves both processes.
    /// </summary>
    public MoveTablesEnvironmentOptions ToEngineOptions(IConfiguration configuration) => new()
    {
        EtcdEndpoints = EtcdEndpoints,
        TopologyRoot = TopologyRoot,
        EngineUser = User,
        EnginePassword = Password,
        SidecarName = Sidecar,
        SecretsFile = SecretsFile ?? (configuration[MoveTablesEnvironmentOptions.SecretsFileSetting] is { Length: > 0 } file ? file : null),
    };
}
