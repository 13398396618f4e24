using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;

namespace Durable.AzureStorage;

/// <summary>
/// Sends Shared Key-signed REST requests (service version 2021-08-06) and turns failures into <see cref="StorageException"/>.
/// One instance (and its connection pool) serves every queue and container of an account.
/// </summary>
public sealed class StorageTransport : IDisposable
{
    public const string ServiceVersion = "2021-08-06";

    private readonly HttpClient _http;
    private readonly bool _ownsClient;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _requests = new(StringComparer.Ordinal);
    private long _requestCount;

    public StorageTransport(StorageAccount account, HttpClient? httpClient = null)
    {
        Account = account ?? throw new ArgumentNullException(nameof(account));
        _ownsClient = httpClient is null;
        _http = httpClient ?? new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 256,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            Timeout = TimeSpan.FromSeconds(100),
        };
    }

    public StorageAccount Account { get; }

    /// <summary>REST calls sent through this transport so far: the cost metric of the task hub (one activity's storage floor).</summary>
    public long RequestCount => Interlocked.Read(ref _requestCount);

    /// <summary>
    /// REST calls by operation (e.g. "POST queue messages", "PUT blob"), for profiling how many round trips a workload
    /// costs; a snapshot.
    /// </summary>
    public IReadOnlyDictionary<string, long> RequestCounts => new Dictionary<string, long>(_requests, StringComparer.Ordinal);

    public static StorageTransport FromConnectionString(string connectionString) => new(StorageAccount.Parse(connectionString));

    public QueueClient GetQueue(string name, QueueMessageEncoding encoding = QueueMessageEncoding.Text) => new(this, name, encoding);

    public BlobContainerClient GetContainer(string name) => new(this, name);

    internal async Task<HttpResponseMessage> SendAsync(
        HttpMethod method,
        Uri baseEndpoint,
        string path,
        IReadOnlyList<(string Name, string Value)> query,
        IReadOnlyDictionary<string, string>? headers,
        byte[]? body,
        string? contentType,
        CancellationToken ct,
        params HttpStatusCode[] expected)
    {
        var url = new StringBuilder(baseEndpoint.ToString().TrimEnd('/')).Append('/').Append(path);
        for (var i = 0; i < query.Count; i++)
        {
            url.Append(i == 0 ? '?' : '&').Append(query[i].Name).Append('=').Append(Uri.EscapeDataString(query[i].Value));
        }

        using var request = new HttpRequestMessage(method, url.ToString());
        request.Headers.TryAddWithoutValidation("x-ms-date", DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("x-ms-version", ServiceVersion);
        var standard = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (headers is not null)
        {
            foreach (var (name, value) in headers)
            {
                if (name is "If-Match" or "If-None-Match" or "If-Modified-Since" or "If-Unmodified-Since" or "Range")
                {
                    standard[name] = value;
                }

                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (body is not null || method == HttpMethod.Put || method == HttpMethod.Post)
        {
            request.Content = new ByteArrayContent(body ?? []);
            if (contentType is not null)
            {
                // Set verbatim: the signature must cover exactly the Content-Type that is sent.
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }
        }

        Sign(request, query, standard, body?.Length ?? 0, contentType);
        Count(method, baseEndpoint, path, query);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new StorageException(0, "ConnectionFailed",
                $"Cannot reach Azure Storage at {baseEndpoint} ({ex.Message}). Is Azurite running, and does the connection string name the right ports?");
        }

        if (Array.IndexOf(expected, response.StatusCode) >= 0)
        {
            return response;
        }

        using (response)
        {
            var code = response.Headers.TryGetValues("x-ms-error-code", out var codes) ? codes.FirstOrDefault() : null;
            var text = await response.Content.ReadAsStringAsync(ct);
            string? message = null;
            try
            {
                var xml = XDocument.Parse(text);
                code ??= xml.Root?.Element("Code")?.Value;
                message = xml.Root?.Element("Message")?.Value?.Split('\n')[0];
            }
            catch (System.Xml.XmlException)
            {
                // Not every error has an XML body (HEAD requests, 304).
            }

            throw new StorageException(response.StatusCode, code,
                $"{method} {path} failed: {(int)response.StatusCode} {code ?? response.ReasonPhrase}{(message is null ? string.Empty : $" ({message})")}");
        }
    }

    private void Count(HttpMethod method, Uri baseEndpoint, string path, IReadOnlyList<(string Name, string Value)> query)
    {
        Interlocked.Increment(ref _requestCount);
        var service = baseEndpoint == Account.QueueEndpoint ? "queue" : "blob";
        var what = service == "queue"
            ? path.Contains("/messages", StringComparison.Ordinal) ? "messages" : "queue"
            : query.FirstOrDefault(q => q.Name == "comp").Value ?? (path.Contains('/', StringComparison.Ordinal) ? "blob" : "container");
        _requests.AddOrUpdate($"{method.Method} {service} {what}", 1, static (_, n) => n + 1);
    }

    private void Sign(HttpRequestMessage request, IReadOnlyList<(string Name, string Value)> query, Dictionary<string, string> standard, int contentLength, string? contentType)
    {
        string H(string name) => standard.TryGetValue(name, out var v) ? v : string.Empty;
        var sb = new StringBuilder();
        sb.Append(request.Method.Method).Append('\n');
        sb.Append('\n'); // Content-Encoding (never sent: Azurite's queue signer orders it differently)
        sb.Append('\n'); // Content-Language
        sb.Append(contentLength == 0 ? string.Empty : contentLength.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append('\n'); // Content-MD5
        sb.Append(contentType ?? string.Empty).Append('\n');
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

        sb.Append('/').Append(Account.Name).Append(request.RequestUri!.AbsolutePath);
        foreach (var group in query.GroupBy(q => q.Name.ToLowerInvariant()).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            sb.Append('\n').Append(group.Key).Append(':').Append(string.Join(",", group.Select(q => q.Value).Order(StringComparer.Ordinal)));
        }

        var signature = Convert.ToBase64String(HMACSHA256.HashData(Account.Key, Encoding.UTF8.GetBytes(sb.ToString())));
        request.Headers.TryAddWithoutValidation("Authorization", $"SharedKey {Account.Name}:{signature}");
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _http.Dispose();
        }
    }
}
