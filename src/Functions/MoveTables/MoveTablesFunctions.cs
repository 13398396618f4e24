using System.Text.Json;
using System.Text.Json.Nodes;
using Durable.Composition;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Functions.Http;
using Durable.Functions.Management;
using Durable.Functions.Orchestrations;
using Durable.Topology;
using Durable.Workflows;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Azure.Functions.Worker;
using AuthorizationLevel = Microsoft.Azure.Functions.Worker.AuthorizationLevel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.MoveTables;

/// <summary>
/// The MoveTables HTTP API for pipelines (idempotent create, 202 with status URLs), the Workflow API and the routing
/// rules long-poll; every call is checked before anything changes, bad input gets 400 naming the bad value, a command
/// the workflow's state forbids gets 409.
/// </summary>
public static class MoveTablesFunctions
{
    // Relaxed escaping: messages quote identifiers in backticks, which the default encoder prints as \u0060.
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static IServiceCollection AddMoveTables(this IServiceCollection services, IConfiguration configuration)
    {
        // The engines come from the composition root (one etcd client per process, created on first use, so a host
        // without a topology still starts); the activities take their dependencies from it.
        services.AddDurableEngine(configuration);
        services.AddInterruptedCommandRecovery();
        services.TryAddSingleton<VDiffLifecycle.HostSettings>();
        services.AddFunctionsOf(typeof(MoveTablesFunctions));
        services.AddFunctionsOf<MoveTablesOrchestratorFunction>();
        foreach (var activity in MoveTablesOrchestration.ActivityClasses)
        {
            services.AddFunctionsOf(activity);
        }

        return services;
    }

    [Function("MoveTablesApi")]
    public static Task<IResult> MoveTablesApi(
        [HttpTrigger(AuthorizationLevel.Function, "get", "post", "delete", Route = "movetables/{keyspace}/{workflow}/{action}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        FunctionContext context) =>
        HandleAsync(request.HttpContext, context, client, WorkflowKinds.MoveTables);

    /// <summary>Migrate is the same orchestration with kind Migrate (instance migrate:K.W): the same API shape and idempotency.</summary>
    [Function("Migrate")]
    public static Task<IResult> Migrate(
        [HttpTrigger(AuthorizationLevel.Function, "get", "post", "delete", Route = "migrate/{keyspace}/{workflow}/{action}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        FunctionContext context) =>
        HandleAsync(request.HttpContext, context, client, WorkflowKinds.Migrate);

    [Function("RegisterExternalSource")]
    public static Task<IResult> RegisterExternalSource(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "externalsources")] HttpRequest request,
        FunctionContext context) =>
        ExternalSources.RegisterAsync(request.HttpContext, context);

    [Function("WorkflowList")]
    public static Task<IResult> WorkflowList(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "workflows/{keyspace}")] HttpRequest request,
        FunctionContext context) =>
        ListAsync(request.HttpContext, context);

    [Function("WorkflowShow")]
    public static Task<IResult> WorkflowShow(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "workflows/{keyspace}/{workflow}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        FunctionContext context) =>
        ShowWorkflowAsync(request.HttpContext, context, client);

    [Function("RoutingRules")]
    public static Task<IResult> RoutingRules(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "routingrules")] HttpRequest request,
        FunctionContext context) =>
        RoutingRulesAsync(request.HttpContext, context);

    internal static MoveTablesEnvironment Env(FunctionContext ctx) => ctx.Services.GetRequiredService<MoveTablesEnvironment>();

    internal static IResult Error(int status, string message) =>
        Results.Json(new { error = ReasonPhrases.GetReasonPhrase(status), message }, Json, statusCode: status);

    private static string Who(HttpContext http, string? fromBody) =>
        http.Request.Headers.TryGetValue("X-Durable-User", out var u) && !string.IsNullOrWhiteSpace(u) ? u.ToString() : fromBody ?? "http";

    internal static async Task<(JsonObject? Body, IResult? Error)> ReadBodyAsync(HttpContext http)
    {
        if (http.Request.ContentLength is 0 || (http.Request.ContentLength is null && !http.Request.Headers.ContainsKey("Transfer-Encoding")))
        {
            return (new JsonObject(), null);
        }

        try
        {
            var node = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted).ConfigureAwait(false);
            return node switch
            {
                null => (new JsonObject(), null),
                JsonObject o => (o, null),
                _ => (null, Error(400, "The request body must be a JSON object.")),
            };
        }
        catch (JsonException e)
        {
            return (null, Error(400, $"The request body is not valid JSON: {e.Message}"));
        }
    }

