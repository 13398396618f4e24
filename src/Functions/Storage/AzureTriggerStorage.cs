using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;

namespace Durable.Functions.Storage;

/// <summary>
/// Azure Storage (or Azurite) behind the triggers, through Microsoft's Azure Storage SDK (Azure.Storage.Queues and
/// Azure.Storage.Blobs): queue operations for queue triggers and ETag-guarded blobs for timer schedule records. Queue
/// text is passed through as stored (<see cref="QueueMessageEncoding.None"/>); the queue trigger applies host.json's
/// messageEncoding itself so it can park undecodable messages.
/// </summary>
public sealed class AzureTriggerStorage : ITriggerQueues, IScheduleStore
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    // Without an explicit TTL the service expires messages after 7 days; trigger messages wait until handled.
    private static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);

    private readonly QueueServiceClient _queueService;
    private readonly BlobContainerClient _schedules;
    private readonly ConcurrentDictionary<string, QueueClient> _queues = new(StringComparer.Ordinal);
    private int _containerReady;

    /// <param name="queueService">Must pass message text through unchanged (<see cref="QueueMessageEncoding.None"/>).</param>
    /// <param name="schedules">The blob container holding one record per timer schedule.</param>
    public AzureTriggerStorage(QueueServiceClient queueService, BlobContainerClient schedules)
    {
        ValidateContainerName(schedules.Name);
        _queueService = queueService;
        _schedules = schedules;
    }

    public static AzureTriggerStorage FromConnectionString(string connectionString, string settingName, string scheduleContainer)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"The storage connection setting {settingName} is empty; set it to UseDevelopmentStorage=true (Azurite) or a full connection string.");
        }

        return new AzureTriggerStorage(
            new QueueServiceClient(connectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None }),
            new BlobContainerClient(connectionString, scheduleContainer));
    }

    /// <summary>Queue names: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.</summary>
    public static void ValidateQueueName(string name)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException(
                $"Queue name '{name}' is not valid; valid: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.");
        }
    }

    // Container names follow the queue-name rule; the SDK does not check them, so a bad hub name would otherwise
    // surface only at the first timer occurrence.
    private static void ValidateContainerName(string name)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException(
                $"Blob container name '{name}' is not valid; valid: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.");
        }
    }

    private static bool IsValidName(string name) =>
        name.Length is >= 3 and <= 63 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') &&
        !name.StartsWith('-') && !name.EndsWith('-') && !name.Contains("--", StringComparison.Ordinal);

    private QueueClient Queue(string name) => _queues.GetOrAdd(name, n =>
    {
        ValidateQueueName(n);
        return _queueService.GetQueueClient(n);
    });

    public async Task CreateIfNotExistsAsync(string queue, CancellationToken cancellationToken) =>
        await Queue(queue).CreateIfNotExistsAsync(null, cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<ReceivedQueueMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken)
    {
        var messages = await Queue(queue).ReceiveMessagesAsync(maxMessages, WholeSeconds(visibilityTimeout, 1), cancellationToken).ConfigureAwait(false);
        // Get Messages always returns the insertion time; the SDK's model has it optional only because it is generated.
        return messages.Value.Select(m => new ReceivedQueueMessage(
            m.MessageId, m.PopReceipt, m.Body.ToString(), m.DequeueCount, m.InsertedOn ?? DateTimeOffset.UtcNow)).ToList();
    }

    public async Task DeleteAsync(string queue, string messageId, string popReceipt, CancellationToken cancellationToken)
    {
        try
        {
            await Queue(queue).DeleteMessageAsync(messageId, popReceipt, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == (int)HttpStatusCode.NotFound)
        {
            // Already deleted by an earlier attempt (or expired): the goal is reached.
        }
    }

    public async Task<string> UpdateVisibilityAsync(string queue, string messageId, string popReceipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken) =>
        (await Queue(queue).UpdateMessageAsync(messageId, popReceipt, (string?)null, WholeSeconds(visibilityTimeout, 0), cancellationToken).ConfigureAwait(false)).Value.PopReceipt;

    public async Task SendAsync(string queue, string text, CancellationToken cancellationToken) =>
        await Queue(queue).SendMessageAsync(text, null, NeverExpires, cancellationToken).ConfigureAwait(false);

    /// <summary>Approximate number of messages (for tests and diagnostics).</summary>
    public async Task<int> ApproximateCountAsync(string queue, CancellationToken cancellationToken) =>
        (await Queue(queue).GetPropertiesAsync(cancellationToken).ConfigureAwait(false)).Value.ApproximateMessagesCount;

    public async Task DeleteQueueAsync(string queue, CancellationToken cancellationToken) =>
        await Queue(queue).DeleteIfExistsAsync(cancellationToken).ConfigureAwait(false);

    public async Task<ScheduleRecord?> ReadAsync(string scheduleName, CancellationToken cancellationToken)
    {
        BlobDownloadResult blob;
        try
        {
            blob = (await _schedules.GetBlobClient(BlobName(scheduleName)).DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException e) when (e.Status == (int)HttpStatusCode.NotFound)
        {
            // No record yet, or no container yet (nothing was ever written): both mean "never claimed".
            return null;
        }

        var status = blob.Content.ToObjectFromJson<ScheduleStatus>(JsonOptions)
                     ?? throw new InvalidDataException($"Schedule record {_schedules.Name}/{BlobName(scheduleName)} is empty.");
        return new ScheduleRecord(status, blob.Details.ETag.ToString());
    }

    public async Task<bool> TryWriteAsync(string scheduleName, ScheduleStatus status, string? etag, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _containerReady) == 0)
        {
            await _schedules.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _containerReady, 1);
        }

        var options = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            // The compare-and-swap: create only if absent, or replace only the version that was read.
            Conditions = etag is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = new ETag(etag) },
        };
        try
        {
            await _schedules.GetBlobClient(BlobName(scheduleName))
                .UploadAsync(BinaryData.FromObjectAsJson(status, JsonOptions), options, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }

    public async Task DeleteScheduleContainerAsync(CancellationToken cancellationToken) =>
        await _schedules.DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);

    private static string BlobName(string scheduleName) => scheduleName + ".json";

    // The service takes whole seconds and the SDK truncates; rounding up (as the REST client did) keeps a
    // sub-second hold from turning into "visible at once", and a receive from asking for the invalid 0.
    private static TimeSpan WholeSeconds(TimeSpan t, int minimum) => TimeSpan.FromSeconds(Math.Max(minimum, Math.Ceiling(t.TotalSeconds)));
}
