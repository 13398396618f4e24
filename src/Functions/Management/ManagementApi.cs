using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Engine;
using Durable.Functions.Runner;
using DurableTask.Core.Exceptions;
using Durable.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Durable.Functions.Management;

/// <summary>
/// The Durable Functions HTTP management API at /runtime/webhooks/durabletask, over <see cref="DurableTaskClient"/>:
/// start (202 + Location + Retry-After + the check-status payload), instance status, listing with continuation
/// tokens, raiseEvent, terminate, suspend, resume and purge, with the status codes of the Functions extension's
/// HttpApiHandler (404 unknown instance, 410 finished instance, 400 bad input). Guarded by function keys under the
/// function name <c>durabletask</c>.
/// </summary>
public static class ManagementApi
{
    public const string BasePath = "/runtime/webhooks/durabletask";
    public const string FunctionName = "durabletask";

    // Relaxed escaping: bodies are JSON for API clients and terminals, and quotes in messages should read as quotes.
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Map(WebApplication app)
    {
        var api = app.MapGroup(BasePath).RequireFunctionKey(FunctionName, AuthorizationLevel.Function);
        api.MapPost("/orchestrators/{functionName}/{instanceId?}", StartAsync);
        api.MapGet("/instances/{instanceId}", GetStatusAsync);
        api.MapGet("/instances", ListAsync);
        api.MapPost("/instances/{instanceId}/raiseEvent/{eventName}", RaiseEventAsync);
        api.MapPost("/instances/{instanceId}/terminate", async (HttpContext h, string instanceId, string? reason, DurableTaskClient c) =>
            await HoldingsRefusalAsync(h, instanceId, c, "terminate").ConfigureAwait(false)
            ?? await ControlAsync(h, instanceId, c, "terminate", () => c.TerminateInstanceAsync(instanceId, new TerminateInstanceOptions(reason), h.RequestAborted)).ConfigureAwait(false));
        api.MapPost("/instances/{instanceId}/suspend", (HttpContext h, string instanceId, string? reason, DurableTaskClient c) =>
            ControlAsync(h, instanceId, c, "suspend", () => c.SuspendInstanceAsync(instanceId, reason, h.RequestAborted)));
        api.MapPost("/instances/{instanceId}/resume", (HttpContext h, string instanceId, string? reason, DurableTaskClient c) =>
            ControlAsync(h, instanceId, c, "resume", () => c.ResumeInstanceAsync(instanceId, reason, h.RequestAborted)));
        api.MapDelete("/instances/{instanceId}", PurgeAsync);
        api.MapDelete("/instances", PurgeManyAsync);
    }

    private static async Task<IResult> StartAsync(HttpContext http, string functionName, string? instanceId, DurableTaskClient client, DurableTaskRegistry registry, FunctionsHostSettings settings)
    {
        var names = registry.GetOrchestrators().Select(o => o.Key.Name).ToList();
        var known = names.FirstOrDefault(n => string.Equals(n, functionName, StringComparison.OrdinalIgnoreCase));
        if (known is null)
        {
            return Error(StatusCodes.Status404NotFound,
                $"No orchestrator named '{functionName}' is registered on this host; registered: {(names.Count == 0 ? "(none)" : string.Join(", ", names.Order()))}.");
        }

        var (input, bad) = await ReadJsonBodyAsync(http, requireJsonContentType: false).ConfigureAwait(false);
        if (bad is not null)
        {
            return bad;
        }

        string id;
        try
        {
            id = await client.ScheduleNewOrchestrationInstanceAsync(known, input, new StartOrchestrationOptions(instanceId), http.RequestAborted).ConfigureAwait(false);
        }
        catch (OrchestrationAlreadyExistsException e)
        {
            return Error(StatusCodes.Status409Conflict, e.Message);
        }
        catch (ArgumentException e)
        {
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }

        var payload = CheckStatusResponse.ForInstance(http, id, settings);
        return CheckStatusResponse.Accepted(http, payload, payload.StatusQueryGetUri, Json);
    }