    /// <summary>
    /// The body as <typeparamref name="T"/>; a field <typeparamref name="T"/> does not have is an error naming it and the
    /// valid ones (a misspelled flag must not silently fall back to its default). <paramref name="extra"/>: top-level
    /// fields the endpoint reads itself.
    /// </summary>
    internal static T? As<T>(JsonNode? node, out string? error, params string[] extra)
    {
        error = null;
        if (node is JsonObject o && JsonFieldCheck.UnknownFields<T>(o, null, extra) is { } unknown)
        {
            error = unknown;
            return default;
        }

        try
        {
            return node is null ? default : node.Deserialize<T>();
        }
        catch (JsonException e)
        {
            error = $"The request body does not fit {typeof(T).Name}: {e.Message}";
            return default;
        }
    }

    private static async Task<(OrchestrationMetadata? Meta, WorkflowState? State)> LoadAsync(DurableTaskClient client, string instanceId, CancellationToken ct)
    {
        var meta = await client.GetInstanceAsync(instanceId, true, ct).ConfigureAwait(false);
        if (meta is null)
        {
            return (null, null);
        }

        var state = meta.SerializedCustomStatus is null ? meta.ReadInputAs<WorkflowState>() : meta.ReadCustomStatusAs<WorkflowState>();
        return (meta, state);
    }

    internal static async Task<IResult> HandleAsync(HttpContext http, FunctionContext ctx, DurableTaskClient client, string kind)
    {
        var keyspace = (string)http.Request.RouteValues["keyspace"]!;
        var workflow = (string)http.Request.RouteValues["workflow"]!;
        var action = ((string)http.Request.RouteValues["action"]!).ToLowerInvariant();
        try
        {
            Names.CheckKeyspace("--target-keyspace", keyspace);
            Names.CheckWorkflow(workflow);
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }

        var env = Env(ctx);
        var instanceId = Names.InstanceId(keyspace, workflow, kind);
        var ct = http.RequestAborted;
        if (action != "create" && kind == WorkflowKinds.MoveTables && await env.Registry.GetAsync(keyspace, workflow, ct).ConfigureAwait(false) is { } registered
            && registered.InstanceId.StartsWith("migrate:", StringComparison.Ordinal))
        {
            // `Workflow --keyspace K start|stop|delete` names no kind: the registry knows the workflow's instance.
            // The Migrate command rules still apply (its state says it is a Migrate).
            instanceId = registered.InstanceId;
        }

        if (action == "instance")
        {
            return await WorkflowInstance.HandleAsync(http, env, client, kind, keyspace, workflow, instanceId).ConfigureAwait(false);
        }

        if (HttpMethods.IsDelete(http.Request.Method))
        {
            return Error(405, $"DELETE is for .../{kind.ToLowerInvariant()}/{keyspace}/{workflow}/instance (purge a finished workflow's history), not '{action}'.");
        }

        if (action == "terminate" && HttpMethods.IsPost(http.Request.Method))
        {
            return await WorkflowInstance.TerminateAsync(http, env, client, instanceId).ConfigureAwait(false);
        }

        if (HttpMethods.IsGet(http.Request.Method))
        {
            var (meta, state) = await LoadAsync(client, instanceId, ct).ConfigureAwait(false);
            if (meta is null || state is null)
            {
                return Error(404, $"No {kind} workflow {keyspace}.{workflow} (instance {instanceId}).");
            }

            if (IncludeLogs(http) is not { } includeLogs)
            {
                return Error(400, $"include_logs '{http.Request.Query["include_logs"]}' is invalid: true or false.");
            }

            var views = new WorkflowViews(env);
            return action switch
            {
                "show" => Results.Json(await views.ShowAsync(keyspace, workflow, state, ct, includeLogs).ConfigureAwait(false), Json),
                "status" or "progress" => Results.Json(await views.StatusAsync(state, ct).ConfigureAwait(false), Json),
                "state" => Results.Json(state, Json),
                _ => Error(400, $"GET action '{action}' is invalid: show, status, state, instance."),
            };
        }

        var (body, bodyError) = await ReadBodyAsync(http).ConfigureAwait(false);
        if (bodyError is not null)
        {
            return bodyError;
        }

        if (action == "create")
        {
            return await CreateAsync(http, ctx, client, keyspace, workflow, body!, kind).ConfigureAwait(false);
        }

        string normalized;
        try
        {
            normalized = WorkflowActions.Normalize(action);
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message.Replace("Action", $"{kind} action", StringComparison.Ordinal) + " (or create)");
        }

