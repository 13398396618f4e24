using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Commands;

/// <summary>
/// Orchestration instances through the Durable Functions management API (/runtime/webhooks/durabletask):
/// StartOrchestration, GetInstance, ListInstances, RaiseEvent, TerminateInstance, SuspendInstance, ResumeInstance,
/// PurgeInstance, PurgeInstances.
/// </summary>
public sealed class InstanceCommands : ICommandGroup
{
    private static readonly string[] StatusFields = ["instanceId", "name", "runtimeStatus", "createdTime", "lastUpdatedTime", "customStatus", "input", "output"];

    public void AddTo(RootCommand root, CliContext ctx)
    {
        root.Subcommands.Add(Start(ctx));
        root.Subcommands.Add(Get(ctx));
        root.Subcommands.Add(List(ctx));
        root.Subcommands.Add(RaiseEvent(ctx));
        root.Subcommands.Add(Control(ctx, "TerminateInstance", "terminate", "Terminates a running instance."));
        root.Subcommands.Add(Control(ctx, "SuspendInstance", "suspend", "Suspends a running instance; its events queue up until resumed."));
        root.Subcommands.Add(Control(ctx, "ResumeInstance", "resume", "Resumes a suspended instance."));
        root.Subcommands.Add(Purge(ctx));
        root.Subcommands.Add(PurgeMany(ctx));
    }

