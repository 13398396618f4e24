using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;

namespace Durable.Functions.Storage;

/// <summary>
/// Azure Storage (or Azurite) behind the triggers: queue operations for queue triggers and ETag-guarded blobs for
/// timer schedule records, through the REST API with Shared Key signing.
/// </summary>
public sealed class AzureTriggerStorage : ITriggerQueues, IScheduleStore
{
    private readonly StorageAccount _account;
    private readonly HttpClient _http;
    private readonly string _scheduleContainer;
    private int _containerReady;

    /// <param name="scheduleContainer">The blob container holding one record per timer schedule.</param>
    public AzureTriggerStorage(StorageAccount account, HttpClient http, string scheduleContainer)
    {
        ValidateContainerName(scheduleContainer);
        _account = account;
        _http = http;
        _scheduleContainer = scheduleContainer;
    }

    public StorageAccount Account => _account;

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

    public static void ValidateContainerName(string name)
    {
        try
        {
            ValidateQueueName(name);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException(
                $"Blob container name '{name}' is not valid; valid: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.");
        }
    }

    // ---- queues -------------------------------------------------------------------------------------------------

    public async Task CreateIfNotExistsAsync(string queue, CancellationToken cancellationToken)
    {
        ValidateQueueName(queue);
        using var response = await SendAsync(HttpMethod.Put, Queue(queue), null, null, cancellationToken).ConfigureAwait(false);
        // 201 created, 204 already there with the same metadata.
        await EnsureAsync(response, $"create queue {queue}", HttpStatusCode.Created, HttpStatusCode.NoContent).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ReceivedQueueMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken)
    {
        var uri = Queue(queue, "/messages", $"numofmessages={maxMessages}&visibilitytimeout={Seconds(visibilityTimeout, 1)}");
        using var response = await SendAsync(HttpMethod.Get, uri, null, null, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, $"get messages from queue {queue}", HttpStatusCode.OK).ConfigureAwait(false);
        var xml = XDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        return xml.Root!.Elements("QueueMessage").Select(m => new ReceivedQueueMessage(
            m.Element("MessageId")!.Value,
            m.Element("PopReceipt")!.Value,
            m.Element("MessageText")?.Value ?? "",
            long.Parse(m.Element("DequeueCount")!.Value, CultureInfo.InvariantCulture),
            DateTimeOffset.Parse(m.Element("InsertionTime")!.Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal))).ToList();
    }

    public async Task DeleteAsync(string queue, string messageId, string popReceipt, CancellationToken cancellationToken)
    {
        var uri = Queue(queue, $"/messages/{Uri.EscapeDataString(messageId)}", $"popreceipt={Uri.EscapeDataString(popReceipt)}");
        using var response = await SendAsync(HttpMethod.Delete, uri, null, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return;
        }

        await EnsureAsync(response, $"delete message {messageId} from queue {queue}", HttpStatusCode.NoContent).ConfigureAwait(false);
    }

    public async Task<string> UpdateVisibilityAsync(string queue, string messageId, string popReceipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken)
    {
        var uri = Queue(queue, $"/messages/{Uri.EscapeDataString(messageId)}",
            $"popreceipt={Uri.EscapeDataString(popReceipt)}&visibilitytimeout={Seconds(visibilityTimeout, 0)}");
        using var response = await SendAsync(HttpMethod.Put, uri, null, null, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, $"update message {messageId} in queue {queue}", HttpStatusCode.NoContent).ConfigureAwait(false);
        return response.Headers.TryGetValues("x-ms-popreceipt", out var v) ? v.First() : popReceipt;
    }

    public async Task SendAsync(string queue, string text, CancellationToken cancellationToken)
    {
        // TTL -1: a trigger message must not expire unprocessed (the default would drop it after 7 days).
        var uri = Queue(queue, "/messages", "messagettl=-1");
        var body = $"<QueueMessage><MessageText>{SecurityElement.Escape(text)}</MessageText></QueueMessage>";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/xml");
        using var response = await SendAsync(HttpMethod.Post, uri, content, null, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, $"put message on queue {queue}", HttpStatusCode.Created).ConfigureAwait(false);
    }