        if (normalized == WorkflowActions.Approve)
        {
            return await ApproveAsync(http, ctx, client, kind, keyspace, workflow, instanceId, body!).ConfigureAwait(false);
        }

        var command = As<WorkflowCommand>(body, out var parseError, "dry_run");
        if (parseError is not null)
        {
            return Error(400, parseError);
        }

        command = (command ?? new WorkflowCommand()) with
        {
            Action = normalized,
            RequestId = ctx.InvocationId,
            RequestedBy = Who(http, command?.RequestedBy is "unknown" ? null : command?.RequestedBy),
        };
        var (existing, current) = await LoadAsync(client, instanceId, ct).ConfigureAwait(false);
        if (existing is null || current is null)
        {
            return Error(404, $"No {kind} workflow {keyspace}.{workflow}; create it first.");
        }

        try
        {
            CommandRules.Check(current, command);
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }
        catch (WorkflowStateException e)
        {
            return Error(409, e.Message);
        }

        if (VDiffGateRule.Gates(normalized) && !command.IgnoreVDiff
            && await new VDiffGateReader(new global::Durable.VDiff.VDiffService(env.Engine)).VerdictAsync(current, ct).ConfigureAwait(false) is { IsHeld: true } held)
        {
            // The VDiff gate: a held command fails now (it never waits to run later), naming the VDiff and what releases it.
            return Results.Json(new { error = ReasonPhrases.GetReasonPhrase(409), message = held.Describe(normalized), vdiff_gate = held }, Json, statusCode: StatusCodes.Status409Conflict);
        }

        if (body!["dry_run"]?.GetValue<bool>() == true || http.Request.Query["dry_run"] == "true")
        {
            return await DryRunAsync(ctx, current, command, normalized, ct).ConfigureAwait(false);
        }

