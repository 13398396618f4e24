using Azure;
using Azure.Data.Tables;
using DurableTask.AzureStorage.Partitioning;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Runner;

/// <summary>
/// Says in the host's log which task hub partitions this host took and from whom, so an operator reading a restarted
/// host's log sees whether it reclaimed the partitions its killed predecessor held (and after how long) or found them
/// with another live host. It reads the hub's Partitions table (table partition management) before the worker starts
/// and watches it until this host owns partitions or the lease timings say it will get none.
/// </summary>
internal sealed class PartitionOwnershipReport(FunctionsHostSettings settings, IConfiguration configuration, ILogger<PartitionOwnershipReport> logger) : IHostedService
{
    private readonly CancellationTokenSource _stop = new();
    private Dictionary<string, TablePartitionLease> _before = [];
    private Task? _watch;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!settings.HostJson.DurableTask.UseTablePartitionManagement || Table() is not { } table)
        {
            return;
        }

        _before = await ReadAsync(table, cancellationToken).ConfigureAwait(false);
        _watch = Task.Run(() => WatchAsync(table, _stop.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_watch is not null)
        {
            await _watch.ConfigureAwait(false);
        }
    }

    private TableClient? Table()
    {
        var connection = configuration[settings.StorageConnectionSettingName];
        return string.IsNullOrWhiteSpace(connection) ? null : new TableClient(connection, settings.HubName + "Partitions");
    }

    private async Task WatchAsync(TableClient table, CancellationToken ct)
    {
        var durable = settings.HostJson.DurableTask;
        var started = DateTime.UtcNow;
        // A dead predecessor's leases lapse after leaseInterval and are looked for every leaseAcquireInterval.
        var deadline = started + 2 * (durable.LeaseInterval + durable.LeaseAcquireInterval);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
                var now = await ReadAsync(table, ct).ConfigureAwait(false);
                var mine = now.Values.Where(l => l.CurrentOwner == settings.ReplicaId).OrderBy(l => l.RowKey, StringComparer.Ordinal).ToList();
                if (mine.Count > 0 || DateTime.UtcNow > deadline)
                {
                    Report(mine, now, DateTime.UtcNow - started);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (RequestFailedException e)
        {
            logger.LogWarning("Could not read the task hub's partition table {Table}: {Message}", table.Name, e.Message);
        }
    }

    private void Report(List<TablePartitionLease> mine, Dictionary<string, TablePartitionLease> now, TimeSpan after)
    {
        if (mine.Count == 0)
        {
            logger.LogInformation("Worker {WorkerId} owns none of the {Count} partitions of task hub {Hub} after {Seconds:0} s: {Owners}; it runs activities and takes partitions when a host leaves.",
                settings.ReplicaId, now.Count, settings.HubName, after.TotalSeconds, Owners(now.Values));
            return;
        }

        foreach (var lease in mine)
        {
            var previous = _before.GetValueOrDefault(lease.RowKey!)?.CurrentOwner;
            if (string.IsNullOrEmpty(previous) || previous == settings.ReplicaId)
            {
                logger.LogInformation("Worker {WorkerId} took partition {Partition} of task hub {Hub} (no previous owner) after {Seconds:0} s.",
                    settings.ReplicaId, lease.RowKey, settings.HubName, after.TotalSeconds);
            }
            else
            {
                logger.LogInformation("Worker {WorkerId} reclaimed partition {Partition} of task hub {Hub} from {Previous} (lease had been due to expire at {Expiry:O}) after {Seconds:0} s.",
                    settings.ReplicaId, lease.RowKey, settings.HubName, previous, _before[lease.RowKey!].ExpiresAt, after.TotalSeconds);
            }
        }
    }

    private static string Owners(IEnumerable<TablePartitionLease> leases) =>
        string.Join(", ", leases.OrderBy(l => l.RowKey, StringComparer.Ordinal).Select(l => $"{l.RowKey} by {(string.IsNullOrEmpty(l.CurrentOwner) ? "nobody" : l.CurrentOwner)}"));

    private static async Task<Dictionary<string, TablePartitionLease>> ReadAsync(TableClient table, CancellationToken ct)
    {
        var result = new Dictionary<string, TablePartitionLease>(StringComparer.Ordinal);
        try
        {
            await foreach (var lease in table.QueryAsync<TablePartitionLease>(cancellationToken: ct).ConfigureAwait(false))
            {
                result[lease.RowKey!] = lease;
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // A new hub: the worker creates the table when it starts.
        }

        return result;
    }
}
