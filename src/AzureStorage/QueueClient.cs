using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Durable.AzureStorage;

/// <summary>How message text is put on the wire: XML-escaped UTF-8, or base64 (the Azure Functions queue-trigger default).</summary>
public enum QueueMessageEncoding
{
    Text,
    Base64,
}

/// <summary>A dequeued (or peeked) message. <see cref="PopReceipt"/> is null for peeked messages.</summary>
public sealed record QueueMessage(
    string MessageId,
    string? PopReceipt,
    int DequeueCount,
    string Text,
    DateTimeOffset InsertionTime,
    DateTimeOffset? NextVisibleTime);

/// <summary>What Put Message returns: enough to update or delete the message later.</summary>
public sealed record QueueMessageReceipt(string MessageId, string PopReceipt, DateTimeOffset NextVisibleTime);

/// <summary>One Azure Storage queue over REST (create, put, get with visibility timeout, peek, update, delete, length).</summary>
public sealed partial class QueueClient
{
    /// <summary>The service's limit on message text (after encoding).</summary>
    public const int MaxMessageBytes = 64 * 1024;

    /// <summary>The longest visibility delay a message may get (7 days).</summary>
    public static readonly TimeSpan MaxVisibilityTimeout = TimeSpan.FromSeconds(604800);

    private readonly StorageTransport _transport;

    internal QueueClient(StorageTransport transport, string name, QueueMessageEncoding encoding)
    {
        ValidateName(name);
        _transport = transport;
        Name = name;
        Encoding = encoding;
    }

    public string Name { get; }

    public QueueMessageEncoding Encoding { get; }

    /// <summary>Queue names: 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit.</summary>
    public static void ValidateName(string name)
    {
        if (name is null || !QueueName().IsMatch(name) || name.Contains("--", StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"Queue name '{name}' is invalid: use 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit.", nameof(name));
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex QueueName();

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, IReadOnlyList<(string, string)> query, byte[]? body, CancellationToken ct, params HttpStatusCode[] expected) =>
        _transport.SendAsync(method, _transport.Account.QueueEndpoint, path, query, null, body, body is null ? null : "application/xml", ct, expected);

    /// <summary>Creates the queue; true when it was created, false when it already existed.</summary>
    public async Task<bool> CreateIfNotExistsAsync(CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Put, Name, [], null, ct, HttpStatusCode.Created, HttpStatusCode.NoContent, HttpStatusCode.Conflict);
        return r.StatusCode == HttpStatusCode.Created;
    }

    public async Task DeleteIfExistsAsync(CancellationToken ct = default)
    {
        using var _ = await Send(HttpMethod.Delete, Name, [], null, ct, HttpStatusCode.NoContent, HttpStatusCode.NotFound);
    }

    public async Task ClearAsync(CancellationToken ct = default)
    {
        using var _ = await Send(HttpMethod.Delete, $"{Name}/messages", [], null, ct, HttpStatusCode.NoContent);
    }

    /// <summary>Adds a message, invisible for <paramref name="visibilityDelay"/>; TTL infinite unless given.</summary>
    public async Task<QueueMessageReceipt> PutMessageAsync(string text, TimeSpan? visibilityDelay = null, TimeSpan? timeToLive = null, CancellationToken ct = default)
    {
        var query = new List<(string, string)>();
        if (visibilityDelay is { } d && d > TimeSpan.Zero)
        {
            query.Add(("visibilitytimeout", Seconds(d, "visibility delay").ToString(CultureInfo.InvariantCulture)));
        }

        query.Add(("messagettl", timeToLive is { } ttl ? Seconds(ttl, "time to live").ToString(CultureInfo.InvariantCulture) : "-1"));
        using var r = await Send(HttpMethod.Post, $"{Name}/messages", query, Body(text), ct, HttpStatusCode.Created);
        var m = XDocument.Parse(await r.Content.ReadAsStringAsync(ct)).Root!.Element("QueueMessage")!;
        return new QueueMessageReceipt(m.Element("MessageId")!.Value, m.Element("PopReceipt")!.Value, ParseDate(m.Element("TimeNextVisible")!.Value));
    }

    /// <summary>Dequeues up to <paramref name="count"/> (1-32) messages, hiding them for <paramref name="visibilityTimeout"/>.</summary>
    public async Task<IReadOnlyList<QueueMessage>> GetMessagesAsync(int count, TimeSpan visibilityTimeout, CancellationToken ct = default)
    {
        if (count is < 1 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "Between 1 and 32 messages can be dequeued at once.");
        }

