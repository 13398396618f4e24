using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Durable.Cli.Infrastructure;
using Durable.Contracts;

namespace Durable.Cli.Commands;

/// <summary>
/// <c>durablectl MoveTables --workflow W --target-keyspace K create|show|status|mirrortraffic|switchtraffic|reversetraffic|complete|cancel|start|stop|approve</c>,
/// mirroring vtctldclient, over the host's MoveTables HTTP API.
/// </summary>
public sealed class MoveTablesCommands(string kind = WorkflowKinds.MoveTables) : ICommandGroup
{
    private readonly string _kind = WorkflowKinds.Normalize(kind);

    private bool IsMigrate => _kind == WorkflowKinds.Migrate;

    public void AddTo(RootCommand root, CliContext ctx)
    {
        var workflow = new Option<string>("--workflow") { Description = "The workflow name, e.g. commerce2customer.", Required = true, Recursive = true };
        var target = new Option<string>("--target-keyspace") { Description = IsMigrate ? "The keyspace (in this cluster) the tables are copied into." : "The keyspace the tables move to.", Required = true, Recursive = true };
        var cmd = new Command(_kind, IsMigrate
            ? "Copy keyspaces or tables from a separate, mounted cluster (create, show, status, complete, cancel). The source stays intact; there is no " +
              "traffic switching and no reverse replication: stop the application's writes to the source, check with VDiff, complete, then point the application at the target."
            : "Move tables between keyspaces without downtime (create, show, status, switchtraffic, reversetraffic, complete, cancel).")
        {
            workflow, target,
        };
        cmd.Subcommands.Add(Create(ctx, workflow, target));
        cmd.Subcommands.Add(Show(ctx, workflow, target));
        cmd.Subcommands.Add(Status(ctx, workflow, target));
        if (IsMigrate)
        {
            cmd.Subcommands.Add(Cleanup(ctx, workflow, target, "complete", "After the copy (and VDiff): remove the streams and the target write guards; the source tables and data stay in place.", rename: false));
            cmd.Subcommands.Add(Cleanup(ctx, workflow, target, "cancel", "Remove the workflow, its streams and guards, and the target tables (--keep-data keeps them); the source is not touched.", rename: false));
        }
        else
        {
            cmd.Subcommands.Add(Switch(ctx, workflow, target, "switchtraffic", "Switch reads (per tablet type) and writes (PRIMARY) to the target keyspace."));
            cmd.Subcommands.Add(Switch(ctx, workflow, target, "reversetraffic", "Switch traffic back to the source keyspace (undoes SwitchTraffic)."));
            cmd.Subcommands.Add(MirrorTraffic(ctx, workflow, target));
            cmd.Subcommands.Add(Cleanup(ctx, workflow, target, "complete", "After all traffic is switched: drop (or rename, or keep) the source tables and remove streams, guards and routing rules.", rename: true));
            cmd.Subcommands.Add(Cleanup(ctx, workflow, target, "cancel", "Before writes are switched: remove the workflow, its streams, guards and routing rules, and the target tables.", rename: true));
        }

        cmd.Subcommands.Add(Simple(ctx, workflow, target, "start", "Start the workflow's streams."));
        cmd.Subcommands.Add(Simple(ctx, workflow, target, "stop", "Stop the workflow's streams."));
        cmd.Subcommands.Add(Approve(ctx, workflow, target));
        root.Subcommands.Add(cmd);
    }

    private string Path(ParseResult p, Option<string> workflow, Option<string> target, string action) =>
        $"api/{_kind.ToLowerInvariant()}/{Uri.EscapeDataString(p.GetValue(target)!)}/{Uri.EscapeDataString(p.GetValue(workflow)!)}/{action}";