        await client.RaiseEventAsync(instanceId, MoveTablesOrchestration.CommandEvent, command, ct).ConfigureAwait(false);
        ctx.Logger.LogInformation("{Kind} {Action} on {Instance} requested by {Who} (request {Request})", kind, normalized, instanceId, command.RequestedBy, command.RequestId);
        return Results.Json(new
        {
            id = instanceId,
            request_id = command.RequestId,
            action = normalized,
            statusQueryGetUri = Link(http, keyspace, workflow, "state", kind),
            showUri = Link(http, keyspace, workflow, "show", kind),
        }, Json, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// <c>dry_run</c>: what the command would do now, computed on the host from the workflow's state and the cluster by
    /// walking the same steps as the command itself (<see cref="SwitchPath"/>, <see cref="CleanupPath"/>). The command
    /// rules were checked first, so a command the state forbids gets the same 409 as the command would; a command the
    /// cluster would refuse (streams not Running, lagging) gets 409 with the steps up to the refusal. Changes nothing.
    /// </summary>
    private static async Task<IResult> DryRunAsync(FunctionContext ctx, WorkflowState current, WorkflowCommand command, string action, CancellationToken ct)
    {
        var operations = Env(ctx).Operations;
        DryRunReport report;
        switch (action)
        {
            case WorkflowActions.SwitchTraffic or WorkflowActions.ReverseTraffic:
                report = await operations.DryRunSwitchAsync(current, command.Switch ?? new SwitchOptions(), action == WorkflowActions.ReverseTraffic, ct).ConfigureAwait(false);
                break;
            case WorkflowActions.Complete or WorkflowActions.Cancel:
                report = await operations.DryRunCleanupAsync(action == WorkflowActions.Complete ? CleanupCommand.Complete : CleanupCommand.Cancel,
                    new CleanupRequest(current, command.Cleanup ?? new CleanupOptions()), ct).ConfigureAwait(false);
                break;
            default:
                return Error(400, $"--dry-run is supported for SwitchTraffic, ReverseTraffic, Complete and Cancel, not {action}.");
        }

        if (current.Spec.Approvals.Required && action is ApprovalActions.SwitchTraffic or ApprovalActions.Complete)
        {
            // The orchestration's step before the command's own: it waits, pending, for a signed approval.
            report = report with { Lines = [$"Wait for a signed approval of {action} from one of [{string.Join(" ", current.Spec.Approvals.Approvers)}] (traffic generation {current.TrafficGeneration})", .. report.Lines] };
        }

        var text = $"Dry Run results for {action} run at {DateTime.UtcNow:dd MMM yy HH:mm} UTC\nParameters: {DryRunParameters(current, command, action)}\n\n" + string.Join("\n", report.Lines);
        return report.Allowed
            ? Results.Json(new { dry_run = true, text, steps = report.Lines, path = report.Path }, Json)
            : Results.Json(new
            {
                error = ReasonPhrases.GetReasonPhrase(StatusCodes.Status409Conflict),
                message = $"{action} would be refused: {report.Message}",
                dry_run = true,
                text,
                steps = report.Lines,
                path = report.Path,
            }, Json, statusCode: StatusCodes.Status409Conflict);
    }

    /// <summary>The seeds' "Parameters:" line of a dry run: the flags the command runs with, defaults included, then the workflow.</summary>
    private static string DryRunParameters(WorkflowState current, WorkflowCommand command, string action)
    {
        var flags = new List<string>();
        if (action is WorkflowActions.SwitchTraffic or WorkflowActions.ReverseTraffic)
        {
            var o = command.Switch ?? new SwitchOptions();
            flags.Add($"--tablet-types={string.Join(",", o.Types())}");
            flags.Add(FormattableString.Invariant($"--max-replication-lag-allowed={o.MaxReplicationLagAllowedSeconds}s"));
            flags.Add(FormattableString.Invariant($"--timeout={o.TimeoutSeconds}s"));
            if (!o.EnableReverseReplication)
            {
                flags.Add("--enable-reverse-replication=false");
            }
        }
        else
        {
            var o = command.Cleanup ?? new CleanupOptions();
            flags.AddRange(new[] { ("--keep-data", o.KeepData), ("--rename-tables", o.RenameTables), ("--keep-routing-rules", o.KeepRoutingRules) }.Where(f => f.Item2).Select(f => f.Item1));
        }

        flags.Add("--dry-run");
        flags.Add($"{current.Spec.TargetKeyspace}.{current.Spec.Workflow}");
        return string.Join(" ", flags);
    }

    /// <summary>
    /// <c>POST …/approve</c>: the body is the signed approval itself, exactly as the approvals queue takes it
    /// (<see cref="ApprovalIntake"/>). 400 for a malformed one or one for another workflow, 403 for a bad signature,
    /// 404/409 for a workflow that is missing or finished; otherwise 202 and the workflow decides (pending action,
    /// traffic generation, expiry, nonce) and audits its decision under the returned request id.
    /// </summary>
    private static async Task<IResult> ApproveAsync(HttpContext http, FunctionContext ctx, DurableTaskClient client, string kind, string keyspace, string workflow,
        string instanceId, JsonObject body)
    {
        var ct = http.RequestAborted;
        SignedApproval approval;
        try
        {
            approval = ApprovalIntake.Read(body.ToJsonString(), Env(ctx).Approvals.Keys);
        }
        catch (ApprovalRefusedException e)
        {
            var hint = body.ContainsKey("approval") ? " Send the approval object itself as the body (docs/approvals.md), not wrapped in {\"approval\": …}." : "";
            return Error(e.BadSignature ? 403 : 400, e.Message + hint);
        }

        if (!string.Equals(approval.InstanceId, instanceId, StringComparison.Ordinal))
        {
            return Error(400, $"The approval is for instance '{approval.InstanceId}', but this is {kind} workflow {keyspace}.{workflow} (instance {instanceId}).");
        }

        var (existing, current) = await LoadAsync(client, instanceId, ct).ConfigureAwait(false);
        if (existing is null || current is null)
        {
            return Error(404, $"No {kind} workflow {keyspace}.{workflow}; create it first.");
        }

        var command = ApprovalIntake.Command(approval, ctx.InvocationId);
        try
        {
            CommandRules.Check(current, command);
            await ApprovalIntake.CheckInstanceAsync(client, instanceId, ct).ConfigureAwait(false);
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }
        catch (WorkflowStateException e)
        {
            return Error(409, e.Message);
        }
        catch (ApprovalRefusedException e)
        {
            return Error(409, e.Message);
        }

        await client.RaiseEventAsync(instanceId, MoveTablesOrchestration.CommandEvent, command, ct).ConfigureAwait(false);
        ctx.Logger.LogInformation("{Kind} approval of {Action} for traffic generation {Generation} by {Approver} sent to {Instance} (request {Request})",
            kind, approval.Action, approval.Generation, approval.Approver, instanceId, command.RequestId);
        return Results.Json(new
        {
            id = instanceId,
            request_id = command.RequestId,
            action = WorkflowActions.Approve,
            statusQueryGetUri = Link(http, keyspace, workflow, "state", kind),
            showUri = Link(http, keyspace, workflow, "show", kind),
        }, Json, statusCode: StatusCodes.Status202Accepted);
    }

    private static string Link(HttpContext http, string keyspace, string workflow, string what, string kind = WorkflowKinds.MoveTables)
    {
        var code = http.Request.Query.TryGetValue(FunctionKeys.QueryName, out var c) && !string.IsNullOrEmpty(c) ? "?code=" + Uri.EscapeDataString(c.ToString()) : "";
        return $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}/api/{kind.ToLowerInvariant()}/{keyspace}/{workflow}/{what}{code}";
    }

