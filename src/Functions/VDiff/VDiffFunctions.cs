using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Durable.Composition;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.App;
using Durable.Functions.Runner;
using Durable.Functions.Http;
using Durable.Functions.MoveTables;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.VDiff;
using Durable.Workflows;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using AuthorizationLevel = Microsoft.Azure.Functions.Worker.AuthorizationLevel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Durable.Functions.VDiff;

/// <summary>
/// The VDiff HTTP API (<c>durablectl VDiff</c> calls it): create schedules the durable <c>VDiff</c> orchestration after
/// the VDiff was validated and recorded on every target shard (so bad input fails at once with 400/404 and nothing
/// runs); show reads the sidecar state in the seeds' JSON shape; stop/resume/delete act on every shard.
/// </summary>
public static class VDiffFunctions
{
    // Relaxed escaping: messages quote identifiers in backticks, which the default encoder prints as \u0060.
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Registers the API and the VDiff orchestrations. Call after <see cref="MoveTablesFunctions.AddMoveTables"/>: VDiff
    /// uses its environment, and the MoveTables workflow calls VDiff as a sub-orchestration while it waits for approval.
    /// </summary>
    public static IServiceCollection AddVDiff(this IServiceCollection services, IConfiguration? configuration = null)
    {
        // MoveTables workflows created on this host run VDiff after the copy and every interval (per workflow: VDiffSchedule).
        // This host's default only: it is bound to the host's registry, so another host in the same process keeps its own.
        // The default is checked at start (a bad value fails the host, naming the setting), then frozen in the registry.
        _ = services.Any(d => d.ServiceType == typeof(MoveTablesEnvironment))
            ? services : throw new InvalidOperationException("AddVDiff needs AddMoveTables first (VDiff runs on the MoveTables environment).");
        var interval = DefaultInterval(configuration?[EngineOptions.VDiffIntervalSetting]);
        // Replaces the empty default AddMoveTables registered: MoveTables workflows of this host now run VDiff.
        services.Replace(ServiceDescriptor.Singleton(new VDiffLifecycle.HostSettings { DefaultInterval = interval }));
        services.AddFunctionsOf(typeof(VDiffFunctions));
        services.AddFunctionsOf(typeof(VDiffOrchestratorFunctions));
        foreach (var activity in VDiffOrchestratorFunctions.ActivityClasses)
        {
            services.AddFunctionsOf(activity);
        }

        return services;
    }