    private static List<string> Split(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private Command Create(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var source = new Option<string>("--source-keyspace") { Description = IsMigrate ? "The keyspace in the mounted cluster the tables are copied from." : "The keyspace the tables move from.", Required = true };
        var mount = new Option<string?>("--mount-name")
        {
            Description = IsMigrate
                ? "The mounted cluster (durablectl Mount register) or external server (durablectl RegisterExternalSource) the source keyspace is in."
                : "Move from a keyspace of this mount instead of this cluster (an external source registered with durablectl RegisterExternalSource).",
            Required = IsMigrate,
        };
        var tables = new Option<string?>("--tables") { Description = "Comma-separated tables to move, e.g. 'customer,corder'." };
        var allTables = new Option<bool>("--all-tables") { Description = "Move every table of the source keyspace." };
        var exclude = new Option<string?>("--exclude-tables") { Description = "With --all-tables: tables to leave where they are." };
        var tabletTypes = new Option<string>("--tablet-types") { Description = "Source tablet types to copy and replicate from.", DefaultValueFactory = _ => "in_order:REPLICA,PRIMARY" };
        var cells = new Option<string?>("--cells") { Description = "Pick source tablets only from these cells, e.g. 'zone1,zone2' (default: any cell)." };
        var allCells = new Option<bool>("--all-cells") { Description = "Pick source tablets from any cell (the default)." };
        var onDdl = new Option<string>("--on-ddl") { Description = "What to do with DDL in the stream: IGNORE, STOP, EXEC, EXEC_IGNORE.", DefaultValueFactory = _ => "IGNORE" };
        var defer = new Option<bool>("--defer-secondary-keys") { Description = "Drop secondary keys for the copy and re-add them when each table is copied." };
        var stopAfterCopy = new Option<bool>("--stop-after-copy") { Description = "Stop the workflow when the copy is done instead of replicating." };
        var autoStart = new Option<bool>("--auto-start") { Description = "Start copying at once (false: the workflow waits Stopped until 'start').", DefaultValueFactory = _ => true };
        var noRules = new Option<bool>("--no-routing-rules") { Description = "Do not create routing rules for the moved tables." };
        var tz = new Option<string?>("--source-time-zone") { Description = "DATETIME values at the source are in this time zone; they are stored in UTC on the target." };
        var autoInc = new Option<string>("--sharded-auto-increment-handling")
        {
            Description = "For a sharded target: LEAVE keeps MySQL auto_increment on each shard (ids then collide across shards); REMOVE drops it, so inserts into the target must supply ids; REPLACE drops it and creates a sequence <table>_seq in --global-keyspace, recorded in the target VSchema, from which the gateway fills absent ids.",
            DefaultValueFactory = _ => "REMOVE",
        };
        var globalKeyspace = new Option<string?>("--global-keyspace") { Description = "With --sharded-auto-increment-handling REPLACE: the existing unsharded keyspace the sequence tables are created in." };
        var approvers = new Option<string?>("--approvers") { Description = "Require a signed approval from one of these approvers before SwitchTraffic and Complete." };
        var approvalExpiry = new Option<int?>("--approval-expiry-seconds") { Description = "Drop a command whose approval has not arrived within this many seconds." };
        var hookUrl = new Option<string[]>("--cutover-webhook") { Description = "POST the new routing here inside the switch; a failure rolls the switch back.", AllowMultipleArgumentsPerToken = false };
        var vdiffInterval = new Option<string?>("--vdiff-interval")
        {
            Description = "How often VDiff re-runs while the workflow waits for SwitchTraffic/Complete: a duration such as 30m or 1h, or 'off' (default: the host's DURABLE_VDIFF_INTERVAL, off when unset). With a schedule, SwitchTraffic/Complete need a clean VDiff since the last switch of writes; without, only a VDiff that found differences refuses them.",
        };
        var hookCommand = new Option<string[]>("--cutover-command") { Description = "Run this program (no shell; arguments split on spaces) with the new routing on stdin; non-zero exit rolls the switch back." };
        var cmd = new Command("create", IsMigrate
            ? "Create the workflow: pre-flight checks (the source read through the mount), target tables, write guards and streams; then copy and replicate. No routing rules."
            : "Create the workflow: pre-flight checks, target tables, write guards, routing rules and streams; then copy.")
        {
            source, mount, tables, allTables, exclude, tabletTypes, cells, allCells, onDdl, defer, stopAfterCopy, autoStart, tz, autoInc, globalKeyspace, approvers, approvalExpiry,
        };
        if (!IsMigrate)
        {
            // Migrate has no routing rules and never switches traffic, so neither applies to it.
            cmd.Options.Add(noRules);
            cmd.Options.Add(vdiffInterval);
            cmd.Options.Add(hookUrl);
            cmd.Options.Add(hookCommand);
        }

        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var hooks = (p.GetValue(hookUrl) ?? []).Select(u => new CutoverHook { Url = u })
                .Concat((p.GetValue(hookCommand) ?? []).Select(c => new CutoverHook { Command = c.Split(' ', StringSplitOptions.RemoveEmptyEntries) })).ToList();
            var approverList = Split(p.GetValue(approvers));
            var spec = new MoveTablesCreate
            {
                Workflow = p.GetValue(workflow)!,
                TargetKeyspace = p.GetValue(target)!,
                SourceKeyspace = p.GetValue(source)!,
                Kind = _kind,
                MountName = string.IsNullOrWhiteSpace(p.GetValue(mount)) ? null : p.GetValue(mount),
                Tables = Split(p.GetValue(tables)),
                AllTables = p.GetValue(allTables),
                ExcludeTables = Split(p.GetValue(exclude)),
                TabletTypes = p.GetValue(tabletTypes)!,
                Cells = Split(p.GetValue(cells)),
                AllCells = p.GetValue(allCells),
                OnDdl = p.GetValue(onDdl)!,
                DeferSecondaryKeys = p.GetValue(defer),
                StopAfterCopy = p.GetValue(stopAfterCopy),
                AutoStart = p.GetValue(autoStart),
                NoRoutingRules = p.GetValue(noRules),
                SourceTimeZone = p.GetValue(tz),
                ShardedAutoIncrementHandling = p.GetValue(autoInc)!,
                GlobalKeyspace = string.IsNullOrWhiteSpace(p.GetValue(globalKeyspace)) ? null : p.GetValue(globalKeyspace),
                Approvals = new ApprovalPolicy { Required = approverList.Count > 0, Approvers = approverList, ExpirySeconds = p.GetValue(approvalExpiry) },
                CutoverHooks = hooks,
                VDiffInterval = string.IsNullOrWhiteSpace(p.GetValue(vdiffInterval)) ? null : p.GetValue(vdiffInterval),
                RequestedBy = Environment.UserName,
            };
            try
            {
                spec.Validate();
            }
            catch (WorkflowValidationException e)
            {
                throw new UsageException(e.Message);
            }

            var response = await client.PostJsonAsync(Path(p, workflow, target, "create"), CreateBody(spec), ct).ConfigureAwait(false);
            if (!response.IsSuccess)
            {
                return await ctx.ReportAsync(response, format, what: $"{_kind} create").ConfigureAwait(false);
            }

            // Wait for pre-flight and create, so a refusal is reported here.
            var state = await WaitStateAsync(client, Path(p, workflow, target, "state"), s => s["phase"]?.GetValue<string>() is not ("PreFlight" or "Creating"), TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
            if (state?["phase"]?.GetValue<string>() == "Failed")
            {
                ctx.WriteError("create_failed", $"{_kind} create failed: {state["last_error"]}");
                return ExitCodes.Failed;
            }

            // The host answers an identical repeat of a create with "existing": true (and changes nothing); vtctldclient
            // says the workflow "already exists" then, so a re-run runbook does not claim to have created it again.
            var existing = response.Body is { } created && created.TryGetProperty("existing", out var ex) && ex.ValueKind == JsonValueKind.True;
            var name = $"{p.GetValue(target)}.{p.GetValue(workflow)}";
            var summary = $"({state?["phase"]}; tables {string.Join(",", state?["tables"]?.AsArray().Select(t => t!.ToString()) ?? [])})";
            await ctx.Output.WriteLineAsync(format == OutputFormat.Json
                ? JsonSerializer.Serialize(response.Body, CliContext.Pretty)
                : existing
                    ? $"The workflow {name} already exists {summary}; nothing was changed."
                    : $"The following workflow was created: {name} {summary}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    /// <summary>
    /// The create body. Migrate's API refuses the options Migrate has no use for when they are present at all
    /// (ExternalSources.MigrateRefusal: no_routing_rules, cutover_hooks, enable_reverse_replication), and the
    /// serialized spec always carries the first two: they are left out for Migrate, whose command does not offer them.
    /// </summary>
    private string CreateBody(MoveTablesCreate spec)
    {
        var body = JsonSerializer.SerializeToNode(spec)!.AsObject();
        if (IsMigrate)
        {
            body.Remove("no_routing_rules");
            body.Remove("cutover_hooks");
        }

        return body.ToJsonString();
    }

    internal static async Task<JsonObject?> WaitStateAsync(DurableHostClient client, string path, Func<JsonObject, bool> until, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        JsonObject? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var r = await client.GetAsync(path, ct).ConfigureAwait(false);
            if (r.IsSuccess && r.Body is { } b && JsonNode.Parse(b.GetRawText()) is JsonObject o)
            {
                last = o;
                if (until(o))
                {
                    return o;
                }
            }

            await Task.Delay(250, ct).ConfigureAwait(false);
        }

        return last;
    }

    private Command Show(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var logs = IncludeLogsOption();
        var cmd = new Command("show", "Show the workflow as JSON (streams per shard with their logs and copy state, tablet controls, traffic, audit trail).") { logs };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var r = await client.GetAsync(Path(p, workflow, target, "show") + IncludeLogsQuery(p.GetValue(logs)), ct).ConfigureAwait(false);
            return await ctx.ReportAsync(r, OutputFormat.Json, what: $"{_kind} show").ConfigureAwait(false);
        }));
        return cmd;
    }