    /// <summary>Approximate number of messages (for tests and diagnostics).</summary>
    public async Task<int> ApproximateCountAsync(string queue, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, Queue(queue, "", "comp=metadata"), null, null, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, $"get metadata of queue {queue}", HttpStatusCode.OK).ConfigureAwait(false);
        return int.Parse(response.Headers.GetValues("x-ms-approximate-messages-count").First(), CultureInfo.InvariantCulture);
    }

    public async Task DeleteQueueAsync(string queue, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, Queue(queue), null, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureAsync(response, $"delete queue {queue}", HttpStatusCode.NoContent).ConfigureAwait(false);
        }
    }

    // ---- schedule records (blobs) -------------------------------------------------------------------------------

    public async Task<ScheduleRecord?> ReadAsync(string scheduleName, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, ScheduleBlob(scheduleName), null, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureAsync(response, $"read schedule record {scheduleName}", HttpStatusCode.OK).ConfigureAwait(false);
        var etag = response.Headers.ETag?.Tag ?? throw new StorageRequestException(response.StatusCode, null, $"Schedule record {scheduleName} came back without an ETag.");
        var json = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var status = JsonSerializer.Deserialize<ScheduleStatus>(json, JsonOptions)
                     ?? throw new InvalidDataException($"Schedule record {_scheduleContainer}/{scheduleName}.json is empty.");
        return new ScheduleRecord(status, etag);
    }

    public async Task<bool> TryWriteAsync(string scheduleName, ScheduleStatus status, string? etag, CancellationToken cancellationToken)
    {
        await EnsureScheduleContainerAsync(cancellationToken).ConfigureAwait(false);
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(status, JsonOptions));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(HttpMethod.Put, ScheduleBlob(scheduleName), content, r =>
        {
            r.Headers.TryAddWithoutValidation("x-ms-blob-type", "BlockBlob");
            // The compare-and-swap: create only if absent, or replace only the version we read.
            r.Headers.TryAddWithoutValidation(etag is null ? "If-None-Match" : "If-Match", etag ?? "*");
        }, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed)
        {
            return false;
        }

        await EnsureAsync(response, $"write schedule record {scheduleName}", HttpStatusCode.Created).ConfigureAwait(false);
        return true;
    }

    public async Task DeleteScheduleContainerAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, Blob(_scheduleContainer, null, "restype=container"), null, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureAsync(response, $"delete container {_scheduleContainer}", HttpStatusCode.Accepted).ConfigureAwait(false);
        }
    }

    private async Task EnsureScheduleContainerAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _containerReady) == 1)
        {
            return;
        }

        using var response = await SendAsync(HttpMethod.Put, Blob(_scheduleContainer, null, "restype=container"), null, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Conflict)
        {
            await EnsureAsync(response, $"create container {_scheduleContainer}", HttpStatusCode.Created).ConfigureAwait(false);
        }

        Volatile.Write(ref _containerReady, 1);
    }

    // ---- plumbing -----------------------------------------------------------------------------------------------

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private Uri Queue(string queue, string suffix = "", string? query = null) =>
        new(_account.QueueEndpoint, queue + suffix + (query is null ? "" : "?" + query));

    private Uri ScheduleBlob(string scheduleName) => Blob(_scheduleContainer, Uri.EscapeDataString(scheduleName) + ".json", null);

    private Uri Blob(string container, string? blob, string? query) =>
        new(_account.BlobEndpoint, container + (blob is null ? "" : "/" + blob) + (query is null ? "" : "?" + query));

    private static string Seconds(TimeSpan t, int min) =>
        Math.Max(min, (int)Math.Ceiling(t.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, HttpContent? content, Action<HttpRequestMessage>? configure, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, uri) { Content = content };
        configure?.Invoke(request);
        _account.Sign(request);
        try
        {
            return await _http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new StorageRequestException(0, null, $"Cannot reach Azure Storage at {uri.GetLeftPart(UriPartial.Authority)} ({method} {uri.AbsolutePath}): {e.Message}. Is Azurite running?");
        }
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what, params HttpStatusCode[] ok)
    {
        if (ok.Contains(response.StatusCode))
        {
            return;
        }

        var code = response.Headers.TryGetValues("x-ms-error-code", out var v) ? v.First() : null;
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        throw new StorageRequestException(response.StatusCode, code,
            $"Azure Storage refused to {what}: {(int)response.StatusCode} {code ?? response.ReasonPhrase} {Truncate(body)}");
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
