using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Text;
using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Topology.Etcd;

/// <summary>
/// The process's connection to etcd: the project's one facade over the dotnet-etcd gRPC client. It adds what the
/// topology relies on and the package leaves to its caller: endpoints tried in order (a call moves to the next endpoint
/// only when nothing reached the previous one, so a write is never applied twice), one per-call timeout, a token per
/// endpoint re-fetched once when etcd says it expired, errors that name the endpoint and the call, and watches that
/// resume where they stopped. Nothing outside this folder sees a dotnet-etcd or protobuf type.
/// </summary>
/// <remarks>
/// Calls are named in errors by their etcd v3 API path (<c>/v3/kv/put</c>, <c>/v3/watch</c>...), the names etcd's
/// documentation and etcdctl use. dotnet-etcd's own watch manager writes reconnects to the console; it is not used:
/// <see cref="WatchAsync"/> drives etcd's Watch stream itself and reports reconnects through the given logger.
/// </remarks>
public sealed class EtcdConnection : IDisposable
{
    private readonly EtcdOptions _options;
    private readonly EtcdEndpoint[] _endpoints;
    private readonly ILogger _logger;
    private int _preferred; // index of the endpoint that last answered; calls start there

    public EtcdConnection(EtcdOptions options, ILogger? logger = null)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("EtcdOptions.Endpoints is empty; give at least one client URL such as http://127.0.0.1:2379.");
        }

        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _endpoints = [.. options.Endpoints.Select(uri => new EtcdEndpoint(uri, options))];
    }

    public EtcdConnection(string commaSeparatedEndpoints, ILogger? logger = null)
        : this(new EtcdOptions { Endpoints = EtcdOptions.ParseEndpoints(commaSeparatedEndpoints) }, logger)
    {
    }

    public IReadOnlyList<Uri> Endpoints => _options.Endpoints;

    // ---- KV ----

    public Task<EtcdRangeResult> RangeAsync(
        byte[] key, byte[]? rangeEnd = null, long limit = 0, long revision = 0, bool keysOnly = false, CancellationToken ct = default)
    {
        var request = EtcdMessages.RangeRequest(key, rangeEnd, limit, revision, keysOnly);
        return CallAsync("/v3/kv/range", async (e, headers, deadline, token) =>
            EtcdMessages.Range(await e.Client.GetAsync(request, headers, deadline, token).ConfigureAwait(false)), ct);
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
    public Task<long> PutAsync(string key, string value, long lease = 0, CancellationToken ct = default)
    {
        var request = new PutRequest { Key = EtcdMessages.Bytes(Encoding.UTF8.GetBytes(key)), Value = EtcdMessages.Bytes(Encoding.UTF8.GetBytes(value)), Lease = lease };
        return CallAsync("/v3/kv/put", async (e, headers, deadline, token) =>
            (await e.Client.PutAsync(request, headers, deadline, token).ConfigureAwait(false)).Header.Revision, ct);
    }

    /// <summary>Deletes one key, or every key under it when <paramref name="prefix"/>; returns how many were deleted.</summary>
    public Task<long> DeleteAsync(string key, bool prefix = false, CancellationToken ct = default)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var request = EtcdMessages.DeleteRequest(keyBytes, prefix ? PrefixEnd(keyBytes) : null);
        return CallAsync("/v3/kv/deleterange", async (e, headers, deadline, token) =>
            (await e.Client.DeleteAsync(request, headers, deadline, token).ConfigureAwait(false)).Deleted, ct);
    }

    /// <summary>Runs <paramref name="success"/> if every compare holds, else <paramref name="failure"/>, atomically.</summary>
    public Task<EtcdTxnResult> TxnAsync(
        IEnumerable<EtcdCompare> compares, IEnumerable<EtcdOp> success, IEnumerable<EtcdOp>? failure = null, CancellationToken ct = default)
    {
        var request = EtcdMessages.Txn(compares, success, failure);
        return CallAsync("/v3/kv/txn", async (e, headers, deadline, token) =>
            EtcdMessages.TxnResult(await e.Client.TransactionAsync(request, headers, deadline, token).ConfigureAwait(false)), ct);
    }

    // ---- Leases ----

    /// <summary>Grants a lease; returns its id and the TTL etcd actually gave (it may raise a too-small TTL).</summary>
    public async Task<(long Id, long Ttl)> LeaseGrantAsync(TimeSpan ttl, CancellationToken ct = default)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(ttl.TotalSeconds));
        var response = await CallAsync("/v3/lease/grant", (e, headers, deadline, token) =>
            e.Client.LeaseGrantAsync(new LeaseGrantRequest { TTL = seconds }, headers, deadline, token), ct).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error))
        {
            throw new EtcdException($"etcd refused a lease of {seconds}s: {response.Error}");
        }

        return (response.ID, response.TTL);
    }

    /// <summary>Renews a lease once; returns the new TTL, or 0 when the lease has already expired or never existed.</summary>
    /// <remarks>
    /// One request and its answer on etcd's keep-alive stream; the caller paces the renewals. dotnet-etcd's own
    /// one-shot LeaseKeepAlive is not used: when the endpoint refuses the connection it ends in a cancellation, which
    /// reads as a timeout and would keep the renewal from moving to the next endpoint.
    /// </remarks>
    public Task<long> LeaseKeepAliveOnceAsync(long leaseId, CancellationToken ct = default) =>
        CallAsync("/v3/lease/keepalive", async (e, headers, deadline, token) =>
        {
            using var call = e.Client.GetConnection().LeaseClient.LeaseKeepAlive(headers, deadline, token);
            await StartStreamAsync(call, new LeaseKeepAliveRequest { ID = leaseId }, token).ConfigureAwait(false);
            if (!await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "etcd ended the keep-alive stream without an answer"));
            }

            var ttl = call.ResponseStream.Current.TTL;
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            return ttl;
        }, ct);

    public async Task LeaseRevokeAsync(long leaseId, CancellationToken ct = default)
    {
        try
        {
            await CallAsync("/v3/lease/revoke", (e, headers, deadline, token) =>
                e.Client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = leaseId }, headers, deadline, token), ct).ConfigureAwait(false);
        }
        catch (EtcdException e) when (e.Code == (int)StatusCode.NotFound)
        {
            // The lease already expired, which is what revoking wanted.
        }
    }

    /// <summary>Seconds left on a lease, or -1 when it has expired or never existed.</summary>
    public Task<long> LeaseTimeToLiveAsync(long leaseId, CancellationToken ct = default) =>
        CallAsync("/v3/lease/timetolive", async (e, headers, deadline, token) =>
            (await e.Client.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = leaseId }, headers, deadline, token).ConfigureAwait(false)).TTL, ct);

    // ---- Watch ----

    /// <summary>
    /// Streams changes to a key (or every key under it when <paramref name="prefix"/>) from
    /// <paramref name="startRevision"/> (0: from now). The watch survives etcd restarts and endpoint failures: it
    /// reconnects (to the next endpoint, with backoff) and resumes just after the last revision it delivered, so no
    /// event is lost or repeated. If that revision was compacted meanwhile, the events in between are gone: it yields
    /// one batch with <see cref="EtcdWatchBatch.CompactRevision"/> set and no events (the reader must re-read current
    /// state), then goes on from the compaction revision itself. It ends only by cancellation; a watch etcd refuses
    /// (permission denied, a wrong password) throws <see cref="EtcdException"/>.
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
            var create = new WatchCreateRequest { Key = EtcdMessages.Bytes(keyBytes), StartRevision = next };
            if (prefix)
            {
                create.RangeEnd = EtcdMessages.Bytes(PrefixEnd(keyBytes));
            }

            var endpoint = _endpoints[(Volatile.Read(ref _preferred) + failures) % _endpoints.Length];
            var compacted = false;
            string? problem = null;
            Metadata? headers = null;
            AsyncDuplexStreamingCall<WatchRequest, WatchResponse>? call = null;
            try
            {
                headers = await endpoint.HeadersAsync(_options, DateTime.UtcNow + _options.RequestTimeout, ct).ConfigureAwait(false);
                call = endpoint.Client.GetConnection().WatchClient.Watch(headers, cancellationToken: ct);
                await StartStreamAsync(call, new WatchRequest { CreateRequest = create }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsWatchInterruption(e, ct))
            {
                call?.Dispose();
                call = null;
                problem = Describe(e);
            }

            if (call is not null)
            {
                using (call)
                {
                    while (!ct.IsCancellationRequested)
                    {
                        WatchResponse response;
                        try
                        {
                            if (!await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
                            {
                                problem = "etcd ended the watch stream";
                                break;
                            }

                            response = call.ResponseStream.Current;
                        }
                        catch (RpcException e) when (IsTokenRejected(e) && !authRetried)
                        {
                            // The auth token expired during a long watch: log in again and resume.
                            endpoint.ForgetToken(headers);
                            authRetried = true;
                            problem = e.Status.Detail;
                            break;
                        }
                        catch (Exception e) when (IsWatchInterruption(e, ct))
                        {
                            problem = Describe(e); // connection dropped (e.g. etcd restarted): reconnect and resume
                            break;
                        }

                        if (response.CompactRevision > 0)
                        {
                            // The wanted history is gone; tell the reader to re-read, then continue from what is left.
                            _logger.LogWarning(
                                "etcd watch on {Key} wanted revision {Wanted}, compacted up to {Compacted}; the reader re-reads current state.",
                                key, next, response.CompactRevision);
                            next = response.CompactRevision;
                            compacted = true;
                            failures = 0;
                            authRetried = false;
                            yield return new EtcdWatchBatch([], response.CompactRevision, response.CompactRevision);
                            break;
                        }

                        if (response.Canceled)
                        {
                            if (_options.User is null || authRetried)
                            {
                                throw new EtcdException($"etcd at {endpoint.Uri} cancelled the watch on '{key}' (/v3/watch): {response.CancelReason}");
                            }

                            // etcd answers a watch created with a token it no longer knows (simple tokens die with
                            // the member, e.g. on a restart) with "permission denied": authenticate again once.
                            endpoint.ForgetToken(headers);
                            authRetried = true;
                            problem = $"etcd refused the watch ({response.CancelReason}); authenticating again";
                            break;
                        }

                        if (failures > 0)
                        {
                            _logger.LogInformation("etcd watch on {Key} resumed at {Endpoint} from revision {Revision}.", key, endpoint.Uri, next);
                        }

                        failures = 0;
                        authRetried = false;
                        if (response.Events.Count > 0)
                        {
                            var events = response.Events.Select(EtcdMessages.Event).ToList();
                            next = events[^1].Kv.ModRevision + 1;
                            yield return new EtcdWatchBatch(events, response.Header?.Revision ?? 0);
                        }
                        else if (next == 0 && response.Created)
                        {
                            // "From now" must mean the revision the watch was created at, not a later reconnect time.
                            next = (response.Header?.Revision ?? 0) + 1;
                        }
                    }
                }
            }

            if (!ct.IsCancellationRequested && !compacted)
            {
                failures++;
                var level = failures == 1 ? LogLevel.Warning : LogLevel.Debug;
                _logger.Log(level, "etcd watch on {Key} interrupted at {Endpoint} ({Problem}); reconnecting (attempt {Attempt}) to resume from revision {Revision}.",
                    key, endpoint.Uri, problem, failures, next);
                await BackoffAsync(failures, ct).ConfigureAwait(false);
            }
        }

        // A watch ends only by cancellation, and says so the same way wherever the cancellation caught it.
        ct.ThrowIfCancellationRequested();
    }

    // ---- Plumbing ----

    /// <summary>
    /// Sends the first request of a stream call. A call that fails before it starts (the endpoint refused the
    /// connection) leaves the request writer waiting in Grpc.Net.Client, so the write is raced against the call's
    /// response headers, which do fail then, with the call's own error.
    /// </summary>
    private static async Task StartStreamAsync<TRequest, TResponse>(
        AsyncDuplexStreamingCall<TRequest, TResponse> call, TRequest request, CancellationToken ct)
    {
        var write = call.RequestStream.WriteAsync(request, ct);
        var headers = call.ResponseHeadersAsync;
        if (await Task.WhenAny(write, headers).ConfigureAwait(false) == headers && headers.IsFaulted)
        {
            // The abandoned write fails too once the call is disposed; observe it so it is not reported as unobserved.
            _ = write.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            await headers.ConfigureAwait(false); // throws the call's failure
        }

        try
        {
            await write.ConfigureAwait(false);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // The write failed because the call did (it reports a cancellation then): the call's status says why.
            await headers.ConfigureAwait(false);
            throw;
        }
    }

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
        foreach (var endpoint in _endpoints)
        {
            endpoint.Dispose();
        }
    }

    /// <summary>
    /// One unary call: from the endpoint that last answered, on to the next only when this one was not reached
    /// (refused, unresolvable, TLS refused), so nothing is applied twice; bounded by <see cref="EtcdOptions.RequestTimeout"/>.
    /// </summary>
    private async Task<T> CallAsync<T>(
        string path, Func<EtcdEndpoint, Metadata?, DateTime, CancellationToken, Task<T>> call, CancellationToken ct)
    {
        var failures = new List<string>();
        var count = _endpoints.Length;
        var start = Volatile.Read(ref _preferred);
        for (var attempt = 0; attempt < count; attempt++)
        {
            var index = (start + attempt) % count;
            var endpoint = _endpoints[index];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                var result = await CallOnceAsync(endpoint, call, timeout.Token).ConfigureAwait(false);
                if (index != start)
                {
                    _logger.LogWarning("etcd: {Failed} unreachable; {Path} answered by {Endpoint}, which later calls start with.",
                        string.Join("; ", failures), path, endpoint.Uri);
                    Volatile.Write(ref _preferred, index);
                }

                return result;
            }
            catch (RpcException e) when (IsConnectFailure(e))
            {
                // Nothing reached this endpoint, so trying the next one cannot apply a write twice.
                failures.Add($"{endpoint.Uri}: {Describe(e)}");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                // The request may have reached etcd (the connection broke mid-way, or etcd lost its leader): resending
                // could apply it twice, so the caller decides.
                throw new EtcdUnavailableException($"etcd at {endpoint.Uri} failed during {path}: {Describe(e)}", e);
            }
            catch (Exception e) when (e is OperationCanceledException || (e is RpcException { StatusCode: StatusCode.DeadlineExceeded or StatusCode.Cancelled }))
            {
                if (ct.IsCancellationRequested)
                {
                    throw new OperationCanceledException($"{path} was cancelled.", e, ct);
                }

                // A timed-out write may or may not have been applied: do not resend it elsewhere.
                throw new EtcdUnavailableException(
                    $"etcd at {endpoint.Uri} did not answer {path} within {_options.RequestTimeout.TotalSeconds:0.#}s.", e);
            }
            catch (RpcException e)
            {
                throw new EtcdException($"etcd {path} failed at {endpoint.Uri}: {e.Status.Detail}", (int)e.StatusCode, e);
            }
        }

        throw new EtcdUnavailableException(
            $"etcd is unreachable: no endpoint answered {path} ({string.Join("; ", failures)}). " +
            "Check that etcd runs and that the endpoints are right (client URLs such as http://127.0.0.1:2379).");
    }

    private async Task<T> CallOnceAsync<T>(
        EtcdEndpoint endpoint, Func<EtcdEndpoint, Metadata?, DateTime, CancellationToken, Task<T>> call, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + _options.RequestTimeout;
        for (var authAttempt = 0; ; authAttempt++)
        {
            var headers = await endpoint.HeadersAsync(_options, deadline, ct).ConfigureAwait(false);
            try
            {
                return await call(endpoint, headers, deadline, ct).ConfigureAwait(false);
            }
            catch (RpcException e) when (authAttempt == 0 && IsTokenRejected(e))
            {
                _logger.LogDebug("etcd at {Endpoint} rejected the auth token ({Detail}); authenticating again.", endpoint.Uri, e.Status.Detail);
                endpoint.ForgetToken(headers); // expired or invalid token: authenticate again once
            }
        }
    }

    private bool IsTokenRejected(RpcException e) =>
        _options.User is not null && e.Status.Detail.Contains("token", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Failures before any request byte reached etcd: refused or unresolvable, or a TLS handshake that failed. Only
    /// these are safe to retry on another endpoint.
    /// </summary>
    private static bool IsConnectFailure(RpcException e)
    {
        // Not by status code alone: a refused connection is Unavailable, a refused TLS handshake is Internal.
        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }
                or SocketException or AuthenticationException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A watch stream broke in a way reconnecting can fix (etcd restarted, unreachable, no leader yet).</summary>
    private static bool IsWatchInterruption(Exception e, CancellationToken ct) =>
        !ct.IsCancellationRequested && e switch
        {
            RpcException rpc => rpc.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal
                or StatusCode.Unknown or StatusCode.Cancelled or StatusCode.Aborted,
            IOException or HttpRequestException => true,
            _ => false,
        };

    /// <summary>The status and the innermost cause (e.g. "Connection refused"), which is what an operator acts on.</summary>
    private static string Describe(Exception e)
    {
        var text = e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
        var inner = (e as RpcException)?.Status.DebugException ?? e.InnerException;
        while (inner?.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner is not null && !text.Contains(inner.Message, StringComparison.Ordinal) ? $"{text} ({inner.Message})" : text;
    }

    private static Task BackoffAsync(int failures, CancellationToken ct) =>
        Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * Math.Pow(2, Math.Min(failures, 5)))), ct);
}
