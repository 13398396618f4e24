using System.Globalization;
using Durable.Functions.Runner;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.App;

/// <summary>
/// The app's own functions beyond the management API: Health and OpenApi (anonymous) and PurgeHistory (a nightly timer that purges
/// old finished instances); the approvals queue's function is <see cref="ApprovalsQueue"/>.
/// </summary>
public sealed class DurableApp(IConfiguration configuration, TimeProvider time)
{
    /// <summary>The approvals queue's name; "approvals" when the setting is absent (Functions resolves %...% from app settings).</summary>
    public const string ApprovalsQueueSetting = "DURABLE_APPROVALS_QUEUE";

    /// <summary>The purge timer's six-field NCRONTAB schedule (UTC); "0 0 3 * * *" (03:00 daily) in host.json's sample settings.</summary>
    public const string PurgeScheduleSetting = "DURABLE_PURGE_SCHEDULE";

    public const string RetentionSetting = "DURABLE_HISTORY_RETENTION_DAYS";

    /// <summary>Used when the settings above are absent, so the app starts with sensible defaults.</summary>
    public const string DefaultApprovalsQueue = "approvals";

    public const string DefaultPurgeSchedule = "0 0 3 * * *";

    /// <summary>Liveness for load balancers and the demo: no key, no dependency.</summary>
    [Function("Health")]
    public static IResult Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request) =>
        Results.Ok(new { status = "ok" });

    /// <summary>The OpenAPI description of the HTTP API (docs/openapi.json); no key, as it holds nothing secret.</summary>
    [Function("OpenApi")]
    public static IResult OpenApi([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequest request) =>
        Results.Text(OpenApiDocument.Json, "application/json", System.Text.Encoding.UTF8);

    [Function("PurgeHistory")]
    public async Task PurgeHistory(
        [TimerTrigger($"%{PurgeScheduleSetting}%")] TimerInfo timer,
        [DurableClient] DurableTaskClient client,
        FunctionContext context)
    {
        var text = configuration[RetentionSetting];
        var days = 30;
        if (!string.IsNullOrEmpty(text) && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out days) || days < 1))
        {
            throw new InvalidOperationException($"{RetentionSetting} is '{text}'; valid: a whole number of days, at least 1.");
        }

        var cutoff = time.GetUtcNow().UtcDateTime.AddDays(-days);
        var ct = context.CancellationToken;
        var env = WorkflowEnvironment(context);
        if (env is null)
        {
            // A host without a topology runs no workflows: every finished instance may go, in one call.
            var result = await client.PurgeAllInstancesAsync(new PurgeInstancesFilter(DateTimeOffset.MinValue, cutoff), ct).ConfigureAwait(false);
            context.Logger.LogInformation("PurgeHistory: purged {Count} finished instances created before {Cutoff:o} (past due: {PastDue}).", result.PurgedInstanceCount, cutoff, timer.IsPastDue);
            return;
        }

        // One at a time, so a workflow whose orchestration ended (failed, or terminated through the host's own webhook)
        // while it still owns streams, write guards or routing rules keeps its history: its state is what an operator
        // needs to clean up, and the guards would otherwise refuse writes with nothing left to say why.
        var purged = 0;
        var kept = 0;
        var query = new OrchestrationQuery(null, cutoff, [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated])
        {
            FetchInputsAndOutputs = true,
        };
        await foreach (var instance in client.GetAllInstancesAsync(query).WithCancellation(ct).ConfigureAwait(false))
        {
            if (await Management.WorkflowHoldings.RefusalAsync(env, instance, "purge", ct).ConfigureAwait(false) is { } refusal)
            {
                kept++;
                context.Logger.LogWarning("PurgeHistory: kept {Instance}: {Refusal}", instance.InstanceId, refusal);
                continue;
            }

            purged += (await client.PurgeInstanceAsync(instance.InstanceId, null, ct).ConfigureAwait(false)).PurgedInstanceCount;
        }

        context.Logger.LogInformation("PurgeHistory: purged {Count} finished instances created before {Cutoff:o}, kept {Kept} workflows that still own streams, guards or routing rules (past due: {PastDue}).",
            purged, cutoff, kept, timer.IsPastDue);
    }

    /// <summary>The workflows' environment, or null on a host configured without a topology (it runs no workflows).</summary>
    private static Durable.Workflows.MoveTablesEnvironment? WorkflowEnvironment(FunctionContext context)
    {
        try
        {
            return context.InstanceServices.GetService<Durable.Workflows.MoveTablesEnvironment>();
        }
        catch (InvalidOperationException)
        {
            return null; // "MoveTables is not configured": the composition root refuses to build it without settings
        }
    }
}