    [Function("VDiffApi")]
    public static Task<IResult> VDiffApi(
        [HttpTrigger(AuthorizationLevel.Function, "get", "post", "delete", Route = "vdiff/{keyspace}/{workflow}/{action}/{selector?}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        FunctionContext context) =>
        HandleAsync(request.HttpContext, context, client);

    /// <summary>
    /// Default VDiff interval of new MoveTables workflows: a duration (1h, 30m) or off; off when unset, as in Vitess (no
    /// VDiff runs by itself, and only a VDiff that found differences holds SwitchTraffic/Complete). A schedule makes the
    /// gate strict: a clean VDiff since the last switch of writes is needed, so a switch sent before one completed fails.
    /// </summary>
    public const string IntervalSetting = EngineOptions.VDiffIntervalSetting;

    private static TimeSpan? DefaultInterval(string? setting) =>
        string.IsNullOrWhiteSpace(setting) ? null : CommandRules.VDiffInterval(setting);

    /// <summary>The durable instance of one run of a VDiff; a resume runs the same uuid again under a new instance.</summary>
    public static string InstanceId(string keyspace, string workflow, string uuid, string? run = null) =>
        $"vdiff:{keyspace}.{workflow}:{uuid}" + (run is null ? "" : ":" + run);

    private static IResult Error(int status, string message) =>
        Results.Json(new { error = ReasonPhrases.GetReasonPhrase(status), message }, Json, statusCode: status);

    private static IResult Ok(object body, int status = StatusCodes.Status200OK) =>
        Results.Json(body, VDiffReport.JsonOptions, statusCode: status);

    internal static async Task<IResult> HandleAsync(HttpContext http, FunctionContext ctx, DurableTaskClient client)
    {
        var keyspace = (string)http.Request.RouteValues["keyspace"]!;
        var workflow = (string)http.Request.RouteValues["workflow"]!;
        var action = ((string)http.Request.RouteValues["action"]!).ToLowerInvariant();
        var selector = http.Request.RouteValues["selector"] as string;
        try
        {
            Names.CheckKeyspace("--target-keyspace", keyspace);
            if (!Regex.IsMatch(workflow, "^[A-Za-z0-9_]{1,66}$"))
            {
                // The reverse workflow (name_reverse) is a valid VDiff target too, so the MoveTables name rule is not used here.
                throw new WorkflowValidationException($"--workflow '{workflow}' is invalid: letters, digits and '_' (at most 66).");
            }
        }
        catch (WorkflowValidationException e)
        {
            return Error(400, e.Message);
        }

        var method = http.Request.Method;
        var expected = action switch
        {
            "create" or "stop" or "resume" => HttpMethods.Post,
            "show" => HttpMethods.Get,
            "delete" => HttpMethods.Delete,
            _ => null,
        };
        if (expected is null)
        {
            return Error(400, $"VDiff action '{action}' is invalid: create, show, stop, resume or delete.");
        }

        if (!string.Equals(method, expected, StringComparison.OrdinalIgnoreCase) && !(action == "delete" && HttpMethods.IsPost(method)))
        {
            return Error(405, $"VDiff {action} takes {expected}, not {method}.");
        }

        if (!ctx.Services.GetRequiredService<IOptions<EngineOptions>>().Value.IsConfigured)
        {
            return Error(503, $"VDiff is not configured on this host: set {MoveTablesEnvironmentOptions.EtcdSetting} and {MoveTablesEnvironmentOptions.EnginePasswordSetting}.");
        }

        var service = ctx.Services.GetRequiredService<VDiffService>();
        var ct = http.RequestAborted;
        try
        {
            return action switch
            {
                "create" => await CreateAsync(http, ctx, client, service, keyspace, workflow, ct).ConfigureAwait(false),
                "show" => await ShowAsync(http, service, keyspace, workflow, selector ?? "last", ct).ConfigureAwait(false),
                "stop" => await StopAsync(ctx, service, keyspace, workflow, Required(selector, "stop"), ct).ConfigureAwait(false),
                "resume" => await ResumeAsync(ctx, client, service, keyspace, workflow, Required(selector, "resume"), ct).ConfigureAwait(false),
                _ => await DeleteAsync(ctx, service, keyspace, workflow, Required(selector, "delete"), ct).ConfigureAwait(false),
            };
        }
        catch (ArgumentException e)
        {
            return Error(400, e.Message);
        }
        catch (VDiffException e)
        {
            // The workflow, stream, keyspace or VDiff named does not exist (or cannot be compared): the message says which.
            var status = e.Message.Contains("does not exist", StringComparison.Ordinal) || e.Message.Contains("has no", StringComparison.Ordinal) ? 404
                : e.Message.StartsWith("--", StringComparison.Ordinal) ? 400
                : 409;
            return Error(status, e.Message);
        }
        catch (MySqlException e)
        {
            return Error(503, $"VDiff {action} could not reach a tablet: {e.Message}");
        }
    }

    private static string Required(string? selector, string action) =>
        string.IsNullOrEmpty(selector) ? throw new ArgumentException($"VDiff {action} needs a VDiff uuid{(action == "delete" ? " or all" : "")}.") : selector;

    private static async Task<IResult> CreateAsync(HttpContext http, FunctionContext ctx, DurableTaskClient client, VDiffService service, string keyspace, string workflow, CancellationToken ct)
    {
        VDiffCreateRequest request;
        if (http.Request.ContentLength is 0 || (http.Request.ContentLength is null && !http.Request.Headers.ContainsKey("Transfer-Encoding")))
        {
            request = new VDiffCreateRequest();
        }
        else
        {
            try
            {
                var node = await System.Text.Json.Nodes.JsonNode.ParseAsync(http.Request.Body, cancellationToken: ct).ConfigureAwait(false);
                if (node is System.Text.Json.Nodes.JsonObject body && JsonFieldCheck.UnknownFields<VDiffCreateRequest>(body) is { } unknown)
                {
                    return Error(400, unknown);
                }

                request = node?.Deserialize<VDiffCreateRequest>() ?? new VDiffCreateRequest();
            }
            catch (JsonException e)
            {
                return Error(400, $"The request body is not a valid VDiff create request: {e.Message}");
            }
        }

        _ = request.ToOptions(); // bad input is refused before anything is looked up
        if (await WorkflowSpecAsync(ctx, client, keyspace, workflow, ct).ConfigureAwait(false) is { } spec)
        {
            // An operator's VDiff reads the source as the workflow's stream does (time zone, tablet types) unless it says otherwise.
            request = request.InheritFrom(spec);
        }

        var options = request.ToOptions();
        var uuid = request.Uuid ?? Guid.NewGuid().ToString();
        var instanceId = InstanceId(keyspace, workflow, uuid);
        if (await client.GetInstanceAsync(instanceId, false, ct).ConfigureAwait(false) is not null)
        {
            // The same create again (a retried pipeline step with its uuid): the same VDiff.
            return Ok(new { UUID = uuid, id = instanceId, existing = true }, StatusCodes.Status202Accepted);
        }

        // Recorded (pending) on every shard before anything runs, so a bad workflow or table is refused here.
        var (_, shards) = await service.CreateAsync(workflow, keyspace, options, uuid, ct).ConfigureAwait(false);
        await client.ScheduleNewOrchestrationInstanceAsync(VDiffOrchestration.Orchestrator, new VDiffRunInput(workflow, keyspace, options, uuid) { ShardBudgetSeconds = VDiffOrchestration.DefaultShardActivityBudget.TotalSeconds },
            new StartOrchestrationOptions(instanceId), ct).ConfigureAwait(false);
        var who = http.Request.Headers.TryGetValue("X-Durable-User", out var u) && !string.IsNullOrWhiteSpace(u) ? u.ToString() : request.RequestedBy ?? "http";
        ctx.Logger.LogInformation("VDiff {Uuid} of {Keyspace}.{Workflow} created by {Who} on shards {Shards}", uuid, keyspace, workflow, who, string.Join(",", shards));
        return Ok(new { UUID = uuid, id = instanceId, existing = false, Shards = string.Join(",", shards) }, StatusCodes.Status202Accepted);
    }

    /// <summary>The spec of the MoveTables/Migrate workflow <paramref name="workflow"/> compares (null: not one, e.g. a reverse workflow).</summary>
    private static async Task<MoveTablesCreate?> WorkflowSpecAsync(FunctionContext ctx, DurableTaskClient client, string keyspace, string workflow, CancellationToken ct)
    {
        var env = ctx.Services.GetRequiredService<MoveTablesEnvironment>();
        var registered = await env.Registry.GetAsync(keyspace, workflow, ct).ConfigureAwait(false);
        var meta = await client.GetInstanceAsync(registered?.InstanceId ?? Names.InstanceId(keyspace, workflow, WorkflowKinds.MoveTables), true, ct).ConfigureAwait(false);
        var state = meta is null ? null : meta.SerializedCustomStatus is null ? meta.ReadInputAs<WorkflowState>() : meta.ReadCustomStatusAs<WorkflowState>();
        return state?.Spec is { } spec && spec.Workflow == workflow && spec.TargetKeyspace == keyspace ? spec : null;
    }

    private static async Task<IResult> ShowAsync(HttpContext http, VDiffService service, string keyspace, string workflow, string selector, CancellationToken ct)
    {
        var verbose = http.Request.Query["verbose"] is { Count: > 0 } v && v.ToString() is "true" or "1" or "";
        if (string.Equals(selector, "all", StringComparison.OrdinalIgnoreCase))
        {
            return Ok(await service.ShowAllAsync(workflow, keyspace, verbose, ct).ConfigureAwait(false));
        }

        var report = await service.ShowAsync(workflow, keyspace, selector, verbose, ct).ConfigureAwait(false);
        return report is null
            ? Error(404, $"No VDiff {(selector == "last" ? "" : selector + " ")}found for workflow {keyspace}.{workflow}.")
            : Ok(report);
    }

    private static async Task<IResult> StopAsync(FunctionContext ctx, VDiffService service, string keyspace, string workflow, string uuid, CancellationToken ct)
    {
        var changed = await service.StopAsync(workflow, keyspace, uuid, ct).ConfigureAwait(false);
        ctx.Logger.LogInformation("VDiff {Uuid} of {Keyspace}.{Workflow} stopped on {Shards} shard(s)", uuid, keyspace, workflow, changed);
        return Ok(new { UUID = uuid, Action = "stop", Status = changed > 0 ? "stopped" : "nothing to stop (already completed or stopped)", ShardsChanged = changed });
    }

    private static async Task<IResult> ResumeAsync(FunctionContext ctx, DurableTaskClient client, VDiffService service, string keyspace, string workflow, string uuid, CancellationToken ct)
    {
        var report = await service.ShowAsync(workflow, keyspace, uuid, false, ct).ConfigureAwait(false)
            ?? throw new VDiffException($"VDiff {uuid} does not exist for workflow '{workflow}' in keyspace '{keyspace}'.");
        var changed = await service.ResumeAsync(workflow, keyspace, uuid, ct).ConfigureAwait(false);
        if (changed == 0)
        {
            return Error(409, $"VDiff {uuid} is {report.State}; only a stopped or failed VDiff can be resumed.");
        }

        // A new instance runs the same uuid: each shard continues after its lastpk (completed shards return at once).
        var instanceId = InstanceId(keyspace, workflow, uuid, "resume-" + ctx.InvocationId);
        // The options given here only matter to a create; the shards run with the options stored at create.
        await client.ScheduleNewOrchestrationInstanceAsync(VDiffOrchestration.Orchestrator, new VDiffRunInput(workflow, keyspace, new VDiffOptions(), uuid) { ShardBudgetSeconds = VDiffOrchestration.DefaultShardActivityBudget.TotalSeconds },
            new StartOrchestrationOptions(instanceId), ct).ConfigureAwait(false);
        ctx.Logger.LogInformation("VDiff {Uuid} of {Keyspace}.{Workflow} resumed as {Instance}", uuid, keyspace, workflow, instanceId);
        return Ok(new { UUID = uuid, Action = "resume", Status = "resumed", id = instanceId, ShardsChanged = changed }, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> DeleteAsync(FunctionContext ctx, VDiffService service, string keyspace, string workflow, string selector, CancellationToken ct)
    {
        var all = string.Equals(selector, "all", StringComparison.OrdinalIgnoreCase);
        if (!all && !Guid.TryParse(selector, out _))
        {
            throw new ArgumentException($"VDiff delete '{selector}' is invalid: use all or a VDiff uuid.");
        }

        var running = (await service.ShowAllAsync(workflow, keyspace, false, ct).ConfigureAwait(false))
            .Where(r => r.State == VDiffStates.Started && (all || string.Equals(r.UUID, selector, StringComparison.OrdinalIgnoreCase)))
            .Select(r => r.UUID).ToList();
        if (running.Count > 0)
        {
            return Error(409, $"VDiff {string.Join(", ", running)} is running; stop it first, then delete.");
        }

        var deleted = await service.DeleteAsync(workflow, keyspace, selector, ct).ConfigureAwait(false);
        if (deleted == 0 && !all)
        {
            return Error(404, $"VDiff {selector} does not exist for workflow '{workflow}' in keyspace '{keyspace}'.");
        }

        ctx.Logger.LogInformation("VDiff {Selector} of {Keyspace}.{Workflow} deleted ({Rows} shard row(s))", selector, keyspace, workflow, deleted);
        return Ok(new JsonObject { ["Action"] = "delete", ["Status"] = "completed", ["Deleted"] = deleted });
    }
}
