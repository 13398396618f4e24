using Durable.Replication;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.Workflows;

/// <summary>Where the MoveTables side effects go; read from configuration (settings or environment), never from the topology.</summary>
public sealed record MoveTablesEnvironmentOptions
{
    public const string EtcdSetting = "DURABLE_ETCD_ENDPOINTS";
    public const string RootSetting = "DURABLE_TOPO_ROOT";
    public const string EngineUserSetting = "DURABLE_ENGINE_USER";
    public const string EnginePasswordSetting = "DURABLE_ENGINE_PASSWORD";
    public const string SidecarSetting = "DURABLE_SIDECAR_DB";
    public const string SecretsFileSetting = "DURABLE_SECRETS_FILE";

    /// <summary>Rows per copy chunk (one MoveTables_CopyChunk activity); unset keeps the engine's default.</summary>
    public const string CopyChunkRowsSetting = "DURABLE_COPY_CHUNK_ROWS";
    public const string GatewayAckBoundSetting = "DURABLE_GATEWAY_ACK_BOUND_MS";

    public required string EtcdEndpoints { get; init; }
    public string TopologyRoot { get; init; } = "/durable";
    public required string EngineUser { get; init; }
    public required string EnginePassword { get; init; }
    public string SidecarName { get; init; } = Sidecar.DefaultName;
    public string? ApproverKeys { get; init; }
    public MoveTablesSettings Settings { get; init; } = new();

    /// <summary>DURABLE_SECRETS_FILE: re-read when a tablet's or mount's reference is missing from <see cref="MoveTablesSettings.Secrets"/>.</summary>
    public string? SecretsFile { get; init; }

    public override string ToString() => $"etcd {EtcdEndpoints} root {TopologyRoot}, engine user {EngineUser}, sidecar {SidecarName}";

    /// <summary>
    /// From settings: DURABLE_ETCD_ENDPOINTS, DURABLE_TOPO_ROOT, DURABLE_ENGINE_USER (default durable_filtered),
    /// DURABLE_ENGINE_PASSWORD (else DURABLE_FILTERED_PASSWORD, as the local cluster's secrets name it),
    /// DURABLE_SIDECAR_DB, DURABLE_APPROVER_KEYS, DURABLE_COPY_CHUNK_ROWS. Null when no etcd endpoint is configured
    /// (MoveTables then off).
    /// </summary>
    public static MoveTablesEnvironmentOptions? FromSettings(Func<string, string?> setting)
    {
        var etcd = setting(EtcdSetting);
        if (string.IsNullOrWhiteSpace(etcd))
        {
            return null;
        }

        var password = setting(EnginePasswordSetting) ?? setting("DURABLE_FILTERED_PASSWORD")
            ?? throw new WorkflowValidationException($"{EnginePasswordSetting} is not set: the engine account's password is needed for MoveTables (it is never read from the topology).");
        return new MoveTablesEnvironmentOptions
        {
            EtcdEndpoints = etcd,
            TopologyRoot = setting(RootSetting) is { Length: > 0 } root ? root : "/durable",
            EngineUser = setting(EngineUserSetting) is { Length: > 0 } user ? user : "durable_filtered",
            EnginePassword = password,
            SidecarName = setting(SidecarSetting) is { Length: > 0 } sidecar ? sidecar : Sidecar.DefaultName,
            ApproverKeys = setting(ConfiguredApproverKeys.Setting),
            Settings = new MoveTablesSettings
            {
                Secrets = CredentialReference.LoadSecretsFile(setting(SecretsFileSetting)),
                CopyBudget = CopyBudgetFromSettings(setting(CopyChunkRowsSetting)),
                GatewayAckBound = GatewayAckBoundFromSettings(setting(GatewayAckBoundSetting)),
            },
            SecretsFile = setting(SecretsFileSetting),
        };
    }

    /// <summary>
    /// How long a switch waits for the gateways to acknowledge its hold (DURABLE_GATEWAY_ACK_BOUND_MS): the longest a
    /// silent gateway can delay a switch, and the time a gateway has to start holding before the guards refuse writes.
    /// Bounded to 60 s: a switch's write window must stay far below the gateways' own 20 s per-switch hold limit.
    /// </summary>
    public static TimeSpan GatewayAckBoundFromSettings(string? milliseconds)
    {
        var bound = new MoveTablesSettings().GatewayAckBound;
        if (string.IsNullOrWhiteSpace(milliseconds))
        {
            return bound;
        }

        if (!int.TryParse(milliseconds.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms) || ms > 60_000)
        {
            throw new WorkflowValidationException($"{GatewayAckBoundSetting} is '{milliseconds}': expected whole milliseconds from 0 to 60000 (or unset for the default {bound.TotalMilliseconds:0}).");
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>
    /// The copy budget with DURABLE_COPY_CHUNK_ROWS applied: smaller chunks mean shorter snapshot transactions on the
    /// source and more frequent progress (crash tests use it to get a copy of several chunks from a small table).
    /// </summary>
    public static CopyBudget CopyBudgetFromSettings(string? chunkRows)
    {
        var budget = new MoveTablesSettings().CopyBudget;
        if (string.IsNullOrWhiteSpace(chunkRows))
        {
            return budget;
        }

        if (!int.TryParse(chunkRows.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rows) || rows < 1)
        {
            throw new WorkflowValidationException($"{CopyChunkRowsSetting} is '{chunkRows}': expected a whole number of rows >= 1 (or unset for the default {budget.MaxRows}).");
        }

        return budget with { MaxRows = rows };
    }
}

/// <summary>
/// Everything a host needs to run MoveTables, in one place for the HTTP functions and test beds: topology, engine,
/// registry, approvals and the operations. It creates nothing itself: the composition root
/// (Durable.Composition.DurableEngineServices) builds each part once per process and owns their lifetime.
/// </summary>
public sealed class MoveTablesEnvironment(
    MoveTablesEnvironmentOptions options, EtcdConnection etcd, TopologyStore store, ITabletResolver resolver, ReplicationEngine engine,
    WorkflowRegistry registry, ApprovalVerifier approvals, HttpClient http, ClusterMoveTablesOperations operations)
{
    public MoveTablesEnvironmentOptions Options { get; } = options;
    public EtcdConnection Etcd { get; } = etcd;
    public TopologyStore Store { get; } = store;
    public ITabletResolver Resolver { get; } = resolver;
    public ReplicationEngine Engine { get; } = engine;
    public WorkflowRegistry Registry { get; } = registry;
    public ApprovalVerifier Approvals { get; } = approvals;
    public HttpClient Http { get; } = http;
    public ClusterMoveTablesOperations Operations { get; } = operations;
}
