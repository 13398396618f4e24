using System.Collections.Concurrent;
using System.Text.Json;
using Durable.AzureStorage;

namespace Durable.Functions.Storage;

/// <summary>
/// Azure Storage (or Azurite) behind the triggers, through the project's REST client (src/AzureStorage): queue
/// operations for queue triggers and ETag-guarded blobs for timer schedule records. Queue text is passed through
/// as stored (Text encoding); the queue trigger applies host.json's messageEncoding itself so it can park
/// undecodable messages.
/// </summary>
public sealed class AzureTriggerStorage : ITriggerQueues, IScheduleStore
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private readonly StorageTransport _transport;
    private readonly BlobContainerClient _schedules;
    private readonly ConcurrentDictionary<string, QueueClient> _queues = new(StringComparer.Ordinal);
    private int _containerReady;

    /// <param name="scheduleContainer">The blob container holding one record per timer schedule.</param>
    public AzureTriggerStorage(StorageTransport transport, string scheduleContainer)
    {
        _transport = transport;
        _schedules = transport.GetContainer(scheduleContainer);
    }

    public static AzureTriggerStorage FromConnectionString(string connectionString, string settingName, string scheduleContainer)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"The storage connection setting {settingName} is empty; set it to UseDevelopmentStorage=true (Azurite) or a full connection string.");
        }

        return new AzureTriggerStorage(StorageTransport.FromConnectionString(connectionString), scheduleContainer);
    }

    /// <summary>Queue names: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.</summary>
    public static void ValidateQueueName(string name)
    {
        if (name.Length is < 3 or > 63 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') ||
            name.StartsWith('-') || name.EndsWith('-') || name.Contains("--", StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"Queue name '{name}' is not valid; valid: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.");
        }
    }

    private QueueClient Queue(string name) => _queues.GetOrAdd(name, n =>
    {
        ValidateQueueName(n);
        return _transport.GetQueue(n, QueueMessageEncoding.Text);
    });

    public async Task CreateIfNotExistsAsync(string queue, CancellationToken cancellationToken) =>
        await Queue(queue).CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<ReceivedQueueMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken)
    {
        var messages = await Queue(queue).GetMessagesAsync(maxMessages, visibilityTimeout, cancellationToken).ConfigureAwait(false);
        return messages.Select(m => new ReceivedQueueMessage(m.MessageId, m.PopReceipt!, m.Text, m.DequeueCount, m.InsertionTime)).ToList();
    }

    public async Task DeleteAsync(string queue, string messageId, string popReceipt, CancellationToken cancellationToken) =>
        await Queue(queue).DeleteMessageAsync(messageId, popReceipt, cancellationToken).ConfigureAwait(false);

    public async Task<string> UpdateVisibilityAsync(string queue, string messageId, string popReceipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken) =>
        (await Queue(queue).UpdateMessageAsync(messageId, popReceipt, visibilityTimeout, null, cancellationToken).ConfigureAwait(false)).PopReceipt;

    public async Task SendAsync(string queue, string text, CancellationToken cancellationToken) =>
        await Queue(queue).PutMessageAsync(text, null, null, cancellationToken).ConfigureAwait(false);

    /// <summary>Approximate number of messages (for tests and diagnostics).</summary>
    public Task<int> ApproximateCountAsync(string queue, CancellationToken cancellationToken) =>
        Queue(queue).GetApproximateMessageCountAsync(cancellationToken);

    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken) => Queue(queue).DeleteIfExistsAsync(cancellationToken);

    public async Task<ScheduleRecord?> ReadAsync(string scheduleName, CancellationToken cancellationToken)
    {
        var blob = await _schedules.GetBlobAsync(BlobName(scheduleName), null, cancellationToken).ConfigureAwait(false);
        if (blob is null)
        {
            return null;
        }

        var status = JsonSerializer.Deserialize<ScheduleStatus>(blob.Content, JsonOptions)
                     ?? throw new InvalidDataException($"Schedule record {_schedules.Name}/{BlobName(scheduleName)} is empty.");
        return new ScheduleRecord(status, blob.ETag);
    }

    public async Task<bool> TryWriteAsync(string scheduleName, ScheduleStatus status, string? etag, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _containerReady) == 0)
        {
            await _schedules.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _containerReady, 1);
        }

        try
        {
            // The compare-and-swap: create only if absent, or replace only the version that was read.
            await _schedules.PutBlobAsync(BlobName(scheduleName), JsonSerializer.SerializeToUtf8Bytes(status, JsonOptions), "application/json",
                null, etag is null ? BlobConditions.CreateOnly : BlobConditions.Match(etag), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (StorageException e) when (e.IsConflict)
        {
            return false;
        }
    }

    public Task DeleteScheduleContainerAsync(CancellationToken cancellationToken) => _schedules.DeleteIfExistsAsync(cancellationToken);

    private static string BlobName(string scheduleName) => scheduleName + ".json";
}
