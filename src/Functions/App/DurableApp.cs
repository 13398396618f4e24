using System.Globalization;
using System.Text.Json;
using Microsoft.DurableTask.Client;
using Durable.Functions.Hosting;
using Durable.Functions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.App;

/// <summary>
/// The app's own functions beyond the management API: Health (anonymous), Approvals (chat-ops approvals arriving on a
/// queue become external events) and PurgeHistory (a nightly timer that purges old finished instances).
/// </summary>
public static class DurableApp
{
    public const string ApprovalsQueueSetting = "DURABLE_APPROVALS_QUEUE";
    public const string PurgeScheduleSetting = "DURABLE_PURGE_SCHEDULE";
    public const string RetentionSetting = "DURABLE_HISTORY_RETENTION_DAYS";

    public static IServiceCollection AddDurableApp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddFunction(new HttpTriggerFunction("Health", "health", ["GET"], AuthorizationLevel.Anonymous,
            (http, ctx) => Task.FromResult(Results.Ok(new { status = "ok" }))));

        services.AddFunction(new QueueTriggerFunction("Approvals",
            string.IsNullOrEmpty(configuration[ApprovalsQueueSetting]) ? "approvals" : $"%{ApprovalsQueueSetting}%",
            HandleApprovalAsync));

        services.AddFunction(new TimerTriggerFunction("PurgeHistory",
            string.IsNullOrEmpty(configuration[PurgeScheduleSetting]) ? "0 0 3 * * *" : $"%{PurgeScheduleSetting}%",
            PurgeHistoryAsync));
        return services;
    }

    public static IServiceCollection AddFunction(this IServiceCollection services, FunctionDefinition function) =>
        services.AddSingleton(function);

    /// <summary>An approval message: <c>{"instanceId": "...", "eventName": "Approval", "payload": {...}}</c>.</summary>
    public sealed record ApprovalMessage(string InstanceId, string EventName, JsonElement? Payload);

    internal static async Task HandleApprovalAsync(FunctionContext ctx, QueueTriggerMessage message)
    {
        ApprovalMessage? approval;
        try
        {
            approval = JsonSerializer.Deserialize<ApprovalMessage>(message.Text, new JsonSerializerOptions(JsonSerializerDefaults.Web));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Approval message {message.Id} is not JSON of the form {{\"instanceId\":..., \"eventName\":..., \"payload\":...}}: {e.Message}", e);
        }

        if (approval is null || string.IsNullOrEmpty(approval.InstanceId) || string.IsNullOrEmpty(approval.EventName))
        {
            throw new InvalidDataException($"Approval message {message.Id} needs both instanceId and eventName.");
        }

        var client = ctx.Services.GetRequiredService<DurableTaskClient>();
        // An approval for an instance that does not exist (yet) fails, is retried, and is parked in the poison queue
        // after maxDequeueCount attempts, where an operator can see it.
        _ = await client.GetInstanceAsync(approval.InstanceId, false, ctx.CancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Approval for unknown orchestration instance '{approval.InstanceId}'.");
        await client.RaiseEventAsync(approval.InstanceId, approval.EventName, approval.Payload, ctx.CancellationToken).ConfigureAwait(false);
        ctx.Logger.LogInformation("Approval {Event} raised on instance {Instance}.", approval.EventName, approval.InstanceId);
    }

    internal static async Task PurgeHistoryAsync(FunctionContext ctx, TimerInfo timer)
    {
        var configuration = ctx.Services.GetRequiredService<IConfiguration>();
        var text = configuration[RetentionSetting];
        var days = 30;
        if (!string.IsNullOrEmpty(text) && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out days) || days < 1))
        {
            throw new InvalidOperationException($"{RetentionSetting} is '{text}'; valid: a whole number of days, at least 1.");
        }

        var client = ctx.Services.GetRequiredService<DurableTaskClient>();
        var cutoff = timer.ScheduledTime.AddDays(-days);
        var result = await client.PurgeAllInstancesAsync(new PurgeInstancesFilter(DateTimeOffset.MinValue, cutoff), ctx.CancellationToken).ConfigureAwait(false);
        ctx.Logger.LogInformation("PurgeHistory: purged {Count} finished instances created before {Cutoff:o}.", result.PurgedInstanceCount, cutoff);
    }
}
