using System.Text.Json.Serialization;
using Durable.Functions.Management;
using Durable.Functions.Runner;
using Microsoft.AspNetCore.Http;

namespace Durable.Functions.Http;

/// <summary>
/// Durable Functions' check-status response (what <c>DurableTaskClient.CreateCheckStatusResponse</c> answers: 202, a
/// <c>Location</c> header on the status URI, <c>Retry-After</c>, and the HttpManagementPayload body), built in one
/// place for both hosts. A workflow's links point at the workflow's own endpoints under /api, which both the Azure
/// Functions build and the local runner serve with the same function keys: the Functions host's built-in webhooks do
/// not exist under the local runner, and under Azure they would terminate or purge a workflow without the check that
/// it no longer owns guards, streams or routing rules. A plain instance started through the management API gets
/// the management API's links (/runtime/webhooks/durabletask, which the local runner serves as the host does).
/// </summary>
public static class CheckStatusResponse
{
    /// <summary>Seconds a poller should wait between polls (a workflow moves in seconds, not milliseconds).</summary>
    public const int RetryAfterSeconds = 10;

    /// <summary>The payload for one workflow: its status, event (command), terminate and purge links, plus show/status/state.</summary>
    public static WorkflowCheckStatus ForWorkflow(HttpContext http, string kind, string keyspace, string workflow, string instanceId, bool created)
    {
        var basePath = $"{Origin(http)}/api/{kind.ToLowerInvariant()}/{keyspace}/{workflow}";
        var code = CodeQuery(http);
        string Link(string what, string? query = null) =>
            $"{basePath}/{what}{Query(query, code)}";

        return new WorkflowCheckStatus(
            instanceId,
            Link("instance"),
            Link("{eventName}"),
            Link("terminate", "reason={text}"),
            Link("instance"),
            Link("stop"),
            Link("start"),
            Link("show"),
            Link("status"),
            Link("state"),
            created);
    }

    /// <summary>The payload for an instance started through the management API (Durable Functions' own webhook links).</summary>
    public static CheckStatusPayload ForInstance(HttpContext http, string instanceId, FunctionsHostSettings settings)
    {
        var baseUri = $"{Origin(http)}{ManagementApi.BasePath}/instances/{Uri.EscapeDataString(instanceId)}";
        var query = $"taskHub={Uri.EscapeDataString(settings.HubName)}&connection={Uri.EscapeDataString(settings.StorageConnectionSettingName)}";
        var code = CodeQuery(http);
        if (code.Length > 0)
        {
            query += "&" + code;
        }

        return new CheckStatusPayload(
            instanceId,
            $"{baseUri}?{query}",
            $"{baseUri}/raiseEvent/{{eventName}}?{query}",
            $"{baseUri}/terminate?reason={{text}}&{query}",
            $"{baseUri}?{query}",
            $"{baseUri}/suspend?reason={{text}}&{query}",
            $"{baseUri}/resume?reason={{text}}&{query}");
    }

    /// <summary>202 with Location (the status URI) and Retry-After, as CreateCheckStatusResponse answers.</summary>
    public static IResult Accepted(HttpContext http, object payload, string statusQueryGetUri, System.Text.Json.JsonSerializerOptions json)
    {
        http.Response.Headers.Location = statusQueryGetUri;
        http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Json(payload, json, statusCode: StatusCodes.Status202Accepted);
    }

    private static string Origin(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}";

    /// <summary>A key the caller put in the URL is echoed so the links work the same way; a header key is never copied into a body.</summary>
    private static string CodeQuery(HttpContext http) =>
        http.Request.Query.TryGetValue(FunctionKeys.QueryName, out var c) && !string.IsNullOrEmpty(c) ? "code=" + Uri.EscapeDataString(c.ToString()) : "";

    private static string Query(string? query, string code)
    {
        var parts = new[] { query, code }.Where(p => !string.IsNullOrEmpty(p)).ToList();
        return parts.Count == 0 ? "" : "?" + string.Join("&", parts);
    }
}

/// <summary>
/// A workflow's check-status payload: Durable Functions' HttpManagementPayload fields (its events are the workflow's
/// commands; suspend and resume are Stop and Start) plus the workflow's own views and whether this create started it.
/// </summary>
public sealed record WorkflowCheckStatus(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("statusQueryGetUri")] string StatusQueryGetUri,
    [property: JsonPropertyName("sendEventPostUri")] string SendEventPostUri,
    [property: JsonPropertyName("terminatePostUri")] string TerminatePostUri,
    [property: JsonPropertyName("purgeHistoryDeleteUri")] string PurgeHistoryDeleteUri,
    [property: JsonPropertyName("suspendPostUri")] string SuspendPostUri,
    [property: JsonPropertyName("resumePostUri")] string ResumePostUri,
    [property: JsonPropertyName("showUri")] string ShowUri,
    [property: JsonPropertyName("statusUri")] string StatusUri,
    [property: JsonPropertyName("stateUri")] string StateUri,
    [property: JsonPropertyName("created")] bool Created)
{
    /// <summary>The opposite of <see cref="Created"/>, kept for callers written before it: true for a repeated create.</summary>
    [JsonPropertyName("existing")] public bool Existing => !Created;
}
