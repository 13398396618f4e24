using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Durable.AzureStorage;

/// <summary>Optimistic-concurrency and lease guards of a blob request.</summary>
public sealed record BlobConditions
{
    /// <summary>Write/read only if the blob's ETag is this (else 412).</summary>
    public string? IfMatch { get; init; }

    /// <summary>"*" = create only (else 409 BlobAlreadyExists); an ETag = read only if changed (else 304).</summary>
    public string? IfNoneMatch { get; init; }

    /// <summary>The lease a leased blob requires for writes and deletes.</summary>
    public string? LeaseId { get; init; }

    public static readonly BlobConditions CreateOnly = new() { IfNoneMatch = "*" };

    public static BlobConditions Match(string etag) => new() { IfMatch = etag };
}

public sealed record BlobDownload(byte[] Content, string ETag, IReadOnlyDictionary<string, string> Metadata, string? LeaseState, string? LeaseStatus);

public sealed record BlobItem(string Name, string ETag, DateTimeOffset LastModified, long ContentLength, IReadOnlyDictionary<string, string> Metadata, string? LeaseState);

public sealed record BlobPage(IReadOnlyList<BlobItem> Items, string? NextMarker);

/// <summary>One blob container over REST: block blobs with ETag conditions and metadata, list, delete, and leases.</summary>
public sealed partial class BlobContainerClient
{
    private readonly StorageTransport _transport;

    internal BlobContainerClient(StorageTransport transport, string name)
    {
        if (!ContainerName().IsMatch(name) || name.Contains("--", StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"Container name '{name}' is invalid: use 3-63 lower-case letters, digits and single hyphens, starting with a letter or digit.", nameof(name));
        }

        _transport = transport;
        Name = name;
    }

    public string Name { get; }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex ContainerName();

