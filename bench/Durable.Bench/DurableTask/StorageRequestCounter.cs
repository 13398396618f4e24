using System.Collections.Concurrent;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using DurableTask.AzureStorage;

namespace Durable.Bench.DurableTask;

/// <summary>
/// Counts the storage requests the task hub sends, by service and HTTP method: the cost that decides throughput on
/// Azure Storage (the anchor pays 3 per queue round trip). The hub gets the same clients the host's connection-string
/// provider makes, each with one counting step added to its request pipeline; nothing else changes.
/// </summary>
internal sealed class StorageRequestCounter
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public StorageAccountClientProvider Provider(string connectionString)
    {
        var blob = new BlobClientOptions();
        blob.AddPolicy(new Counting(this, "blob"), HttpPipelinePosition.PerRetry);
        var queue = new QueueClientOptions();
        queue.AddPolicy(new Counting(this, "queue"), HttpPipelinePosition.PerRetry);
        var table = new TableClientOptions();
        table.AddPolicy(new Counting(this, "table"), HttpPipelinePosition.PerRetry);
        return new StorageAccountClientProvider(
            StorageServiceClientProvider.ForBlob(connectionString, blob),
            StorageServiceClientProvider.ForQueue(connectionString, queue),
            StorageServiceClientProvider.ForTable(connectionString, table));
    }

    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_counts);

    /// <summary>Requests since <paramref name="before"/>, largest first, as "total (per unit): queue GET n, ...".</summary>
    public string Since(IReadOnlyDictionary<string, long> before, int units, string unit)
    {
        var delta = _counts.Select(kv => (kv.Key, Count: kv.Value - before.GetValueOrDefault(kv.Key)))
            .Where(x => x.Count > 0).OrderByDescending(x => x.Count).ToList();
        var total = delta.Sum(x => x.Count);
        return $"storage requests: {total} ({total / (double)units:F1} per {unit}): " + string.Join(", ", delta.Select(x => $"{x.Key} {x.Count}"));
    }

    private sealed class Counting(StorageRequestCounter owner, string service) : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message) =>
            owner._counts.AddOrUpdate($"{service} {message.Request.Method}", 1, (_, n) => n + 1);
    }
}