    private static Command Start(CliContext ctx)
    {
        var name = new Argument<string>("orchestrator") { Description = "Orchestrator function name." };
        var id = new Option<string?>("--instance-id") { Description = "Instance id to use (default: a new one)." };
        var input = new Option<string?>("--input") { Description = "Input as JSON, e.g. '{\"workflow\":\"commerce2customer\"}'." };
        var cmd = new Command("StartOrchestration", "Starts a new orchestration instance and prints its management URLs.") { name, id, input };
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var json = parse.GetValue(input);
            ValidateJson(json, "--input");
            var path = $"{DurableHostClient.ManagementBase}/orchestrators/{Uri.EscapeDataString(parse.GetValue(name)!)}";
            if (parse.GetValue(id) is { Length: > 0 } instanceId)
            {
                path += "/" + Uri.EscapeDataString(instanceId);
            }

            var response = await client.PostJsonAsync(path, json ?? "null", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => TextRender.Fields(b, "id", "statusQueryGetUri"), "StartOrchestration").ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command Get(CliContext ctx)
    {
        var id = new Argument<string>("instance-id") { Description = "The orchestration instance id." };
        var history = new Option<bool>("--show-history") { Description = "Include the history events." };
        var cmd = new Command("GetInstance", "Shows one instance: status, input, output, custom status.") { id, history };
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var path = $"{DurableHostClient.ManagementBase}/instances/{Uri.EscapeDataString(parse.GetValue(id)!)}?showInput=true" +
                       (parse.GetValue(history) ? "&showHistory=true&showHistoryOutput=true" : "");
            var response = await client.GetAsync(path, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => TextRender.Fields(b, StatusFields), $"GetInstance {parse.GetValue(id)}").ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command List(CliContext ctx)
    {
        var status = new Option<string[]>("--status") { Description = "Only these runtime statuses (Running, Pending, Completed, Failed, Terminated, Suspended).", AllowMultipleArgumentsPerToken = true };
        var prefix = new Option<string?>("--prefix") { Description = "Only instance ids starting with this." };
        var from = new Option<DateTimeOffset?>("--created-from") { Description = "Only instances created at or after this time (ISO 8601)." };
        var to = new Option<DateTimeOffset?>("--created-to") { Description = "Only instances created at or before this time (ISO 8601)." };
        var top = new Option<int?>("--top") { Description = "Page size (default: the host's, 100)." };
        var all = new Option<bool>("--all") { Description = "Follow continuation tokens and list every page." };
        var cmd = new Command("ListInstances", "Lists orchestration instances matching the filters.") { status, prefix, from, to, top, all };
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            string[] valid = ["Running", "Pending", "Completed", "Failed", "Terminated", "Suspended"];
            var statuses = parse.GetValue(status) ?? [];
            foreach (var s in statuses)
            {
                if (!valid.Contains(s, StringComparer.OrdinalIgnoreCase))
                {
                    throw new UsageException($"--status '{s}' is not a runtime status; valid: {string.Join(", ", valid)}.");
                }
            }

            if (parse.GetValue(top) is < 1 or > 1000)
            {
                throw new UsageException($"--top {parse.GetValue(top)} is out of range; valid: 1 to 1000.");
            }

            var query = new List<string>();
            if (statuses.Length > 0)
            {
                query.Add("runtimeStatus=" + Uri.EscapeDataString(string.Join(',', statuses)));
            }

            if (parse.GetValue(prefix) is { Length: > 0 } p)
            {
                query.Add("instanceIdPrefix=" + Uri.EscapeDataString(p));
            }

            if (parse.GetValue(from) is { } f)
            {
                query.Add("createdTimeFrom=" + Uri.EscapeDataString(f.UtcDateTime.ToString("o", CultureInfo.InvariantCulture)));
            }

            if (parse.GetValue(to) is { } t)
            {
                query.Add("createdTimeTo=" + Uri.EscapeDataString(t.UtcDateTime.ToString("o", CultureInfo.InvariantCulture)));
            }

            if (parse.GetValue(top) is { } n)
            {
                query.Add("top=" + n.ToString(CultureInfo.InvariantCulture));
            }

            var path = $"{DurableHostClient.ManagementBase}/instances" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
            var rows = new List<JsonElement>();
            string? token = null;
            do
            {
                var headers = token is null ? null : new Dictionary<string, string> { ["x-ms-continuation-token"] = token };
                var response = await client.GetAsync(path, ct, headers).ConfigureAwait(false);
                if (!response.IsSuccess || response.Body is not { ValueKind: JsonValueKind.Array } page)
                {
                    return await ctx.ReportAsync(response, format, what: "ListInstances").ConfigureAwait(false);
                }

                rows.AddRange(page.EnumerateArray());
                token = response.ContinuationToken;
            }
            while (token is not null && parse.GetValue(all));

            if (format == OutputFormat.Json)
            {
                await ctx.Output.WriteLineAsync(JsonSerializer.Serialize(rows, CliContext.Pretty)).ConfigureAwait(false);
            }
            else
            {
                await ctx.Output.WriteLineAsync(TextRender.Table(rows, "instanceId", "name", "runtimeStatus", "createdTime", "lastUpdatedTime")).ConfigureAwait(false);
                if (token is not null)
                {
                    await ctx.Output.WriteLineAsync("(more instances: add --all)").ConfigureAwait(false);
                }
            }

            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static Command RaiseEvent(CliContext ctx)
    {
        var id = new Argument<string>("instance-id") { Description = "The orchestration instance id." };
        var name = new Argument<string>("event-name") { Description = "Event name the orchestration waits for (case-insensitive)." };
        var data = new Option<string?>("--data") { Description = "Event payload as JSON (default null)." };
        var cmd = new Command("RaiseEvent", "Sends an external event (e.g. an approval) to an instance.") { id, name, data };
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var json = parse.GetValue(data);
            ValidateJson(json, "--data");
            var path = $"{DurableHostClient.ManagementBase}/instances/{Uri.EscapeDataString(parse.GetValue(id)!)}/raiseEvent/{Uri.EscapeDataString(parse.GetValue(name)!)}";
            var response = await client.PostJsonAsync(path, json ?? "null", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, _ => $"event '{parse.GetValue(name)}' sent to {parse.GetValue(id)}", "RaiseEvent").ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command Control(CliContext ctx, string commandName, string operation, string description)
    {
        var id = new Argument<string>("instance-id") { Description = "The orchestration instance id." };
        var reason = new Option<string?>("--reason") { Description = "Why; recorded in the instance's history." };
        var cmd = new Command(commandName, description) { id, reason };
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var path = $"{DurableHostClient.ManagementBase}/instances/{Uri.EscapeDataString(parse.GetValue(id)!)}/{operation}";
            if (parse.GetValue(reason) is { Length: > 0 } r)
            {
                path += "?reason=" + Uri.EscapeDataString(r);
            }

            var response = await client.PostJsonAsync(path, null, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, _ => $"{operation} requested for {parse.GetValue(id)}", commandName).ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command Purge(CliContext ctx)
    {
        var id = new Argument<string>("instance-id") { Description = "The orchestration instance id." };
        var cmd = new Command("PurgeInstance", "Deletes a finished instance's history and status.") { id };
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var response = await client.DeleteAsync($"{DurableHostClient.ManagementBase}/instances/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => TextRender.Fields(b), "PurgeInstance").ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command PurgeMany(CliContext ctx)
    {
        var from = new Option<DateTimeOffset>("--created-from") { Description = "Purge instances created at or after this time (ISO 8601); required.", Required = true };
        var to = new Option<DateTimeOffset?>("--created-to") { Description = "... and at or before this time." };
        var status = new Option<string[]>("--status") { Description = "Only these statuses (default: Completed, Failed, Terminated).", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("PurgeInstances", "Deletes the history of many finished instances.") { from, to, status };
        cmd.SetAction(ctx.Run(async (parse, client, format, ct) =>
        {
            var statuses = parse.GetValue(status) is { Length: > 0 } s ? s : ["Completed", "Failed", "Terminated"];
            var path = $"{DurableHostClient.ManagementBase}/instances?createdTimeFrom={Uri.EscapeDataString(parse.GetValue(from).UtcDateTime.ToString("o", CultureInfo.InvariantCulture))}" +
                       (parse.GetValue(to) is { } t ? "&createdTimeTo=" + Uri.EscapeDataString(t.UtcDateTime.ToString("o", CultureInfo.InvariantCulture)) : "") +
                       "&runtimeStatus=" + Uri.EscapeDataString(string.Join(',', statuses));
            var response = await client.DeleteAsync(path, ct).ConfigureAwait(false);
            return await ctx.ReportAsync(response, format, b => TextRender.Fields(b), "PurgeInstances").ConfigureAwait(false);
        }));
        return cmd;
    }

    private static void ValidateJson(string? json, string option)
    {
        if (json is null)
        {
            return;
        }

        try
        {
            using var _ = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new UsageException($"{option} is not valid JSON ({e.Message}); quote it for the shell, e.g. {option} '{{\"approved\":true}}'.");
        }
    }
}
