using Durable.Replication;
using Durable.Topology;
using Durable.Topology.Etcd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Durable.Streamer;

/// <summary>
/// Hosts the <see cref="StreamerSupervisor"/> for the lifetime of the process. On shutdown (SIGTERM, Ctrl+C) the host
/// cancels it: every runner is cancelled and awaited (its open batch is rolled back with its connection, so nothing is
/// applied after), then its ownership lease is revoked, so another replica takes the stream at its next scan instead of
/// waiting for the lease to expire; all within the host's shutdown timeout.
/// </summary>
public sealed class StreamerService(ReplicationEngine engine, EtcdConnection etcd, TopologyStore store, IOptions<StreamerSettings> settings,
    StreamerMetrics metrics, StreamerStatus status, ILogger<StreamerService> logger)
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
            Metrics = metrics,
        };
        await using var supervisor = new StreamerSupervisor(engine, etcd, options, logger);
        status.Running(supervisor);
        // Not ready from the first moment of shutdown, while the runners stop and the leases are released.
        using var notReady = stoppingToken.Register(status.Stopping);
        try
        {
            await supervisor.RunAsync(stoppingToken);
        }
        finally
        {
            status.Stopping();
        }

        logger.LogInformation("Streamer {Replica} stopped; every stream released.", options.ReplicaName);
    }
}
