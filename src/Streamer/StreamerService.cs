using Durable.Replication;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Durable.Streamer;

/// <summary>Hosts the <see cref="StreamerSupervisor"/> for the lifetime of the process.</summary>
public sealed class StreamerService(ReplicationEngine engine, EtcdClient etcd, TopologyStore store, IOptions<StreamerSettings> settings, ILogger<StreamerService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var s = settings.Value;
        var options = new StreamerOptions
        {
            ReplicaName = s.ReplicaName ?? $"{Environment.MachineName}-{Environment.ProcessId}",
            PollInterval = TimeSpan.FromMilliseconds(s.PollIntervalMs),
            OwnershipTtl = TimeSpan.FromSeconds(s.OwnershipTtlSeconds),
            OwnershipRoot = store.Options.GlobalRoot,
        };
        await using var supervisor = new StreamerSupervisor(engine, etcd, options, logger);
        await supervisor.RunAsync(stoppingToken);
    }
}
