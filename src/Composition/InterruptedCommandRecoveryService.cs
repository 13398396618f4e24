using Durable.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Durable.Composition;

/// <summary>
/// Runs <see cref="InterruptedCommandRecovery"/> in this process every <see cref="MoveTablesSettings.RecoveryInterval"/>,
/// starting at once: every Functions host and every Streamer runs it, so a switch, Complete or Cancel whose host died is
/// ended within seconds of its lease lapsing, and a restarted host ends its own within seconds of its start. Idle on a
/// host without a topology.
/// </summary>
public sealed class InterruptedCommandRecoveryService(IServiceProvider services, IOptions<EngineOptions> engine, ILogger<InterruptedCommandRecoveryService> logger)
    : BackgroundService
{
    /// <summary>A sweep failing every time (etcd down) is logged on the first failure and then once a minute or so.</summary>
    private const int LogEveryNthFailure = 30;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!engine.Value.IsConfigured)
        {
            logger.LogInformation("No topology is configured on this host: the recovery of interrupted traffic commands is idle");
            return;
        }

        // Resolved here, not in the constructor: the engine is created on first use, after the host has started. A host
        // whose engine is not fully configured (etcd set, no engine account) still starts and serves what it can: an
        // exception escaping a background service would stop the whole host.
        ClusterMoveTablesOperations operations;
        try
        {
            operations = services.GetRequiredService<ClusterMoveTablesOperations>();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("The recovery of interrupted traffic commands is idle on this host: {Reason}", e.Message);
            return;
        }

        logger.LogInformation("Ending the traffic commands of dead holders: looking every {Interval} s (leases of {Ttl} s)",
            operations.Settings.RecoveryInterval.TotalSeconds, operations.Settings.SwitchLeaseTtl.TotalSeconds);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await operations.Recovery.SweepAsync(stoppingToken).ConfigureAwait(false);
                failures = 0;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                if (failures++ % LogEveryNthFailure == 0)
                {
                    logger.LogWarning(e, "Looking for interrupted traffic commands failed ({Failures} time(s) in a row); retrying", failures);
                }
            }

            try
            {
                await Task.Delay(operations.Settings.RecoveryInterval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
