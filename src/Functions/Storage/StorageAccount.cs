using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Durable.Functions.Storage;

/// <summary>
/// An Azure Storage account from a connection string, with Shared Key signing of REST requests. Only what the
/// triggers need: the queue and blob endpoints. <c>UseDevelopmentStorage=true</c> means Azurite on its default ports.
/// </summary>
public sealed class StorageAccount
{
    // The well-known Azurite development account; public by design (documented by Microsoft), not a secret.
    private const string DevAccount = "devstoreaccount1";
    private const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    // Pinned: Azurite rejects versions it does not know, and 2021-08-06 is one it was verified with.
    public const string ApiVersion = "2021-08-06";

    private readonly byte[] _key;

    private StorageAccount(string name, byte[] key, Uri queueEndpoint, Uri blobEndpoint)
    {
        Name = name;
        _key = key;
        QueueEndpoint = queueEndpoint;
        BlobEndpoint = blobEndpoint;
    }

    public string Name { get; }

    public Uri QueueEndpoint { get; }

    public Uri BlobEndpoint { get; }

    /// <summary>Parses a connection string; the error names the missing or bad part but never echoes the key.</summary>
    public static StorageAccount Parse(string connectionString, string settingName = "AzureWebJobsStorage")
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new StorageConfigurationException($"The storage connection setting {settingName} is empty; set it to UseDevelopmentStorage=true (Azurite) or a full connection string.");
        }

        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var piece in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = piece.IndexOf('=');
            if (eq <= 0)
            {
                throw new StorageConfigurationException($"{settingName} has a part without '=' (expected Name=Value pairs separated by ';').");
            }

            parts[piece[..eq]] = piece[(eq + 1)..];
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && string.Equals(dev, "true", StringComparison.OrdinalIgnoreCase))
        {
            return new StorageAccount(DevAccount, Convert.FromBase64String(DevKey),
                new Uri($"http://127.0.0.1:10001/{DevAccount}/"), new Uri($"http://127.0.0.1:10000/{DevAccount}/"));
        }

        var name = Required(parts, "AccountName", settingName);
        var keyText = Required(parts, "AccountKey", settingName);
        byte[] key;
        try
        {
            key = Convert.FromBase64String(keyText);
        }
        catch (FormatException)
        {
            throw new StorageConfigurationException($"{settingName}: AccountKey is not valid base64.");
        }

        var protocol = parts.GetValueOrDefault("DefaultEndpointsProtocol", "https");
        var suffix = parts.GetValueOrDefault("EndpointSuffix", "core.windows.net");
        var queue = Endpoint(parts, "QueueEndpoint", settingName) ?? new Uri($"{protocol}://{name}.queue.{suffix}/");
        var blob = Endpoint(parts, "BlobEndpoint", settingName) ?? new Uri($"{protocol}://{name}.blob.{suffix}/");
        return new StorageAccount(name, key, queue, blob);
    }

    private static string Required(Dictionary<string, string> parts, string name, string settingName) =>
        parts.TryGetValue(name, out var v) && v.Length > 0
            ? v
            : throw new StorageConfigurationException($"{settingName} has no {name}; give UseDevelopmentStorage=true or AccountName, AccountKey and endpoints.");

    private static Uri? Endpoint(Dictionary<string, string> parts, string name, string settingName)
    {
        if (!parts.TryGetValue(name, out var v))
        {
            return null;
        }

        if (!Uri.TryCreate(v.EndsWith('/') ? v : v + "/", UriKind.Absolute, out var uri))
        {
            throw new StorageConfigurationException($"{settingName}: {name} '{v}' is not an absolute URL.");
        }

        return uri;
    }

    /// <summary>Adds x-ms-date, x-ms-version and the SharedKey Authorization header to a request about to be sent.</summary>
    public void Sign(HttpRequestMessage request)
    {
        request.Headers.Remove("x-ms-date");
        request.Headers.Remove("x-ms-version");
        request.Headers.TryAddWithoutValidation("x-ms-date", DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("x-ms-version", ApiVersion);
        var content = request.Content;
        var length = content?.Headers.ContentLength ?? 0;
        string H(string name) => request.Headers.TryGetValues(name, out var v) ? string.Join(",", v) : "";
        var sb = new StringBuilder();
        sb.Append(request.Method.Method).Append('\n');
        sb.Append(content?.Headers.ContentEncoding.Count > 0 ? string.Join(",", content.Headers.ContentEncoding) : "").Append('\n');
        sb.Append(content?.Headers.ContentLanguage.Count > 0 ? string.Join(",", content.Headers.ContentLanguage) : "").Append('\n');
        sb.Append(length == 0 ? "" : length.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append('\n'); // Content-MD5
        sb.Append(content?.Headers.ContentType?.ToString() ?? "").Append('\n');
        sb.Append('\n'); // Date: x-ms-date is used instead
        sb.Append(H("If-Modified-Since")).Append('\n');
        sb.Append(H("If-Match")).Append('\n');
        sb.Append(H("If-None-Match")).Append('\n');
        sb.Append(H("If-Unmodified-Since")).Append('\n');
        sb.Append(H("Range")).Append('\n');
        foreach (var h in request.Headers
                     .Where(h => h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
                     .Select(h => (Name: h.Key.ToLowerInvariant(), Value: string.Join(",", h.Value).Trim()))
                     .OrderBy(h => h.Name, StringComparer.Ordinal))
        {
            sb.Append(h.Name).Append(':').Append(h.Value).Append('\n');
        }

        var uri = request.RequestUri!;
        sb.Append('/').Append(Name).Append(uri.AbsolutePath);
        var query = ParseQuery(uri.Query);
        foreach (var group in query.GroupBy(p => p.Key.ToLowerInvariant()).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            sb.Append('\n').Append(group.Key).Append(':').Append(string.Join(",", group.Select(p => p.Value)));
        }

        using var hmac = new HMACSHA256(_key);
        var signature = Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(sb.ToString())));
        request.Headers.Authorization = new AuthenticationHeaderValue("SharedKey", $"{Name}:{signature}");
    }

    private static List<KeyValuePair<string, string>> ParseQuery(string query)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var k = WebUtility.UrlDecode(eq < 0 ? pair : pair[..eq]);
            var v = eq < 0 ? "" : WebUtility.UrlDecode(pair[(eq + 1)..]);
            result.Add(new(k, v));
        }

        return result;
    }
}

public sealed class StorageConfigurationException(string message) : Exception(message);

/// <summary>A storage call that failed, with the service's status and x-ms-error-code.</summary>
public sealed class StorageRequestException(HttpStatusCode status, string? errorCode, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    public string? ErrorCode { get; } = errorCode;
}