    private static async Task<IResult> CreateAsync(HttpContext http, FunctionContext ctx, DurableTaskClient client, string keyspace, string workflow, JsonObject body,
        string kind = WorkflowKinds.MoveTables)
    {
        if (kind == WorkflowKinds.Migrate && ExternalSources.MigrateRefusal(body) is { } refusal)
        {
            return Error(400, refusal);
        }

        var spec = As<MoveTablesCreate>(body, out var parseError);
        if (parseError is not null)
        {
            return Error(400, parseError);
        }

        spec = (spec ?? new MoveTablesCreate()) with { TargetKeyspace = keyspace, Workflow = workflow, Kind = kind };
        spec = spec with { RequestedBy = Who(http, spec.RequestedBy is "unknown" ? null : spec.RequestedBy) };
        try
        {
            spec.Validate();
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }

        var ct = http.RequestAborted;
        var instanceId = spec.InstanceId;
        var (meta, state) = await LoadAsync(client, instanceId, ct).ConfigureAwait(false);
        if (meta is not null)
        {
            var existingSpec = (state ?? meta.ReadInputAs<WorkflowState>())?.Spec;
            var same = existingSpec is not null && JsonSerializer.Serialize(existingSpec with { RequestedBy = "" }) == JsonSerializer.Serialize(spec with { RequestedBy = "" });
            if (same && meta.RuntimeStatus is not (OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated) && state?.Phase != Phases.Failed)
            {
                // The same create again (a retried pipeline step): the same instance.
                return Accepted(http, keyspace, workflow, instanceId, existing: true, kind);
            }

            if (!meta.IsCompleted && state?.IsFinished != true)
            {
                return Error(409, $"Workflow name {keyspace}.{workflow} is taken by a running workflow with different settings; choose another name or cancel it.");
            }

            // A finished workflow (completed, cancelled or refused) gives its name back. Its state says finished in the
            // episode that ends it, a moment before the engine records the instance as completed: wait for that first,
            // or the purge would refuse a running instance.
            if (!meta.IsCompleted && !await FinishesSoonAsync(client, instanceId, ct).ConfigureAwait(false))
            {
                return Error(409, $"Workflow {keyspace}.{workflow} has finished but its instance is still closing; try the create again in a few seconds.");
            }

            await client.PurgeInstanceAsync(instanceId, cancellation: ct).ConfigureAwait(false);
        }

        if (await CheckCellsAsync(Env(ctx), spec, ct).ConfigureAwait(false) is { } cellsRefusal)
        {
            return Error(400, cellsRefusal);
        }

        // Pre-flight before anything exists, so a pipeline gets bad input (unknown keyspace, missing table, no primary
        // key, non-empty target, ...) as a 400 naming it instead of a 202 and a workflow that fails later. The
        // orchestration runs the same checks again (the cluster may change in between). The idempotency check above
        // comes first: a retried create finds its own target tables filled and must still get its instance back.
        PreflightResult preflight;
        try
        {
            preflight = await Env(ctx).Operations.PreflightAsync(spec, ct).ConfigureAwait(false);
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }

        if (preflight.Problems.Count > 0)
        {
            var text = "Pre-flight refused the workflow, nothing was changed: " + string.Join(" ", preflight.Problems);
            return Error(preflight.Problems.Any(IsConflict) ? 409 : 400, text);
        }

        await client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec, Timings = WorkflowTimings.Default }, new StartOrchestrationOptions(instanceId), ct).ConfigureAwait(false);
        ctx.Logger.LogInformation("{Kind} create {Instance} by {Who}", kind, instanceId, spec.RequestedBy);
        return Accepted(http, keyspace, workflow, instanceId, existing: false, kind);
    }

    /// <summary>
    /// Cells the source topology does not have are refused naming the ones it has: a stream restricted to a cell without
    /// tablets would wait for a tablet forever. Checked on the source's topology (a mount's for a mounted source); an
    /// unmanaged source has no cells, and an unreachable mount is left to the pre-flight, which says so.
    /// </summary>
    private static async Task<string?> CheckCellsAsync(MoveTablesEnvironment env, MoveTablesCreate spec, CancellationToken ct)
    {
        if (spec.Cells.Count == 0 || spec.AllCells)
        {
            return null;
        }

        IReadOnlyList<string> known;
        try
        {
            var (_, store, _) = await env.Store.ThroughMountAsync(KeyspaceReference.Of(spec.SourceKeyspace, spec.MountName).ToString(), ct).ConfigureAwait(false);
            if (store is null)
            {
                return null;
            }

            known = [.. (await store.GetCellsAsync(ct).ConfigureAwait(false)).Select(c => c.Name).Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The mount cannot be read now: the pre-flight that follows reads it too and refuses naming why.
            return null;
        }

        var unknown = spec.Cells.Where(c => !known.Contains(c, StringComparer.Ordinal)).ToList();
        if (unknown.Count == 0)
        {
            return null;
        }

        var where = spec.MountName is null ? "this topology" : $"mount {spec.MountName}'s topology";
        return $"--cells {string.Join(",", unknown)}: no such cell{(unknown.Count == 1 ? "" : "s")} in {where}; known cells: {(known.Count == 0 ? "(none)" : string.Join(", ", known))}. " +
               "Nothing was created.";
    }

    /// <summary>Pre-flight problems that are about another workflow (name taken, tables already moving): 409, not bad input.</summary>
    private static bool IsConflict(string problem) =>
        problem.StartsWith("Workflow name ", StringComparison.Ordinal) || problem.Contains(" already move in workflow ", StringComparison.Ordinal);

    /// <summary>
    /// Durable Functions' check-status response (202, Location, Retry-After, the management links), the same for a new
    /// and a repeated create; <c>created</c> (and <c>existing</c>, its opposite) says which it was.
    /// </summary>
    private static IResult Accepted(HttpContext http, string keyspace, string workflow, string instanceId, bool existing, string kind)
    {
        var payload = CheckStatusResponse.ForWorkflow(http, kind, keyspace, workflow, instanceId, created: !existing);
        return CheckStatusResponse.Accepted(http, payload, payload.StatusQueryGetUri, Json);
    }

    /// <summary>Whether the orchestration ends within 15 s (a finished workflow whose last replay is still being written).</summary>
    internal static async Task<bool> FinishesSoonAsync(DurableTaskClient client, string instanceId, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(TimeSpan.FromSeconds(15));
        try
        {
            return (await client.WaitForInstanceCompletionAsync(instanceId, bound.Token).ConfigureAwait(false)).IsCompleted;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    internal static async Task<IResult> ListAsync(HttpContext http, FunctionContext ctx)
    {
        var keyspace = (string)http.Request.RouteValues["keyspace"]!;
        try
        {
            Names.CheckKeyspace("--keyspace", keyspace);
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }

        var env = Env(ctx);
        var records = await env.Registry.ListAsync(keyspace, http.RequestAborted).ConfigureAwait(false);
        return Results.Json(records.Select(r => r.Workflow).ToArray(), Json);
    }

    internal static async Task<IResult> ShowWorkflowAsync(HttpContext http, FunctionContext ctx, DurableTaskClient client)
    {
        var keyspace = (string)http.Request.RouteValues["keyspace"]!;
        var workflow = (string)http.Request.RouteValues["workflow"]!;
        try
        {
            Names.CheckKeyspace("--keyspace", keyspace);
            if (!System.Text.RegularExpressions.Regex.IsMatch(workflow, "^[A-Za-z0-9_]{1,66}$"))
            {
                throw new WorkflowValidationException($"Workflow name '{workflow}' is invalid: letters, digits and '_'.");
            }
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }

        if (IncludeLogs(http) is not { } includeLogs)
        {
            return Error(400, $"include_logs '{http.Request.Query["include_logs"]}' is invalid: true or false.");
        }

        var env = Env(ctx);
        var record = await env.Registry.GetAsync(keyspace, workflow, http.RequestAborted).ConfigureAwait(false);
        var instanceId = record?.InstanceId ?? Names.InstanceId(keyspace, workflow);
        var (_, state) = await LoadAsync(client, instanceId, http.RequestAborted).ConfigureAwait(false);
        var show = await new WorkflowViews(env).ShowAsync(keyspace, workflow, record?.Reverse == true ? null : state, http.RequestAborted, includeLogs).ConfigureAwait(false);
        return show is null ? Error(404, $"No workflow {workflow} in keyspace {keyspace}.") : Results.Json(show, Json);
    }

    /// <summary>show's <c>?include_logs=false</c> (vtctldclient's <c>--include-logs</c>, default true); null when neither true nor false.</summary>
    private static bool? IncludeLogs(HttpContext http) =>
        !http.Request.Query.TryGetValue("include_logs", out var v) ? true : bool.TryParse(v.ToString(), out var b) ? b : null;

    /// <summary>
    /// The routing rules, as a long-poll for application-side resolvers: <c>?after=REVISION&amp;timeout=SECONDS</c> answers
    /// as soon as the rules' revision differs from REVISION (at once when it already does), or with the same rules at the
    /// timeout. The revision is in the <c>X-Routing-Rules-Revision</c> header and the body.
    /// </summary>
    internal static async Task<IResult> RoutingRulesAsync(HttpContext http, FunctionContext ctx)
    {
        var env = Env(ctx);
        long after = -1;
        var timeout = TimeSpan.FromSeconds(30);
        if (http.Request.Query.TryGetValue("after", out var a) && !long.TryParse(a, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out after))
        {
            return Error(400, $"after '{a}' is invalid: the revision from the last answer (a whole number).");
        }

        if (http.Request.Query.TryGetValue("timeout", out var t))
        {
            if (!int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > 300)
            {
                return Error(400, $"timeout '{t}' is invalid: 1 to 300 seconds.");
            }

            timeout = TimeSpan.FromSeconds(seconds);
        }

        Versioned<RoutingRules> rules = await env.Store.GetRoutingRulesAsync(http.RequestAborted).ConfigureAwait(false);
        if (after >= 0 && rules.ModRevision == after)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
            cts.CancelAfter(timeout);
            try
            {
                await foreach (var change in env.Store.WatchRoutingRulesAsync(cts.Token).ConfigureAwait(false))
                {
                    rules = change;
                    if (change.ModRevision != after)
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (!http.RequestAborted.IsCancellationRequested)
            {
                // timeout: answer with the unchanged rules
            }
        }

        http.Response.Headers["X-Routing-Rules-Revision"] = rules.ModRevision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var body = JsonNode.Parse(rules.Value.ToJson())!.AsObject();
        body["revision"] = rules.ModRevision;
        return Results.Json(body, Json);
    }
}