        using var r = await Send(HttpMethod.Get, $"{Name}/messages",
            [("numofmessages", count.ToString(CultureInfo.InvariantCulture)), ("visibilitytimeout", Math.Max(1, Seconds(visibilityTimeout, "visibility timeout")).ToString(CultureInfo.InvariantCulture))],
            null, ct, HttpStatusCode.OK);
        return ParseList(await r.Content.ReadAsStringAsync(ct));
    }

    public async Task<IReadOnlyList<QueueMessage>> PeekMessagesAsync(int count = 1, CancellationToken ct = default)
    {
        if (count is < 1 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "Between 1 and 32 messages can be peeked at once.");
        }

        using var r = await Send(HttpMethod.Get, $"{Name}/messages", [("peekonly", "true"), ("numofmessages", count.ToString(CultureInfo.InvariantCulture))], null, ct, HttpStatusCode.OK);
        return ParseList(await r.Content.ReadAsStringAsync(ct));
    }

    /// <summary>Changes visibility (and optionally the text) of a dequeued message; returns the NEW pop receipt.</summary>
    public async Task<QueueMessageReceipt> UpdateMessageAsync(string messageId, string popReceipt, TimeSpan visibilityTimeout, string? newText = null, CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Put, $"{Name}/messages/{Uri.EscapeDataString(messageId)}",
            [("popreceipt", popReceipt), ("visibilitytimeout", Seconds(visibilityTimeout, "visibility timeout").ToString(CultureInfo.InvariantCulture))],
            newText is null ? null : Body(newText), ct, HttpStatusCode.NoContent);
        var receipt = r.Headers.GetValues("x-ms-popreceipt").First();
        var next = r.Headers.TryGetValues("x-ms-time-next-visible", out var v) ? ParseDate(v.First()) : DateTimeOffset.UtcNow + visibilityTimeout;
        return new QueueMessageReceipt(messageId, receipt, next);
    }

    /// <summary>Deletes a dequeued message; false when it was already gone (deleted by someone else or expired).</summary>
    public async Task<bool> DeleteMessageAsync(string messageId, string popReceipt, CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Delete, $"{Name}/messages/{Uri.EscapeDataString(messageId)}", [("popreceipt", popReceipt)], null, ct,
            HttpStatusCode.NoContent, HttpStatusCode.NotFound);
        return r.StatusCode == HttpStatusCode.NoContent;
    }

    public async Task<int> GetApproximateMessageCountAsync(CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Get, Name, [("comp", "metadata")], null, ct, HttpStatusCode.OK);
        return int.Parse(r.Headers.GetValues("x-ms-approximate-messages-count").First(), CultureInfo.InvariantCulture);
    }

    private byte[] Body(string text)
    {
        var encoded = Encoding == QueueMessageEncoding.Base64 ? Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text)) : EscapeXmlText(text);
        if (System.Text.Encoding.UTF8.GetByteCount(encoded) > MaxMessageBytes)
        {
            throw new ArgumentException(
                $"Message of {System.Text.Encoding.UTF8.GetByteCount(encoded)} bytes (encoded) exceeds the queue limit of {MaxMessageBytes}; store large payloads in a blob.", nameof(text));
        }

        return System.Text.Encoding.UTF8.GetBytes($"<QueueMessage><MessageText>{encoded}</MessageText></QueueMessage>");
    }

    /// <summary>Element text needs only &amp;, &lt; and &gt; escaped; leaving quotes alone keeps JSON from growing sixfold.</summary>
    public static string EscapeXmlText(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary>The size <paramref name="text"/> has on the wire with this queue's encoding.</summary>
    public int EncodedSize(string text) => Encoding == QueueMessageEncoding.Base64
        ? (System.Text.Encoding.UTF8.GetByteCount(text) + 2) / 3 * 4
        : System.Text.Encoding.UTF8.GetByteCount(EscapeXmlText(text));

    private IReadOnlyList<QueueMessage> ParseList(string xml)
    {
        var root = XDocument.Parse(xml).Root;
        if (root is null)
        {
            return [];
        }

        return root.Elements("QueueMessage").Select(m =>
        {
            var raw = m.Element("MessageText")?.Value ?? string.Empty;
            var text = Encoding == QueueMessageEncoding.Base64 ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(raw)) : raw;
            return new QueueMessage(
                m.Element("MessageId")!.Value,
                m.Element("PopReceipt")?.Value,
                int.Parse(m.Element("DequeueCount")?.Value ?? "0", CultureInfo.InvariantCulture),
                text,
                ParseDate(m.Element("InsertionTime")!.Value),
                m.Element("TimeNextVisible") is { } t ? ParseDate(t.Value) : null);
        }).ToList();
    }

    private static int Seconds(TimeSpan t, string what)
    {
        if (t < TimeSpan.Zero || t > MaxVisibilityTimeout && what != "time to live")
        {
            throw new ArgumentOutOfRangeException(what, t, $"The {what} must be between 0 and {MaxVisibilityTimeout.TotalDays} days.");
        }

        return (int)Math.Ceiling(t.TotalSeconds);
    }

    internal static DateTimeOffset ParseDate(string value) =>
        DateTimeOffset.ParseExact(value, "R", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
