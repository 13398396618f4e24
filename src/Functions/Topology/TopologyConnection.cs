using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Configuration;

namespace Durable.Functions.Topology;

/// <summary>
/// The host's one connection to the topology: an etcd client for DURABLE_ETCD_ENDPOINTS and a <see cref="TopologyAdmin"/>
/// under DURABLE_TOPO_ROOT. Created on first use, not at start-up, so a host without a topology (e.g. one that only runs
/// orchestrations in tests) still starts, and a topology request then gets an error naming the missing setting.
/// </summary>
public sealed class TopologyConnection : IDisposable
{
    public const string EndpointsSetting = "DURABLE_ETCD_ENDPOINTS";
    public const string RootSetting = "DURABLE_TOPO_ROOT";

    private readonly IConfiguration _configuration;
    private readonly Lock _gate = new();
    private EtcdClient? _etcd;
    private TopologyAdmin? _admin;

    public TopologyConnection(IConfiguration configuration) => _configuration = configuration;

    /// <summary>
    /// The root the host works under: DURABLE_TOPO_ROOT (the one setting MoveTables reads too), else the library's
    /// default (<c>/durable</c>).
    /// </summary>
    public string Root
    {
        get
        {
            var root = _configuration[RootSetting]?.Trim();
            return !string.IsNullOrEmpty(root) ? root : new TopologyOptions().Root;
        }
    }

    /// <summary>The etcd client URLs from DURABLE_ETCD_ENDPOINTS (comma-separated).</summary>
    public string Endpoints
    {
        get
        {
            var endpoints = _configuration[EndpointsSetting];
            if (string.IsNullOrWhiteSpace(endpoints))
            {
                throw new TopologyNotConfiguredException(
                    $"The topology is not configured on this host: set {EndpointsSetting} to etcd's client URLs (comma-separated, e.g. http://127.0.0.1:2379); " +
                    $"`./infra/local/cluster.sh env` exports it for the local cluster.");
            }

            return endpoints.Trim();
        }
    }

    public TopologyAdmin Admin
    {
        get
        {
            lock (_gate)
            {
                if (_admin is not null)
                {
                    return _admin;
                }

                var endpoints = Endpoints;
                var root = Root;
                if (!root.StartsWith('/'))
                {
                    throw new TopologyNotConfiguredException($"{RootSetting} is '{root}'; it must be an absolute etcd key prefix such as /durable.");
                }

                try
                {
                    _etcd = new EtcdClient(endpoints);
                }
                catch (ArgumentException e)
                {
                    throw new TopologyNotConfiguredException($"{EndpointsSetting} is not valid: {e.Message}");
                }

                _admin = new TopologyAdmin(new TopologyStore(_etcd, new TopologyOptions { Root = root }));
                return _admin;
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _etcd?.Dispose();
            _etcd = null;
            _admin = null;
        }
    }
}

/// <summary>The host's topology settings are missing or invalid (an operator error, not a bad request).</summary>
public sealed class TopologyNotConfiguredException(string message) : Exception(message);