    private static async Task<IResult> GetStatusAsync(
        HttpContext http, string instanceId, DurableHubClient client,
        bool? showInput, bool? showHistory, bool? showHistoryOutput, bool? returnInternalServerErrorOnFailure)
    {
        var m = await client.GetInstanceAsync(instanceId, getInputsAndOutputs: true, http.RequestAborted).ConfigureAwait(false);
        if (m is null)
        {
            return Error(StatusCodes.Status404NotFound, $"No orchestration instance '{instanceId}' exists.");
        }

        var body = StatusBody(m, showInput ?? true);
        if (showHistory == true)
        {
            var events = await client.GetHistoryAsync(instanceId, http.RequestAborted).ConfigureAwait(false) ?? [];
            if (showHistoryOutput != true)
            {
                foreach (var e in events.OfType<JsonObject>())
                {
                    e.Remove("Result");
                    e.Remove("Input");
                }
            }

            body["historyEvents"] = events;
        }

        var status = m.RuntimeStatus switch
        {
            OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Suspended => StatusCodes.Status202Accepted,
            OrchestrationRuntimeStatus.Failed when returnInternalServerErrorOnFailure == true => StatusCodes.Status500InternalServerError,
            _ => StatusCodes.Status200OK,
        };
        if (status == StatusCodes.Status202Accepted)
        {
            http.Response.Headers.Location = http.Request.Scheme + "://" + http.Request.Host + http.Request.PathBase + http.Request.Path + http.Request.QueryString;
            http.Response.Headers.RetryAfter = "5";
        }

        return Results.Content(body.ToJsonString(), "application/json", statusCode: status);
    }

    private static async Task<IResult> ListAsync(
        HttpContext http, DurableTaskClient client,
        string? runtimeStatus, string? instanceIdPrefix, string? createdTimeFrom, string? createdTimeTo, int? top, bool? showInput)
    {
        var (statuses, statusError) = ParseStatuses(runtimeStatus);
        if (statusError is not null)
        {
            return statusError;
        }

        var (from, fromError) = ParseTime(createdTimeFrom, "createdTimeFrom");
        var (to, toError) = ParseTime(createdTimeTo, "createdTimeTo");
        if ((fromError ?? toError) is { } timeError)
        {
            return timeError;
        }

        if (top is < 1 or > 1000)
        {
            return Error(StatusCodes.Status400BadRequest, $"top={top} is out of range; valid: 1 to 1000.");
        }

        var token = http.Request.Headers["x-ms-continuation-token"].ToString();
        var query = new OrchestrationQuery(from, to, statuses)
        {
            InstanceIdPrefix = string.IsNullOrEmpty(instanceIdPrefix) ? null : instanceIdPrefix,
            PageSize = top ?? OrchestrationQuery.DefaultPageSize,
            FetchInputsAndOutputs = showInput == true,
        };
        Page<OrchestrationMetadata>? page = null;
        await foreach (var first in client.GetAllInstancesAsync(query).AsPages(string.IsNullOrEmpty(token) ? null : token, query.PageSize).WithCancellation(http.RequestAborted).ConfigureAwait(false))
        {
            page = first;
            break;
        }

        page ??= new Page<OrchestrationMetadata>([], null);
        if (page.ContinuationToken is not null)
        {
            http.Response.Headers["x-ms-continuation-token"] = page.ContinuationToken;
        }

        var array = new JsonArray(page.Values.Select(m => (JsonNode)StatusBody(m, showInput == true)).ToArray());
        return Results.Content(array.ToJsonString(), "application/json");
    }

    private static async Task<IResult> RaiseEventAsync(HttpContext http, string instanceId, string eventName, DurableTaskClient client)
    {
        var (payload, bad) = await ReadJsonBodyAsync(http, requireJsonContentType: true).ConfigureAwait(false);
        if (bad is not null)
        {
            return bad;
        }

        var gone = await ExistsAndRunningAsync(instanceId, client, http.RequestAborted).ConfigureAwait(false);
        if (gone is not null)
        {
            return gone;
        }

        try
        {
            await client.RaiseEventAsync(instanceId, eventName, payload, http.RequestAborted).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }

        return Results.Accepted();
    }

