using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Durable.Cli.Infrastructure;

/// <summary>A response from the Durable host: status, the Location/Retry-After it gave, and the JSON body (if any).</summary>
public sealed record HostResponse(HttpStatusCode Status, JsonElement? Body, string RawBody, Uri? Location, TimeSpan? RetryAfter, string? ContinuationToken)
{
    public bool IsSuccess => (int)Status is >= 200 and < 300;
}

/// <summary>The host could not be reached at all (not running, wrong --server, firewall).</summary>
public sealed class HostUnreachableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Calls the Functions host's HTTP API with the function key from DURABLE_FUNCTIONS_KEY (sent as x-functions-key,
/// never printed). Every command group uses this one client, so new groups (topology, MoveTables, VDiff) get the same
/// server selection, authentication and "host is down" message for free.
/// </summary>
public sealed class DurableHostClient(HttpClient http, Uri server, string? functionKey)
{
    public const string KeyEnvironmentVariable = "DURABLE_FUNCTIONS_KEY";
    public const string ServerEnvironmentVariable = "DURABLE_SERVER";
    public const string DefaultServer = "http://localhost:7071";
    public const string ManagementBase = "runtime/webhooks/durabletask";

    public Uri Server { get; } = server;

    public Task<HostResponse> GetAsync(string path, CancellationToken ct, IDictionary<string, string>? headers = null) =>
        SendAsync(HttpMethod.Get, path, null, ct, headers);

    public Task<HostResponse> PostJsonAsync(string path, string? json, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, path, json, ct);

    public Task<HostResponse> DeleteAsync(string path, CancellationToken ct) =>
        SendAsync(HttpMethod.Delete, path, null, ct);

    public async Task<HostResponse> SendAsync(HttpMethod method, string path, string? json, CancellationToken ct, IDictionary<string, string>? headers = null)
    {
        var uri = new Uri(Server, path);
        using var request = new HttpRequestMessage(method, uri);
        if (!string.IsNullOrEmpty(functionKey))
        {
            request.Headers.TryAddWithoutValidation("x-functions-key", functionKey);
        }

        foreach (var (k, v) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(k, v);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new HostUnreachableException(UnreachableMessage(Server, e.Message), e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new HostUnreachableException(UnreachableMessage(Server, $"no answer within {http.Timeout.TotalSeconds:0} s"), e);
        }

        using (response)
        {
            var raw = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            JsonElement? body = null;
            if (raw.Length > 0)
            {
                try
                {
                    using var doc = JsonDocument.Parse(raw);
                    body = doc.RootElement.Clone();
                }
                catch (JsonException)
                {
                    // Not JSON (e.g. a proxy's HTML error page): commands show the raw text instead.
                }
            }

            TimeSpan? retryAfter = response.Headers.RetryAfter?.Delta;
            var token = response.Headers.TryGetValues("x-ms-continuation-token", out var t) ? t.FirstOrDefault() : null;
            return new HostResponse(response.StatusCode, body, raw, response.Headers.Location, retryAfter, token);
        }
    }

    public static string UnreachableMessage(Uri server, string detail) =>
        $"cannot reach the Durable host at {server.GetLeftPart(UriPartial.Authority)}: {detail}. " +
        "Start it with `./infra/local/cluster.sh up` (or `dotnet run --project src/Functions`), " +
        $"or point durablectl at a running host with --server URL or {ServerEnvironmentVariable}.";
}