    private static string BlobPath(string container, string blob)
    {
        if (string.IsNullOrEmpty(blob) || blob.Length > 1024)
        {
            throw new ArgumentException($"Blob name '{blob}' is invalid: use 1-1024 characters.", nameof(blob));
        }

        return container + "/" + string.Join('/', blob.Split('/').Select(Uri.EscapeDataString));
    }

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, IReadOnlyList<(string, string)> query, Dictionary<string, string>? headers,
        byte[]? body, string? contentType, CancellationToken ct, params HttpStatusCode[] expected) =>
        _transport.SendAsync(method, _transport.Account.BlobEndpoint, path, query, headers, body, contentType, ct, expected);

    private static Dictionary<string, string> Headers(BlobConditions? c)
    {
        var h = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (c?.IfMatch is { } m)
        {
            h["If-Match"] = m;
        }

        if (c?.IfNoneMatch is { } n)
        {
            h["If-None-Match"] = n;
        }

        if (c?.LeaseId is { } l)
        {
            h["x-ms-lease-id"] = l;
        }

        return h;
    }

    public async Task<bool> CreateIfNotExistsAsync(CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Put, Name, [("restype", "container")], null, null, null, ct, HttpStatusCode.Created, HttpStatusCode.Conflict);
        return r.StatusCode == HttpStatusCode.Created;
    }

    public async Task DeleteIfExistsAsync(CancellationToken ct = default)
    {
        using var _ = await Send(HttpMethod.Delete, Name, [("restype", "container")], null, null, null, ct, HttpStatusCode.Accepted, HttpStatusCode.NotFound);
    }

    /// <summary>Uploads a block blob under the given conditions; returns the new ETag. 409/412 surface as <see cref="StorageException.IsConflict"/>.</summary>
    public async Task<string> PutBlobAsync(string blob, byte[] content, string contentType = "application/octet-stream",
        IReadOnlyDictionary<string, string>? metadata = null, BlobConditions? conditions = null, CancellationToken ct = default)
    {
        var h = Headers(conditions);
        h["x-ms-blob-type"] = "BlockBlob";
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>())
        {
            if (!MetadataName().IsMatch(k))
            {
                throw new ArgumentException($"Metadata name '{k}' is invalid: use a C# identifier (letters, digits, underscore).", nameof(metadata));
            }

            h["x-ms-meta-" + k] = Uri.EscapeDataString(v);
        }

        using var r = await Send(HttpMethod.Put, BlobPath(Name, blob), [], h, content, contentType, ct, HttpStatusCode.Created);
        return r.Headers.ETag!.Tag;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex MetadataName();

    /// <summary>Downloads a blob; null when it does not exist.</summary>
    public async Task<BlobDownload?> GetBlobAsync(string blob, BlobConditions? conditions = null, CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Get, BlobPath(Name, blob), [], Headers(conditions), null, null, ct, HttpStatusCode.OK, HttpStatusCode.NotFound);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        var content = await r.Content.ReadAsByteArrayAsync(ct);
        return new BlobDownload(content, r.Headers.ETag!.Tag, ReadMetadata(r), Header(r, "x-ms-lease-state"), Header(r, "x-ms-lease-status"));
    }

    /// <summary>Properties and metadata without the content; null when the blob does not exist.</summary>
    public async Task<BlobItem?> GetPropertiesAsync(string blob, CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Head, BlobPath(Name, blob), [], null, null, null, ct, HttpStatusCode.OK, HttpStatusCode.NotFound);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        return new BlobItem(blob, r.Headers.ETag!.Tag, r.Content.Headers.LastModified ?? DateTimeOffset.MinValue,
            r.Content.Headers.ContentLength ?? 0, ReadMetadata(r), Header(r, "x-ms-lease-state"));
    }

    /// <summary>Deletes a blob under the given conditions; false when it did not exist.</summary>
    public async Task<bool> DeleteBlobAsync(string blob, BlobConditions? conditions = null, CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Delete, BlobPath(Name, blob), [], Headers(conditions), null, null, ct, HttpStatusCode.Accepted, HttpStatusCode.NotFound);
        return r.StatusCode == HttpStatusCode.Accepted;
    }

    /// <summary>One page of blobs whose names start with <paramref name="prefix"/>; pass NextMarker back for the next page.</summary>
    public async Task<BlobPage> ListBlobsAsync(string? prefix = null, string? marker = null, int maxResults = 1000, bool includeMetadata = true, CancellationToken ct = default)
    {
        var q = new List<(string, string)> { ("restype", "container"), ("comp", "list"), ("maxresults", maxResults.ToString(CultureInfo.InvariantCulture)) };
        if (!string.IsNullOrEmpty(prefix))
        {
            q.Add(("prefix", prefix));
        }

        if (!string.IsNullOrEmpty(marker))
        {
            q.Add(("marker", marker));
        }

        if (includeMetadata)
        {
            q.Add(("include", "metadata"));
        }

        using var r = await Send(HttpMethod.Get, Name, q, null, null, null, ct, HttpStatusCode.OK);
        var root = XDocument.Parse(await r.Content.ReadAsStringAsync(ct)).Root!;
        var items = root.Element("Blobs")?.Elements("Blob").Select(b =>
        {
            var p = b.Element("Properties")!;
            var meta = b.Element("Metadata")?.Elements().ToDictionary(e => e.Name.LocalName, e => Uri.UnescapeDataString(e.Value), StringComparer.OrdinalIgnoreCase)
                       ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var etag = p.Element("Etag")!.Value;
            return new BlobItem(
                b.Element("Name")!.Value,
                etag.StartsWith('"') ? etag : $"\"{etag}\"",
                QueueClient.ParseDate(p.Element("Last-Modified")!.Value),
                long.Parse(p.Element("Content-Length")?.Value ?? "0", CultureInfo.InvariantCulture),
                meta,
                p.Element("LeaseState")?.Value);
        }).ToList() ?? [];
        var next = root.Element("NextMarker")?.Value;
        return new BlobPage(items, string.IsNullOrEmpty(next) ? null : next);
    }

    /// <summary>Acquires a lease of 15-60 s (or -1 = infinite); null when someone else holds it (409 LeaseAlreadyPresent).</summary>
    public async Task<string?> TryAcquireLeaseAsync(string blob, TimeSpan duration, string? proposedLeaseId = null, CancellationToken ct = default)
    {
        var seconds = duration == Timeout.InfiniteTimeSpan ? -1 : (int)duration.TotalSeconds;
        if (seconds != -1 && seconds is < 15 or > 60)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "A blob lease lasts 15 to 60 seconds, or is infinite.");
        }

        var h = new Dictionary<string, string>
        {
            ["x-ms-lease-action"] = "acquire",
            ["x-ms-lease-duration"] = seconds.ToString(CultureInfo.InvariantCulture),
            ["x-ms-proposed-lease-id"] = proposedLeaseId ?? Guid.NewGuid().ToString(),
        };
        using var r = await Send(HttpMethod.Put, BlobPath(Name, blob), [("comp", "lease")], h, null, null, ct, HttpStatusCode.Created, HttpStatusCode.Conflict);
        return r.StatusCode == HttpStatusCode.Created ? r.Headers.GetValues("x-ms-lease-id").First() : null;
    }

    /// <summary>Renews a held lease; throws (409) when the lease is no longer ours.</summary>
    public async Task RenewLeaseAsync(string blob, string leaseId, CancellationToken ct = default)
    {
        using var _ = await Send(HttpMethod.Put, BlobPath(Name, blob), [("comp", "lease")],
            new Dictionary<string, string> { ["x-ms-lease-action"] = "renew", ["x-ms-lease-id"] = leaseId }, null, null, ct, HttpStatusCode.OK);
    }

    public async Task ReleaseLeaseAsync(string blob, string leaseId, CancellationToken ct = default)
    {
        using var _ = await Send(HttpMethod.Put, BlobPath(Name, blob), [("comp", "lease")],
            new Dictionary<string, string> { ["x-ms-lease-action"] = "release", ["x-ms-lease-id"] = leaseId }, null, null, ct, HttpStatusCode.OK);
    }

    public async Task<string> ChangeLeaseAsync(string blob, string leaseId, string proposedLeaseId, CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Put, BlobPath(Name, blob), [("comp", "lease")],
            new Dictionary<string, string> { ["x-ms-lease-action"] = "change", ["x-ms-lease-id"] = leaseId, ["x-ms-proposed-lease-id"] = proposedLeaseId },
            null, null, ct, HttpStatusCode.OK);
        return r.Headers.GetValues("x-ms-lease-id").First();
    }

    /// <summary>Breaks a lease (whoever holds it) after <paramref name="breakPeriod"/> (0-60 s); returns the seconds until it is broken.</summary>
    public async Task<int> BreakLeaseAsync(string blob, TimeSpan breakPeriod, CancellationToken ct = default)
    {
        using var r = await Send(HttpMethod.Put, BlobPath(Name, blob), [("comp", "lease")],
            new Dictionary<string, string> { ["x-ms-lease-action"] = "break", ["x-ms-lease-break-period"] = ((int)breakPeriod.TotalSeconds).ToString(CultureInfo.InvariantCulture) },
            null, null, ct, HttpStatusCode.Accepted);
        return int.Parse(r.Headers.GetValues("x-ms-lease-time").First(), CultureInfo.InvariantCulture);
    }

    private static string? Header(HttpResponseMessage r, string name) => r.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : null;

    private static Dictionary<string, string> ReadMetadata(HttpResponseMessage r) =>
        r.Headers.Where(h => h.Key.StartsWith("x-ms-meta-", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key["x-ms-meta-".Length..], h => Uri.UnescapeDataString(h.Value.First()), StringComparer.OrdinalIgnoreCase);
}
