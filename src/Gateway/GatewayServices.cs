using System.Security.Cryptography.X509Certificates;
using Durable.Routing;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway;

/// <summary>What every client session of one gateway shares (built once by the composition root).</summary>
internal sealed class GatewayServices(
    GatewaySettings settings,
    IStatementRouter router,
    IGatewayTopology topology,
    IBackendPicker picker,
    ITrafficHolds holds,
    BackendPool pool,
    QueryLog queryLog,
    GatewayStatus status,
    Mirroring.TrafficMirror mirror,
    ILogger<ClientSession> logger,
    ISequenceSource? sequences = null)
{
    public GatewaySettings Settings { get; } = settings;

    public IStatementRouter Router { get; } = router;

    public IGatewayTopology Topology { get; } = topology;

    public IBackendPicker Picker { get; } = picker;

    public ITrafficHolds Holds { get; } = holds;

    public BackendPool Pool { get; } = pool;

    public QueryLog QueryLog { get; } = queryLog;

    public GatewayStatus Status { get; } = status;

    /// <summary>MirrorTraffic: the share of read-only statements also sent to a mirror rule's target keyspace.</summary>
    public Mirroring.TrafficMirror Mirror { get; } = mirror;

    public ILogger<ClientSession> Logger { get; } = logger;

    /// <summary>Where auto-increment values of sharded tables come from (null: none registered; such inserts are refused).</summary>
    public ISequenceSource? Sequences { get; } = sequences;

    public ClientCredentials Credentials { get; } = new(settings.Accounts);

    public X509Certificate2? Certificate { get; } = settings.TlsEnabled ? X509Certificate2.CreateFromPemFile(settings.TlsCertificate!, settings.TlsKey) : null;

    /// <summary>Set once the first backend answered: its version with -Durable-gateway.</summary>
    public GatewayServerInfo ServerInfo { get; set; } = new(GatewayServerInfo.FromBackend(string.Empty));
}
