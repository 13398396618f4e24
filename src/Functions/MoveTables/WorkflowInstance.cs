using Durable.Functions.Management;
using Durable.Workflows;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;

namespace Durable.Functions.MoveTables;

/// <summary>
/// A workflow's orchestration instance in Durable Functions' terms, at <c>.../{kind}/{keyspace}/{workflow}/instance</c>
/// (the statusQueryGetUri and purgeHistoryDeleteUri of create's answer) and <c>.../terminate</c>: GET answers the
/// instance status body, 202 while the workflow runs and 200 once it is done (Durable Functions pollers stop at 200),
/// the workflow's state (and so its phase) in <c>customStatus</c>; DELETE purges a finished workflow's history;
/// terminate and purge are refused (409) while the workflow owns streams, guards or routing rules.
/// </summary>
internal static class WorkflowInstance
{
    public static async Task<IResult> HandleAsync(HttpContext http, MoveTablesEnvironment env, DurableTaskClient client, string kind, string keyspace, string workflow, string instanceId)
    {
        if (HttpMethods.IsGet(http.Request.Method))
        {
            return await StatusAsync(http, client, kind, keyspace, workflow, instanceId).ConfigureAwait(false);
        }

        if (HttpMethods.IsDelete(http.Request.Method))
        {
            return await PurgeAsync(http, env, client, kind, keyspace, workflow, instanceId).ConfigureAwait(false);
        }

        return MoveTablesFunctions.Error(405, $"{http.Request.Method} .../instance is invalid: GET (status) or DELETE (purge a finished workflow's history).");
    }

    private static async Task<IResult> StatusAsync(HttpContext http, DurableTaskClient client, string kind, string keyspace, string workflow, string instanceId)
    {
        var meta = await client.GetInstanceAsync(instanceId, true, http.RequestAborted).ConfigureAwait(false);
        if (meta is null)
        {
            return MoveTablesFunctions.Error(404, $"No {kind} workflow {keyspace}.{workflow} (instance {instanceId}).");
        }

        var body = ManagementApi.StatusBody(meta, showInput: false);
        if (!IsDone(meta))
        {
            http.Response.Headers.Location = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}{http.Request.Path}{http.Request.QueryString}";
            http.Response.Headers.RetryAfter = Http.CheckStatusResponse.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Content(body.ToJsonString(ManagementApi.Json), "application/json", statusCode: StatusCodes.Status202Accepted);
        }

        return Results.Content(body.ToJsonString(ManagementApi.Json), "application/json", statusCode: StatusCodes.Status200OK);
    }

    /// <summary>
    /// Done: the orchestration ended, or the workflow says it finished (Completed, Cancelled, Failed) in the episode
    /// that ends it, a moment before the engine records the instance as completed.
    /// </summary>
    private static bool IsDone(OrchestrationMetadata meta)
    {
        if (meta.IsCompleted)
        {
            return true;
        }

        try
        {
            return meta.SerializedCustomStatus is not null && meta.ReadCustomStatusAs<WorkflowState>()?.IsFinished == true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private static async Task<IResult> PurgeAsync(HttpContext http, MoveTablesEnvironment env, DurableTaskClient client, string kind, string keyspace, string workflow, string instanceId)
    {
        var ct = http.RequestAborted;
        var meta = await client.GetInstanceAsync(instanceId, true, ct).ConfigureAwait(false);
        if (meta is null)
        {
            return MoveTablesFunctions.Error(404, $"No {kind} workflow {keyspace}.{workflow} (instance {instanceId}).");
        }

        if (await WorkflowHoldings.RefusalAsync(env, meta, "purge", ct).ConfigureAwait(false) is { } refusal)
        {
            return MoveTablesFunctions.Error(409, refusal);
        }

        if (!meta.IsCompleted && !(IsDone(meta) && await MoveTablesFunctions.FinishesSoonAsync(client, instanceId, ct).ConfigureAwait(false)))
        {
            return MoveTablesFunctions.Error(409, $"{kind} workflow {keyspace}.{workflow} is still running (instance {instanceId}); only a finished workflow's history can be purged. Cancel or Complete it first.");
        }

        var result = await client.PurgeInstanceAsync(instanceId, null, ct).ConfigureAwait(false);
        return Results.Json(new { instancesDeleted = result.PurgedInstanceCount }, ManagementApi.Json);
    }

    public static async Task<IResult> TerminateAsync(HttpContext http, MoveTablesEnvironment env, DurableTaskClient client, string instanceId)
    {
        var ct = http.RequestAborted;
        var meta = await client.GetInstanceAsync(instanceId, true, ct).ConfigureAwait(false);
        if (meta is null)
        {
            return MoveTablesFunctions.Error(404, $"No workflow instance {instanceId}.");
        }

        if (await WorkflowHoldings.RefusalAsync(env, meta, "terminate", ct).ConfigureAwait(false) is { } refusal)
        {
            return MoveTablesFunctions.Error(409, refusal);
        }

        if (meta.IsCompleted)
        {
            return MoveTablesFunctions.Error(410, $"Instance {instanceId} is {meta.RuntimeStatus}; there is nothing to terminate.");
        }

        var reason = http.Request.Query.TryGetValue("reason", out var r) ? r.ToString() : null;
        await client.TerminateInstanceAsync(instanceId, new TerminateInstanceOptions(reason), ct).ConfigureAwait(false);
        return Results.Accepted();
    }
}