    private static async Task<IResult> ControlAsync(HttpContext http, string instanceId, DurableTaskClient client, string operation, Func<Task> action)
    {
        var gone = await ExistsAndRunningAsync(instanceId, client, http.RequestAborted).ConfigureAwait(false);
        if (gone is not null)
        {
            return gone;
        }

        try
        {
            await action().ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            return Error(StatusCodes.Status400BadRequest, $"Cannot {operation} '{instanceId}': {e.Message}");
        }

        return Results.Accepted();
    }

    private static async Task<IResult> PurgeAsync(HttpContext http, string instanceId, DurableTaskClient client)
    {
        if (await HoldingsRefusalAsync(http, instanceId, client, "purge").ConfigureAwait(false) is { } refused)
        {
            return refused;
        }

        PurgeResult result;
        try
        {
            result = await client.PurgeInstanceAsync(instanceId, null, http.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            return Error(StatusCodes.Status409Conflict, e.Message);
        }
        catch (ArgumentException e)
        {
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }

        return result.PurgedInstanceCount == 0
            ? Error(StatusCodes.Status404NotFound, $"No orchestration instance '{instanceId}' exists.")
            : Results.Json(new { instancesDeleted = result.PurgedInstanceCount }, Json);
    }

    private static async Task<IResult> PurgeManyAsync(HttpContext http, DurableTaskClient client, string? createdTimeFrom, string? createdTimeTo, string? runtimeStatus)
    {
        if (string.IsNullOrEmpty(createdTimeFrom))
        {
            return Error(StatusCodes.Status400BadRequest, "createdTimeFrom is required to purge many instances (an ISO 8601 time, e.g. 2026-01-01T00:00:00Z).");
        }

        var (from, fromError) = ParseTime(createdTimeFrom, "createdTimeFrom");
        var (to, toError) = ParseTime(createdTimeTo, "createdTimeTo");
        var (statuses, statusError) = ParseStatuses(runtimeStatus);
        if ((fromError ?? toError ?? statusError) is { } error)
        {
            return error;
        }

        var result = await client.PurgeAllInstancesAsync(new PurgeInstancesFilter(from, to, statuses), http.RequestAborted).ConfigureAwait(false);
        return result.PurgedInstanceCount == 0
            ? Error(StatusCodes.Status404NotFound, "No finished instances matched the filter.")
            : Results.Json(new { instancesDeleted = result.PurgedInstanceCount }, Json);
    }

    /// <summary>The instance status body of Durable Functions' HTTP API (also a workflow's statusQueryGetUri answer).</summary>
    internal static JsonObject StatusBody(OrchestrationMetadata m, bool showInput)
    {
        var body = new JsonObject
        {
            ["name"] = m.Name,
            ["instanceId"] = m.InstanceId,
            ["runtimeStatus"] = m.RuntimeStatus.ToString(),
            // The serialized fields are set only when the query fetched inputs and outputs.
            ["input"] = showInput ? Parse(m.SerializedInput) : null,
            ["customStatus"] = Parse(m.SerializedCustomStatus),
            ["output"] = Parse(m.SerializedOutput),
            ["createdTime"] = m.CreatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["lastUpdatedTime"] = m.LastUpdatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        if (m.FailureDetails is { } f)
        {
            body["failureDetails"] = JsonSerializer.SerializeToNode(f, Json);
        }

        return body;
    }

    private static JsonNode? Parse(string? json)
    {
        if (json is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            // Stored text that is not JSON (should not happen) is shown as a string rather than failing the status call.
            return JsonValue.Create(json);
        }
    }

    /// <summary>
    /// 409 when the instance is a workflow that still owns streams, guards or routing rules (<see cref="WorkflowHoldings"/>);
    /// null otherwise, also on a host without a topology (it runs no workflows).
    /// </summary>
    private static async Task<IResult?> HoldingsRefusalAsync(HttpContext http, string instanceId, DurableTaskClient client, string operation)
    {
        // Workflow instances are named movetables:K.W and migrate:K.W (Names.InstanceId); nothing else can own guards.
        if (!(instanceId.StartsWith("movetables:", StringComparison.Ordinal) || instanceId.StartsWith("migrate:", StringComparison.Ordinal))
            || await client.GetInstanceAsync(instanceId, true, http.RequestAborted).ConfigureAwait(false) is not { } meta)
        {
            return null;
        }

        Durable.Workflows.MoveTablesEnvironment? env;
        try
        {
            env = http.RequestServices.GetService(typeof(Durable.Workflows.MoveTablesEnvironment)) as Durable.Workflows.MoveTablesEnvironment;
        }
        catch (InvalidOperationException)
        {
            return null; // a host configured without a topology ("MoveTables is not configured") runs no workflows
        }

        if (env is null)
        {
            return null;
        }

        return await WorkflowHoldings.RefusalAsync(env, meta, operation, http.RequestAborted).ConfigureAwait(false) is { } message
            ? Error(StatusCodes.Status409Conflict, message)
            : null;
    }

    private static async Task<IResult?> ExistsAndRunningAsync(string instanceId, DurableTaskClient client, CancellationToken ct)
    {
        var m = await client.GetInstanceAsync(instanceId, false, ct).ConfigureAwait(false);
        if (m is null)
        {
            return Error(StatusCodes.Status404NotFound, $"No orchestration instance '{instanceId}' exists.");
        }

        return m.IsCompleted
            ? Error(StatusCodes.Status410Gone, $"Instance '{instanceId}' is {m.RuntimeStatus}; it no longer accepts events or control operations.")
            : null;
    }

    private static async Task<(JsonElement? Value, IResult? Error)> ReadJsonBodyAsync(HttpContext http, bool requireJsonContentType)
    {
        if (requireJsonContentType && !(http.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return (null, Error(StatusCodes.Status400BadRequest, $"Content-Type must be application/json (was '{http.Request.ContentType ?? "(none)"}')."));
        }

        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, null);
        }

        try
        {
            using var doc = JsonDocument.Parse(text);
            return (doc.RootElement.ValueKind == JsonValueKind.Null ? null : doc.RootElement.Clone(), null);
        }
        catch (JsonException e)
        {
            return (null, Error(StatusCodes.Status400BadRequest, $"The request body is not valid JSON: {e.Message}"));
        }
    }

    private static (IReadOnlyList<OrchestrationRuntimeStatus>? Statuses, IResult? Error) ParseStatuses(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return (null, null);
        }

        string[] valid = ["Running", "Pending", "Completed", "Failed", "Terminated", "Suspended"];
        var result = new List<OrchestrationRuntimeStatus>();
        foreach (var s in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var match = valid.FirstOrDefault(v => string.Equals(v, s, StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                return (null, Error(StatusCodes.Status400BadRequest, $"runtimeStatus '{s}' is not a status; valid: {string.Join(", ", valid)}."));
            }

            result.Add(Enum.Parse<OrchestrationRuntimeStatus>(match));
        }

        return (result, null);
    }

    private static (DateTimeOffset? Value, IResult? Error) ParseTime(string? text, string name)
    {
        if (string.IsNullOrEmpty(text))
        {
            return (null, null);
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? (t, null)
            : (null, Error(StatusCodes.Status400BadRequest, $"{name} '{text}' is not a time; use ISO 8601, e.g. 2026-01-01T00:00:00Z."));
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new { error = ReasonPhrases(status), message }, Json, statusCode: status);

    private static string ReasonPhrases(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}

/// <summary>The check-status payload (Durable Functions' HttpManagementPayload).</summary>
public sealed record CheckStatusPayload(
    string Id,
    string StatusQueryGetUri,
    string SendEventPostUri,
    string TerminatePostUri,
    string PurgeHistoryDeleteUri,
    string SuspendPostUri,
    string ResumePostUri);
