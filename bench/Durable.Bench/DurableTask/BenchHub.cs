using System.Globalization;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Durable.Functions.Engine;
using Durable.Functions.Runner;
using DurableTask.AzureStorage;
using Microsoft.Extensions.Logging;

namespace Durable.Bench.DurableTask;

/// <summary>
/// What every durable benchmark shares: the cluster's Azurite, a fresh task hub name per run, the product's default
/// durable settings (<c>new DurableTaskSettings()</c>, what a host.json without a durableTask section gets) mapped by the
/// host's own <see cref="TaskHubSettings.ToAzureStorage"/>, and the hub's partition table (who owns which partition).
/// </summary>
internal static class BenchHub
{
    /// <summary>The product defaults: 4 partitions, 1 s longest queue poll, 20 s / 30 s visibility, table leases 30/10/10 s.</summary>
    public static DurableTaskSettings Defaults { get; } = new();

    public static string ConnectionString() =>
        Environment.GetEnvironmentVariable("AzureWebJobsStorage") is { Length: > 0 } s
            ? s
            : throw new InvalidOperationException("AzureWebJobsStorage is not set; run eval \"$(./infra/local/cluster.sh env)\" first.");

    /// <summary>A task hub name no other run uses: a letter first, then letters and digits, at most 45 characters (it names queues and containers).</summary>
    public static string NewHubName(string prefix) => prefix + Guid.NewGuid().ToString("N")[..16];

    /// <summary>The hub's settings exactly as the host derives them from host.json's defaults.</summary>
    public static AzureStorageOrchestrationServiceSettings Settings(string hubName, ILoggerFactory loggerFactory, string? workerId = null) =>
        TaskHubSettings.ToAzureStorage(Defaults, hubName, ConnectionString(), workerId ?? $"bench-{Environment.ProcessId}", loggerFactory);

    /// <summary>Deletes a hub's tables, queues and containers (no worker may be running on it).</summary>
    public static async Task DeleteAsync(string hubName, ILoggerFactory loggerFactory)
    {
        var service = new AzureStorageOrchestrationService(Settings(hubName, loggerFactory, "bench-cleanup"));
        await service.DeleteAsync();
        await DeleteAppLeaseContainerAsync(hubName);
    }

    /// <summary>
    /// The framework's hub deletion leaves the "&lt;hub&gt;-applease" container (its app-lease blob) behind; without this
    /// every run would leave one container in the shared Azurite. A host killed a moment ago still holds the
    /// container's lease, which is broken first.
    /// </summary>
    public static async Task DeleteAppLeaseContainerAsync(string hubName)
    {
        var container = new BlobContainerClient(ConnectionString(), hubName.ToLowerInvariant() + "-applease");
        try
        {
            await container.GetBlobLeaseClient().BreakAsync(TimeSpan.Zero);
        }
        catch (Azure.RequestFailedException e) when (e.Status is 404 or 409)
        {
            // No container, or no lease on it.
        }

        await container.DeleteIfExistsAsync();
    }

    /// <summary>durable-hub-delete NAME...: removes task hubs a failed or interrupted benchmark run left behind.</summary>
    public static async Task<int> DeleteHubsAsync(string[] args)
    {
        using var logging = CreateLogging();
        foreach (var name in args)
        {
            await DeleteAsync(name, logging);
        }

        return 0;
    }

    /// <summary>
    /// The partition a hub puts an instance on: the Azure Storage provider takes the 32-bit FNV-1a hash of the instance
    /// id's UTF-8 bytes modulo the partition count (its helper is internal, so the standard function is written out
    /// here; durable-event checks the placement against where the orchestration actually runs).
    /// </summary>
    public static int PartitionOf(string instanceId)
    {
        var hash = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(instanceId))
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return (int)(hash % (uint)Defaults.PartitionCount);
    }

    /// <summary>
    /// The current owner of each partition (index to worker id; a missing index has no owner), read from the hub's
    /// Partitions table (table partition management, the product default). A lease being handed over counts as not
    /// settled: <paramref name="settled"/> is false while any row names a next owner or is draining.
    /// </summary>
    public static async Task<(Dictionary<int, string> Owners, bool Settled)> PartitionOwnersAsync(string hubName, CancellationToken cancellation)
    {
        var table = new TableClient(ConnectionString(), hubName + "Partitions");
        var owners = new Dictionary<int, string>();
        var settled = true;
        try
        {
            await foreach (var row in table.QueryAsync<TableEntity>(cancellationToken: cancellation))
            {
                // Row keys are the control queue names, "<hub>-control-NN".
                var index = int.Parse(row.RowKey[(row.RowKey.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);
                var expires = row.GetDateTimeOffset("ExpiresAt");
                if (row.GetString("CurrentOwner") is { Length: > 0 } owner && expires > DateTimeOffset.UtcNow)
                {
                    owners[index] = owner;
                }

                settled &= string.IsNullOrEmpty(row.GetString("NextOwner")) && row.GetBoolean("IsDraining") != true;
            }
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            // The table is created when the first worker starts.
            return (owners, false);
        }

        return (owners, settled && owners.Count == Defaults.PartitionCount);
    }

    /// <summary>Waits until every partition is owned, no lease is moving, and <paramref name="accept"/> likes the owners (index to worker id).</summary>
    public static async Task<Dictionary<int, string>> WaitForOwnersAsync(string hubName, TimeSpan timeout, Func<Dictionary<int, string>, bool> accept)
    {
        using var cts = new CancellationTokenSource(timeout);
        Dictionary<int, string> last = [];
        try
        {
            while (true)
            {
                var (owners, settled) = await PartitionOwnersAsync(hubName, cts.Token);
                last = owners;
                if (settled && accept(owners))
                {
                    return owners;
                }

                await Task.Delay(250, cts.Token);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"The partitions of hub {hubName} did not settle within {timeout.TotalSeconds:0} s; last owners: " +
                                       string.Join(", ", last.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}")));
        }
    }

    /// <summary>Logging for the engine: silent unless DURABLE_BENCH_LOG=1 (then the framework's log on stderr: leases, abandons, polls).</summary>
    public static ILoggerFactory CreateLogging() => LoggerFactory.Create(b =>
    {
        if (Environment.GetEnvironmentVariable("DURABLE_BENCH_LOG") == "1")
        {
            b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            b.SetMinimumLevel(LogLevel.Information);
        }
    });

    /// <summary>Nearest-rank percentile (p in 0..100) of a non-empty list.</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static string Ms(double ms) => ms.ToString("F0", CultureInfo.InvariantCulture);
}
