using System.CommandLine;
using System.Text.Json.Nodes;
using Durable.Cli.Infrastructure;

namespace Durable.Cli.Commands;

/// <summary><c>durablectl Workflow --keyspace K list|show|start|stop|delete</c>, as vtctldclient's Workflow command.</summary>
public sealed class WorkflowCommands : ICommandGroup
{
    public void AddTo(RootCommand root, CliContext ctx)
    {
        var keyspace = new Option<string>("--keyspace") { Description = "The keyspace the workflow writes into.", Required = true, Recursive = true };
        var cmd = new Command("Workflow", "List, show, start, stop or delete workflows in a keyspace.") { keyspace };

        var list = new Command("list", "The workflows in the keyspace (forward and reverse).");
        list.SetAction(ctx.Run(async (p, client, format, ct) =>
            await ctx.ReportAsync(await client.GetAsync($"api/workflows/{Uri.EscapeDataString(p.GetValue(keyspace)!)}", ct).ConfigureAwait(false), OutputFormat.Json, what: "Workflow list").ConfigureAwait(false)));
        cmd.Subcommands.Add(list);

        var wf = new Option<string>("--workflow") { Description = "The workflow name.", Required = true };
        var logs = MoveTablesCommands.IncludeLogsOption();
        var show = new Command("show", "Show one workflow as JSON (as MoveTables show).") { wf, logs };
        show.SetAction(ctx.Run(async (p, client, format, ct) =>
            await ctx.ReportAsync(await client.GetAsync($"api/workflows/{Uri.EscapeDataString(p.GetValue(keyspace)!)}/{Uri.EscapeDataString(p.GetValue(wf)!)}" + MoveTablesCommands.IncludeLogsQuery(p.GetValue(logs)), ct).ConfigureAwait(false), OutputFormat.Json, what: "Workflow show").ConfigureAwait(false)));
        cmd.Subcommands.Add(show);

        foreach (var (name, action, text) in new[] { ("start", "start", "Start the workflow's streams."), ("stop", "stop", "Stop the workflow's streams."), ("delete", "cancel", "Delete the workflow (as MoveTables cancel: streams, guards, rules; keeps no target tables unless --keep-data).") })
        {
            var w = new Option<string>("--workflow") { Description = "The workflow name.", Required = true };
            var keepData = new Option<bool>("--keep-data") { Description = "delete: keep the target tables." };
            var sub = new Command(name, text) { w };
            if (name == "delete")
            {
                sub.Options.Add(keepData);
            }

            sub.SetAction(ctx.Run((p, client, format, ct) =>
            {
                var body = new JsonObject { ["requested_by"] = Environment.UserName };
                if (name == "delete")
                {
                    body["cleanup"] = new JsonObject { ["keep_data"] = p.GetValue(keepData) };
                }

                return MoveTablesCommands.CommandAsync(ctx, client, $"api/movetables/{Uri.EscapeDataString(p.GetValue(keyspace)!)}/{Uri.EscapeDataString(p.GetValue(w)!)}",
                    action, body, format, TimeSpan.FromMinutes(5), ct);
            }));
            cmd.Subcommands.Add(sub);
        }

        root.Subcommands.Add(cmd);
    }
}
