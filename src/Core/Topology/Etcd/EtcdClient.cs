using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Durable.Topology.Etcd;

/// <summary>
/// An etcd v3 client over the JSON gateway that etcd 3.4 serves on its client port (no gRPC package restores here).
/// Keys and values travel base64-encoded; int64 fields come back as JSON strings and fields at their default value
/// are left out, so every read here treats a missing field as zero/false.
/// </summary>
public sealed class EtcdClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly EtcdOptions _options;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _authLock = new(1, 1);
    private int _preferred; // index of the endpoint that last answered; requests start there
    private string? _token;

    public EtcdClient(EtcdOptions options)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("EtcdOptions.Endpoints is empty; give at least one client URL such as http://127.0.0.1:2379.");
        }

        _options = options;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            SslOptions = BuildSslOptions(options),
        };
        // Unary calls are bounded per request (a CancellationTokenSource), watches are not bounded at all.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public EtcdClient(string commaSeparatedEndpoints)
        : this(new EtcdOptions { Endpoints = EtcdOptions.ParseEndpoints(commaSeparatedEndpoints) })
    {
    }

    public IReadOnlyList<Uri> Endpoints => _options.Endpoints;

    // ---- KV ----

    public async Task<EtcdRangeResult> RangeAsync(
        byte[] key, byte[]? rangeEnd = null, long limit = 0, long revision = 0, bool keysOnly = false, CancellationToken ct = default)
    {
        var body = new JsonObject { ["key"] = B64(key) };
        if (rangeEnd is not null)
        {
            body["range_end"] = B64(rangeEnd);
        }

        if (limit > 0)
        {
            body["limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (revision > 0)
        {
            body["revision"] = revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (keysOnly)
        {
            body["keys_only"] = true;
        }

        var response = await CallAsync("/v3/kv/range", body, ct).ConfigureAwait(false);
        return ParseRange(response);
    }

    public async Task<EtcdKeyValue?> GetAsync(string key, CancellationToken ct = default)
    {
        var result = await RangeAsync(Encoding.UTF8.GetBytes(key), ct: ct).ConfigureAwait(false);
        return result.Kvs.Count > 0 ? result.Kvs[0] : null;
    }

    /// <summary>
    /// Every key under a prefix, read in pages of <paramref name="pageSize"/> at one revision, so the listing is a
    /// consistent snapshot even while others write.
    /// </summary>
    public async Task<(IReadOnlyList<EtcdKeyValue> Kvs, long Revision)> GetPrefixAsync(
        string prefix, int pageSize = 500, bool keysOnly = false, CancellationToken ct = default)
    {
        var prefixBytes = Encoding.UTF8.GetBytes(prefix);
        var end = PrefixEnd(prefixBytes);
        var all = new List<EtcdKeyValue>();
        var from = prefixBytes;
        long revision = 0;
        while (true)
        {
            var page = await RangeAsync(from, end, pageSize, revision, keysOnly, ct).ConfigureAwait(false);
            if (revision == 0)
            {
                revision = page.Revision;
            }

            all.AddRange(page.Kvs);
            if (!page.More || page.Kvs.Count == 0)
            {
                return (all, revision);
            }

            // Next page starts just after the last key returned: the key with a zero byte appended.
            from = [.. page.Kvs[^1].Key, 0];
        }
    }

    /// <summary>Puts a value; returns the revision of the write.</summary>
    public async Task<long> PutAsync(string key, string value, long lease = 0, CancellationToken ct = default)
    {
        var body = new JsonObject { ["key"] = B64(key), ["value"] = B64(value) };
        if (lease != 0)
        {
            body["lease"] = Str(lease);
        }

        var response = await CallAsync("/v3/kv/put", body, ct).ConfigureAwait(false);
        return HeaderRevision(response);
    }

    /// <summary>Deletes one key, or every key under it when <paramref name="prefix"/>; returns how many were deleted.</summary>
    public async Task<long> DeleteAsync(string key, bool prefix = false, CancellationToken ct = default)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var body = new JsonObject { ["key"] = B64(keyBytes) };
        if (prefix)
        {
            body["range_end"] = B64(PrefixEnd(keyBytes));
        }

        var response = await CallAsync("/v3/kv/deleterange", body, ct).ConfigureAwait(false);
        return Long(response, "deleted");
    }

    /// <summary>Runs <paramref name="success"/> if every compare holds, else <paramref name="failure"/>, atomically.</summary>
    public async Task<EtcdTxnResult> TxnAsync(
        IEnumerable<EtcdCompare> compares, IEnumerable<EtcdOp> success, IEnumerable<EtcdOp>? failure = null, CancellationToken ct = default)
    {
        var body = new JsonObject
        {
            ["compare"] = new JsonArray([.. compares.Select(CompareJson)]),
            ["success"] = new JsonArray([.. success.Select(OpJson)]),
            ["failure"] = new JsonArray([.. (failure ?? []).Select(OpJson)]),
        };
        var response = await CallAsync("/v3/kv/txn", body, ct).ConfigureAwait(false);
        var ranges = new List<EtcdRangeResult>();
        if (response["responses"] is JsonArray responses)
        {
            foreach (var item in responses)
            {
                if (item?["response_range"] is JsonObject range)
                {
                    ranges.Add(ParseRange(range));
                }
            }
        }

        return new EtcdTxnResult(Bool(response, "succeeded"), HeaderRevision(response), ranges);
    }

    // ---- Leases ----

    /// <summary>Grants a lease; returns its id and the TTL etcd actually gave (it may raise a too-small TTL).</summary>
    public async Task<(long Id, long Ttl)> LeaseGrantAsync(TimeSpan ttl, CancellationToken ct = default)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(ttl.TotalSeconds));
        var response = await CallAsync("/v3/lease/grant", new JsonObject { ["TTL"] = Str(seconds) }, ct).ConfigureAwait(false);
        if (response["error"] is JsonNode error && !string.IsNullOrEmpty(error.GetValue<string>()))
        {
            throw new EtcdException($"etcd refused a lease of {seconds}s: {error}");
        }

        return (Long(response, "ID"), Long(response, "TTL"));
    }

    /// <summary>Renews a lease once; returns the new TTL, or 0 when the lease has already expired or never existed.</summary>
    public async Task<long> LeaseKeepAliveOnceAsync(long leaseId, CancellationToken ct = default)
    {
        // The gateway maps the bidirectional keep-alive stream onto one POST: one request line in, one result out.
        var response = await CallAsync("/v3/lease/keepalive", new JsonObject { ["ID"] = Str(leaseId) }, ct).ConfigureAwait(false);
        var result = response["result"] as JsonObject ?? response;
        return Long(result, "TTL");
    }

    public async Task LeaseRevokeAsync(long leaseId, CancellationToken ct = default)
    {
        try
        {
            await CallAsync("/v3/lease/revoke", new JsonObject { ["ID"] = Str(leaseId) }, ct).ConfigureAwait(false);
        }
        catch (EtcdException e) when (e.Code == 5)
        {
            // NotFound: the lease already expired, which is what revoking wanted.
        }
    }

    /// <summary>Seconds left on a lease, or -1 when it has expired or never existed.</summary>
    public async Task<long> LeaseTimeToLiveAsync(long leaseId, CancellationToken ct = default)
    {
        var response = await CallAsync("/v3/lease/timetolive", new JsonObject { ["ID"] = Str(leaseId) }, ct).ConfigureAwait(false);
        return Long(response, "TTL");
    }

    // ---- Watch ----

    /// <summary>
    /// Streams changes to a key (or every key under it when <paramref name="prefix"/>) from
    /// <paramref name="startRevision"/> (0: from now). The watch survives etcd restarts and endpoint failures: it
    /// reconnects (to the next endpoint, with backoff) and resumes just after the last revision it delivered, so no
    /// event is lost or repeated. If that revision was compacted meanwhile, it yields one batch with
    /// <see cref="EtcdWatchBatch.CompactRevision"/> set and goes on from the compaction point.
    /// </summary>
    public async IAsyncEnumerable<EtcdWatchBatch> WatchAsync(
        string key, bool prefix = false, long startRevision = 0, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var next = startRevision;
        var failures = 0;
        var authRetried = false;
        while (!ct.IsCancellationRequested)
        {
            var create = new JsonObject { ["key"] = B64(keyBytes) };
            if (prefix)
            {
                create["range_end"] = B64(PrefixEnd(keyBytes));
            }

            if (next > 0)
            {
                create["start_revision"] = Str(next);
            }

            var body = new JsonObject { ["create_request"] = create };
            var compacted = false;
            var endpoint = _options.Endpoints[(Volatile.Read(ref _preferred) + failures) % _options.Endpoints.Count];
            HttpResponseMessage? response = null;
            Stream? stream = null;
            try
            {
                response = await SendAsync(endpoint, "/v3/watch", body, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
                stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or EtcdUnavailableException && !ct.IsCancellationRequested)
            {
                response?.Dispose();
                failures++;
                await BackoffAsync(failures, ct).ConfigureAwait(false);
                continue;
            }

            using (response)
            using (var reader = new StreamReader(stream))
            {
                while (!ct.IsCancellationRequested)
                {
                    string? line;
                    try
                    {
                        line = await reader.ReadLineAsync(ct).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException && !ct.IsCancellationRequested)
                    {
                        break; // connection dropped (e.g. etcd restarted): reconnect and resume
                    }

                    if (line is null)
                    {
                        break;
                    }

                    if (line.Length == 0)
                    {
                        continue;
                    }

                    var message = JsonNode.Parse(line) as JsonObject;
                    if (message?["error"] is JsonObject error)
                    {
                        var text = error["message"]?.ToString() ?? "";
                        if (_options.User is not null && text.Contains("token", StringComparison.OrdinalIgnoreCase) && !authRetried)
                        {
                            // The auth token expired during a long watch: log in again and resume.
                            _token = null;
                            authRetried = true;
                            break;
                        }

                        var grpcCode = (int)Long(error, "grpc_code");
                        if (grpcCode is 14 or 4)
                        {
                            break; // Unavailable / DeadlineExceeded: etcd is (re)starting behind the gateway; reconnect
                        }

                        throw new EtcdException($"etcd watch on '{key}' failed: {text}", grpcCode);
                    }

                    if (message?["result"] is not JsonObject result)
                    {
                        continue;
                    }

                    failures = 0;
                    authRetried = false;
                    var compactRevision = Long(result, "compact_revision");
                    if (compactRevision > 0)
                    {
                        // The wanted history is gone; tell the reader to re-read, then continue from what is left.
                        next = compactRevision;
                        compacted = true;
                        yield return new EtcdWatchBatch([], compactRevision, compactRevision);
                        break;
                    }

                    if (Bool(result, "canceled"))
                    {
                        throw new EtcdException($"etcd cancelled the watch on '{key}': {result["cancel_reason"]}");
                    }

                    var headerRevision = HeaderRevision(result);
                    var events = new List<EtcdEvent>();
                    if (result["events"] is JsonArray items)
                    {
                        foreach (var item in items)
                        {
                            var type = item?["type"]?.GetValue<string>() == "DELETE" ? EtcdEventType.Delete : EtcdEventType.Put;
                            events.Add(new EtcdEvent(type, ParseKv((JsonObject)item!["kv"]!)));
                        }
                    }

                    if (events.Count > 0)
                    {
                        next = events[^1].Kv.ModRevision + 1;
                        yield return new EtcdWatchBatch(events, headerRevision);
                    }
                    else if (next == 0 && Bool(result, "created"))
                    {
                        // "From now" must mean the revision the watch was created at, not a later reconnect time.
                        next = headerRevision + 1;
                    }
                }
            }

            if (!ct.IsCancellationRequested && !compacted)
            {
                failures++;
                await BackoffAsync(failures, ct).ConfigureAwait(false);
            }
        }

        // A watch ends only by cancellation, and says so the same way wherever the cancellation caught it.
        ct.ThrowIfCancellationRequested();
    }

    // ---- Plumbing ----

    public static byte[] PrefixEnd(byte[] prefix)
    {
        var end = (byte[])prefix.Clone();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }

        return [0]; // every key: etcd reads "\0" as "to the end"
    }

    public void Dispose()
    {
        _http.Dispose();
        _authLock.Dispose();
    }

    private async Task<JsonObject> CallAsync(string path, JsonObject body, CancellationToken ct)
    {
        var failures = new List<string>();
        var count = _options.Endpoints.Count;
        var start = Volatile.Read(ref _preferred);
        for (var attempt = 0; attempt < count; attempt++)
        {
            var index = (start + attempt) % count;
            var endpoint = _options.Endpoints[index];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                var json = await CallOnceAsync(endpoint, path, body, timeout.Token).ConfigureAwait(false);
                Volatile.Write(ref _preferred, index);
                return json;
            }
            catch (HttpRequestException e) when (IsConnectFailure(e))
            {
                // Nothing reached this endpoint, so trying the next one cannot apply a write twice.
                failures.Add($"{endpoint}: {Describe(e)}");
            }
            catch (HttpRequestException e)
            {
                // The request may have reached etcd (the connection broke mid-way): resending could apply it twice.
                throw new EtcdUnavailableException($"etcd at {endpoint} failed during {path}: {Describe(e)}", e);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // A timed-out write may or may not have been applied: do not resend it elsewhere.
                throw new EtcdUnavailableException(
                    $"etcd at {endpoint} did not answer {path} within {_options.RequestTimeout.TotalSeconds:0.#}s.");
            }
        }

        throw new EtcdUnavailableException(
            $"etcd is unreachable: no endpoint answered {path} ({string.Join("; ", failures)}). " +
            "Check that etcd runs and that the endpoints are right.");
    }

    private async Task<JsonObject> CallOnceAsync(Uri endpoint, string path, JsonObject body, CancellationToken ct)
    {
        for (var authAttempt = 0; ; authAttempt++)
        {
            using var response = await SendAsync(endpoint, path, body, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            // Streaming endpoints (keepalive) answer with one JSON object per line; the first is the answer.
            var firstLine = text.Split('\n', 2)[0];
            var json = (string.IsNullOrWhiteSpace(firstLine) ? null : JsonNode.Parse(firstLine)) as JsonObject ?? new JsonObject();
            var error = json["error"] as JsonObject ?? (json.ContainsKey("code") && json.ContainsKey("message") ? json : null);
            if (error is null && response.IsSuccessStatusCode)
            {
                return json;
            }

            var message = error?["message"]?.ToString() ?? error?["error"]?.ToString() ?? $"HTTP {(int)response.StatusCode} {text}";
            var code = (int)(error is null ? 0 : Math.Max(Long(error, "code"), Long(error, "grpc_code")));
            if (authAttempt == 0 && _options.User is not null && message.Contains("token", StringComparison.OrdinalIgnoreCase))
            {
                _token = null; // expired or invalid token: authenticate again once
                continue;
            }

            throw new EtcdException($"etcd {path} failed: {message}", code);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(
        Uri endpoint, string path, JsonObject body, HttpCompletionOption completion, CancellationToken ct)
    {
        var token = await TokenAsync(endpoint, ct).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, path))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8),
        };
        request.Content.Headers.ContentType = Json;
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", token);
        }

        var response = await _http.SendAsync(request, completion, ct).ConfigureAwait(false);
        if (completion == HttpCompletionOption.ResponseHeadersRead && !response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            response.Dispose();
            // 5xx while etcd starts up or loses its leader is worth retrying; 4xx is a real refusal.
            throw status >= 500
                ? new EtcdUnavailableException($"etcd at {endpoint} answered {path} with HTTP {status}: {text}")
                : new EtcdException($"etcd {path} failed: HTTP {status} {text}");
        }

        return response;
    }

    private async Task<string?> TokenAsync(Uri endpoint, CancellationToken ct)
    {
        if (_options.User is null)
        {
            return null;
        }

        if (_token is not null)
        {
            return _token;
        }

        await _authLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_token is not null)
            {
                return _token;
            }

            var body = new JsonObject { ["name"] = _options.User, ["password"] = _options.Password ?? "" };
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, "/v3/auth/authenticate"))
            {
                Content = new StringContent(body.ToJsonString(), Encoding.UTF8),
            };
            request.Content.Headers.ContentType = Json;
            using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)) as JsonObject;
            var token = json?["token"]?.GetValue<string>();
            if (string.IsNullOrEmpty(token))
            {
                // The password is deliberately left out of the message.
                throw new EtcdException($"etcd at {endpoint} refused authentication for user '{_options.User}': {json?["message"]}");
            }

            _token = token;
            return token;
        }
        finally
        {
            _authLock.Release();
        }
    }

    /// <summary>Failures that happen before any request byte is sent: safe to try the next endpoint.</summary>
    private static bool IsConnectFailure(HttpRequestException e) =>
        e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
        || e.InnerException is SocketException;

    private static string Describe(HttpRequestException e) =>
        e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;

    private static Task BackoffAsync(int failures, CancellationToken ct) =>
        Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * Math.Pow(2, Math.Min(failures, 5)))), ct);

    private static SslClientAuthenticationOptions BuildSslOptions(EtcdOptions options)
    {
        var ssl = new SslClientAuthenticationOptions();
        if (options.ClientCertificateFile is not null)
        {
            ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(options.ClientCertificateFile, options.ClientKeyFile)];
        }

        if (options.CaCertificateFile is not null)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(options.CaCertificateFile);
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }

        return ssl;
    }

    private static JsonObject CompareJson(EtcdCompare compare)
    {
        var json = new JsonObject
        {
            ["key"] = B64(compare.Key),
            ["result"] = compare.Result switch
            {
                EtcdCompareResult.Equal => "EQUAL",
                EtcdCompareResult.Greater => "GREATER",
                EtcdCompareResult.Less => "LESS",
                _ => "NOT_EQUAL",
            },
        };
        switch (compare.Target)
        {
            case EtcdCompareTarget.Version:
                json["target"] = "VERSION";
                json["version"] = Str(compare.Number);
                break;
            case EtcdCompareTarget.Create:
                json["target"] = "CREATE";
                json["create_revision"] = Str(compare.Number);
                break;
            case EtcdCompareTarget.Mod:
                json["target"] = "MOD";
                json["mod_revision"] = Str(compare.Number);
                break;
            default:
                json["target"] = "VALUE";
                json["value"] = B64(compare.Value ?? []);
                break;
        }

        return json;
    }

    private static JsonObject OpJson(EtcdOp op) => op switch
    {
        EtcdPut put => new JsonObject
        {
            ["request_put"] = put.Lease != 0
                ? new JsonObject { ["key"] = B64(put.Key), ["value"] = B64(put.Value), ["lease"] = Str(put.Lease) }
                : new JsonObject { ["key"] = B64(put.Key), ["value"] = B64(put.Value) },
        },
        EtcdGet get => new JsonObject
        {
            ["request_range"] = get.RangeEnd is null
                ? new JsonObject { ["key"] = B64(get.Key) }
                : new JsonObject { ["key"] = B64(get.Key), ["range_end"] = B64(get.RangeEnd) },
        },
        EtcdDelete delete => new JsonObject
        {
            ["request_delete_range"] = delete.RangeEnd is null
                ? new JsonObject { ["key"] = B64(delete.Key) }
                : new JsonObject { ["key"] = B64(delete.Key), ["range_end"] = B64(delete.RangeEnd) },
        },
        _ => throw new ArgumentException($"Unknown etcd operation {op.GetType().Name}."),
    };

    private static EtcdRangeResult ParseRange(JsonObject json)
    {
        var kvs = new List<EtcdKeyValue>();
        if (json["kvs"] is JsonArray items)
        {
            foreach (var item in items)
            {
                kvs.Add(ParseKv((JsonObject)item!));
            }
        }

        return new EtcdRangeResult(kvs, Bool(json, "more"), Long(json, "count"), HeaderRevision(json));
    }

    private static EtcdKeyValue ParseKv(JsonObject kv) => new(
        FromB64(kv["key"]),
        FromB64(kv["value"]),
        Long(kv, "create_revision"),
        Long(kv, "mod_revision"),
        Long(kv, "version"),
        Long(kv, "lease"));

    private static long HeaderRevision(JsonObject json) => json["header"] is JsonObject header ? Long(header, "revision") : 0;

    private static long Long(JsonObject json, string name) => json[name] switch
    {
        null => 0,
        JsonValue value when value.TryGetValue<string>(out var text) => long.Parse(text, System.Globalization.CultureInfo.InvariantCulture),
        JsonValue value when value.TryGetValue<long>(out var number) => number,
        var other => throw new EtcdException($"etcd returned a non-integer {name}: {other.ToJsonString()}"),
    };

    private static bool Bool(JsonObject json, string name) => json[name] is JsonValue value && value.TryGetValue<bool>(out var b) && b;

    private static string Str(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes);

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static byte[] FromB64(JsonNode? node) => node is null ? [] : Convert.FromBase64String(node.GetValue<string>());
}