    /// <summary>vtctldclient's <c>show --include-logs</c> (default true): false leaves each stream's log out.</summary>
    internal static Option<bool> IncludeLogsOption() =>
        new("--include-logs") { Description = "Include each stream's log (default true; --include-logs=false leaves it out, as vtctldclient).", DefaultValueFactory = _ => true };

    internal static string IncludeLogsQuery(bool includeLogs) => includeLogs ? "" : "?include_logs=false";

    private Command Status(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var watch = new Option<bool>("--watch") { Description = "Refresh every 2 s with progress bars until the copy is done (Ctrl-C to stop)." };
        var cmd = new Command("status", "Copy progress per table, streams with lag, and the traffic state.") { watch };
        cmd.Aliases.Add("progress");
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            while (true)
            {
                var r = await client.GetAsync(Path(p, workflow, target, "status"), ct).ConfigureAwait(false);
                if (!r.IsSuccess || format == OutputFormat.Json)
                {
                    var code = await ctx.ReportAsync(r, OutputFormat.Json, what: $"{_kind} status").ConfigureAwait(false);
                    if (!p.GetValue(watch) || code != ExitCodes.Ok)
                    {
                        return code;
                    }
                }
                else
                {
                    await ctx.Output.WriteLineAsync(RenderStatus(r.Body!.Value)).ConfigureAwait(false);
                }

                var copying = r.Body is { } b && b.TryGetProperty("table_copy_state", out var cs) && cs.EnumerateObject().Any();
                if (!p.GetValue(watch) || !copying)
                {
                    return ExitCodes.Ok;
                }

                await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            }
        }));
        return cmd;
    }

    internal static string RenderStatus(JsonElement status) => TextRender.Status(status);

    /// <summary>Sends a command and waits for the orchestration's answer to it (by request id).</summary>
    internal static async Task<int> CommandAsync(CliContext ctx, DurableHostClient client, string basePath, string action, JsonObject body, OutputFormat format, TimeSpan wait, CancellationToken ct)
    {
        var r = await client.PostJsonAsync($"{basePath}/{action}", body.ToJsonString(), ct).ConfigureAwait(false);
        if (!r.IsSuccess || body["dry_run"]?.GetValue<bool>() == true)
        {
            if (!r.IsSuccess && format == OutputFormat.Text && r.Body is { ValueKind: JsonValueKind.Object } refused && refused.TryGetProperty("text", out var steps))
            {
                // A dry run the host refuses: the steps up to the refusal, then the refusal (exit code as the command's).
                await ctx.Output.WriteLineAsync(steps.GetString()).ConfigureAwait(false);
            }

            return await ctx.ReportAsync(r, format, b => b.GetProperty("text").GetString() ?? "", $"MoveTables {action}").ConfigureAwait(false);
        }

        var requestId = r.Body!.Value.GetProperty("request_id").GetString();
        JsonObject? result = null;
        await WaitStateAsync(client, $"{basePath}/state", s =>
        {
            result = s["commands"]?.AsArray().Select(c => c!.AsObject()).LastOrDefault(c => c["request_id"]?.GetValue<string>() == requestId);
            // Any answer ends the wait, "waiting for approval" included: the command is then pending, and that is the answer.
            return result is not null;
        }, wait, ct).ConfigureAwait(false);
        if (result is null)
        {
            ctx.WriteError("no_answer", $"{action} was sent (request {requestId}) but the workflow has not answered within {wait.TotalSeconds:0}s; follow it with 'show'.");
            return ExitCodes.Failed;
        }

        var state = result["state"]!.GetValue<string>();
        var message = result["message"]!.GetValue<string>();
        if (format == OutputFormat.Json)
        {
            await ctx.Output.WriteLineAsync(result.ToJsonString(CliContext.Pretty)).ConfigureAwait(false);
        }
        else if (state is "done" or "waiting for approval" or "accepted")
        {
            await ctx.Output.WriteLineAsync(state == "waiting for approval" ? $"{action}: waiting for approval. {message}" : message).ConfigureAwait(false);
        }
        else
        {
            ctx.WriteError(state, $"{action} {state}: {message}");
        }

        return state is "done" or "waiting for approval" or "accepted" ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private Command Switch(CliContext ctx, Option<string> workflow, Option<string> target, string name, string description)
    {
        var types = new Option<string?>("--tablet-types") { Description = "Tablet types to switch: REPLICA and RDONLY switch reads, PRIMARY switches writes (default: all)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the steps the host would take, from the workflow's state now, and change nothing (exits non-zero when the switch would be refused)." };
        var lag = new Option<double>("--max-replication-lag-allowed") { Description = "Refuse the switch when the streams lag more than this many seconds.", DefaultValueFactory = _ => 30 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds the write switch waits for the streams to catch up before undoing itself.", DefaultValueFactory = _ => 30 };
        var reverse = new Option<bool>("--enable-reverse-replication") { Description = "Replicate target writes back to the source after the switch (needed for ReverseTraffic).", DefaultValueFactory = _ => true };
        var wait = new Option<int>("--wait-seconds") { Description = "How long to wait for the workflow's answer.", DefaultValueFactory = _ => 600 };
        var ignoreVDiff = IgnoreVDiffOption();
        var initSequences = new Option<bool>("--initialize-target-sequences")
        {
            Description = "When writes switch: set each sequence of the moved tables (REPLACE) above the largest value of its column on every target shard, while writes are stopped.",
        };
        var cmd = new Command(name, description) { types, dryRun, lag, timeout, reverse, wait, ignoreVDiff };
        if (name == "switchtraffic")
        {
            // Sequences serve the target after a forward switch; ReverseTraffic sends writes back to the source's auto_increment.
            cmd.Options.Add(initSequences);
        }

        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var options = new SwitchOptions
            {
                TabletTypes = Split(p.GetValue(types)),
                MaxReplicationLagAllowedSeconds = p.GetValue(lag),
                TimeoutSeconds = p.GetValue(timeout),
                EnableReverseReplication = p.GetValue(reverse),
                InitializeTargetSequences = p.GetValue(initSequences),
            };
            try
            {
                options.Validate();
            }
            catch (WorkflowValidationException e)
            {
                throw new UsageException(e.Message);
            }

            var body = new JsonObject { ["switch"] = JsonSerializer.SerializeToNode(options), ["dry_run"] = p.GetValue(dryRun), ["requested_by"] = Environment.UserName };
            AddIgnoreVDiff(body, p.GetValue(ignoreVDiff));
            return await CommandAsync(ctx, client, Path(p, workflow, target, "")[..^1], name, body, format, TimeSpan.FromSeconds(p.GetValue(wait)), ct).ConfigureAwait(false);
        }));
        return cmd;
    }

    /// <summary>
    /// vtctldclient's <c>MoveTables ... MirrorTraffic --percent P [--tablet-types ...]</c>: before SwitchTraffic, the
    /// gateways also send P% of the moving tables' read-only statements to the target and discard the answers.
    /// </summary>
    private Command MirrorTraffic(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var percent = new Option<double>("--percent") { Description = "Share of the moving tables' read-only statements to mirror to the target, 0-100 (e.g. 1.0; 0 removes the mirror rules).", Required = true };
        var types = new Option<string?>("--tablet-types") { Description = "Tablet types whose statements are mirrored: PRIMARY, REPLICA, RDONLY (default: all three, as Vitess)." };
        var wait = new Option<int>("--wait-seconds") { Description = "How long to wait for the workflow's answer.", DefaultValueFactory = _ => 120 };
        var cmd = new Command("mirrortraffic", "Before SwitchTraffic: mirror a share of the moving tables' read-only statements to the target keyspace (the gateways discard the answers; SwitchTraffic removes the rules).")
        {
            percent, types, wait,
        };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var options = new MirrorTrafficOptions { Percent = p.GetValue(percent), TabletTypes = Split(p.GetValue(types)) };
            try
            {
                options.Validate();
            }
            catch (WorkflowValidationException e)
            {
                throw new UsageException(e.Message);
            }

            var body = new JsonObject { ["mirror"] = JsonSerializer.SerializeToNode(options), ["requested_by"] = Environment.UserName };
            return await CommandAsync(ctx, client, Path(p, workflow, target, "")[..^1], "mirrortraffic", body, format, TimeSpan.FromSeconds(p.GetValue(wait)), ct).ConfigureAwait(false);
        }));
        return cmd;
    }

    private Command Cleanup(CliContext ctx, Option<string> workflow, Option<string> target, string name, string description, bool rename)
    {
        var keepData = new Option<bool>("--keep-data") { Description = "Keep the tables (source tables for complete, target tables for cancel)." };
        var renameTables = new Option<bool>("--rename-tables") { Description = "Rename the tables to _<table>_old instead of dropping them." };
        var keepRules = new Option<bool>("--keep-routing-rules") { Description = "Leave the routing rules in place." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what the host would remove, from the workflow's state now, and change nothing (exits non-zero when the command would be refused)." };
        var cmd = new Command(name, description) { keepData, keepRules, dryRun };
        if (rename)
        {
            cmd.Options.Add(renameTables);
        }

        var ignoreVDiff = IgnoreVDiffOption();
        if (name == "complete" && !IsMigrate)
        {
            cmd.Options.Add(ignoreVDiff);
        }

        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var cleanup = new CleanupOptions { KeepData = p.GetValue(keepData), RenameTables = p.GetValue(renameTables), KeepRoutingRules = p.GetValue(keepRules) };
            // A dry run is drawn up by the host from the workflow's real state (and refused there as the command would be).
            var body = new JsonObject { ["cleanup"] = JsonSerializer.SerializeToNode(cleanup), ["dry_run"] = p.GetValue(dryRun), ["requested_by"] = Environment.UserName };
            AddIgnoreVDiff(body, p.GetValue(ignoreVDiff));
            return await CommandAsync(ctx, client, Path(p, workflow, target, "")[..^1], name, body, format, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Option<string?> IgnoreVDiffOption() => new("--ignore-vdiff")
    {
        Description = "Go ahead although the VDiff gate holds the command (the last VDiff found differences, or with a VDiff schedule none has completed clean since the last switch); give the reason, it is written to the workflow's audit trail with the VDiff ignored.",
    };

    /// <summary>An operator's override of the VDiff gate: the reason travels with the command and is audited.</summary>
    private static void AddIgnoreVDiff(JsonObject body, string? reason)
    {
        if (reason is null)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new UsageException("--ignore-vdiff needs the reason for going ahead without a clean VDiff, e.g. --ignore-vdiff 'rows differ only in a column the app rewrites'.");
        }

        body["ignore_vdiff"] = true;
        body["reason"] = reason;
    }

    private Command Simple(CliContext ctx, Option<string> workflow, Option<string> target, string name, string description)
    {
        var cmd = new Command(name, description);
        cmd.SetAction(ctx.Run((p, client, format, ct) =>
            CommandAsync(ctx, client, Path(p, workflow, target, "")[..^1], name, new JsonObject { ["requested_by"] = Environment.UserName }, format, TimeSpan.FromMinutes(2), ct)));
        return cmd;
    }

    private Command Approve(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var action = new Option<string>("--action") { Description = "The pending action approved: SwitchTraffic or Complete.", Required = true };
        var approver = new Option<string>("--approver") { Description = "Your approver name, as configured on the host.", Required = true };
        var keyEnv = new Option<string>("--key-env") { Description = "Environment variable holding your base64 approver key (never pass a key as an argument).", DefaultValueFactory = _ => "DURABLE_APPROVER_KEY" };
        var expires = new Option<int>("--expires-in-seconds") { Description = "How long the approval stays valid.", DefaultValueFactory = _ => 600 };
        var generation = new Option<long?>("--generation") { Description = "The traffic generation approved (default: the workflow's traffic_generation now, read from its state)." };
        var cmd = new Command("approve", "Sign an approval of the pending action (HMAC over instance, action, traffic generation, approver, nonce and expiry) and send it.")
        {
            action, approver, keyEnv, expires, generation,
        };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var keyText = ctx.EnvironmentVariable(p.GetValue(keyEnv)!);
            if (string.IsNullOrEmpty(keyText))
            {
                throw new UsageException($"${p.GetValue(keyEnv)} is empty: put your base64 approver key there.");
            }

            byte[] key;
            try
            {
                key = Convert.FromBase64String(keyText);
            }
            catch (FormatException)
            {
                throw new UsageException($"${p.GetValue(keyEnv)} is not base64.");
            }

            string normalized;
            try
            {
                normalized = ApprovalActions.Normalize(p.GetValue(action)!);
            }
            catch (WorkflowValidationException e)
            {
                throw new UsageException(e.Message);
            }

            var basePath = Path(p, workflow, target, "")[..^1];
            var approved = p.GetValue(generation);
            if (approved is null)
            {
                // The operator approves what is pending now; the workflow still refuses it if the traffic moves first.
                var state = await client.GetAsync($"{basePath}/state", ct).ConfigureAwait(false);
                if (!state.IsSuccess || state.Body is not { } body)
                {
                    return await ctx.ReportAsync(state, format, what: "MoveTables approve").ConfigureAwait(false);
                }

                approved = body.TryGetProperty("traffic_generation", out var g) && g.TryGetInt64(out var n) ? n : 0;
            }

            var instance = Names.InstanceId(p.GetValue(target)!, p.GetValue(workflow)!, _kind);
            var signed = SignedApproval.Sign(key, instance, normalized, approved.Value, p.GetValue(approver)!, Guid.NewGuid().ToString("N"),
                DateTimeOffset.UtcNow.AddSeconds(p.GetValue(expires)));
            // The body is the approval itself: the payload chat-ops bots put on the approvals queue (docs/approvals.md).
            var payload = JsonSerializer.SerializeToNode(signed)!.AsObject();
            return await CommandAsync(ctx, client, basePath, "approve", payload, format, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        }));
        return cmd;
    }
}
