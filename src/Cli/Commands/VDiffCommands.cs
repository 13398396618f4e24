using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Durable.Cli.Infrastructure;
using Durable.Contracts;

namespace Durable.Cli.Commands;

/// <summary>
/// <c>durablectl VDiff --workflow W --target-keyspace K create|show last|UUID|all [--verbose]|stop UUID|resume UUID|delete UUID|all</c>,
/// mirroring vtctldclient VDiff, over the host's VDiff HTTP API; text output in vtctldclient's words, JSON in the seeds' shape.
/// </summary>
public sealed class VDiffCommands : ICommandGroup
{
    public void AddTo(RootCommand root, CliContext ctx)
    {
        var workflow = new Option<string>("--workflow") { Description = "The workflow to verify, e.g. commerce2customer (after a write switch: commerce2customer_reverse with the source keyspace).", Required = true, Recursive = true };
        var target = new Option<string>("--target-keyspace") { Description = "The workflow's target keyspace.", Required = true, Recursive = true };
        var cmd = new Command("VDiff", "Verify that a workflow's target tables equal its source tables (create, show, stop, resume, delete, schedule).") { workflow, target };
        cmd.Subcommands.Add(Create(ctx, workflow, target));
        cmd.Subcommands.Add(Show(ctx, workflow, target));
        cmd.Subcommands.Add(Act(ctx, workflow, target, "stop", "Stop a running VDiff; its progress is kept (resume continues it)."));
        cmd.Subcommands.Add(Act(ctx, workflow, target, "resume", "Resume a stopped (or failed) VDiff where each table stopped."));
        cmd.Subcommands.Add(Act(ctx, workflow, target, "delete", "Delete a VDiff's results (a uuid, or all of the workflow's)."));
        cmd.Subcommands.Add(Schedule(ctx, workflow, target));
        root.Subcommands.Add(cmd);
    }

    private static string Path(ParseResult p, Option<string> workflow, Option<string> target, string action, string? selector = null) =>
        $"api/vdiff/{Uri.EscapeDataString(p.GetValue(target)!)}/{Uri.EscapeDataString(p.GetValue(workflow)!)}/{action}" + (selector is null ? "" : "/" + Uri.EscapeDataString(selector));

    private static Command Create(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var uuid = new Option<string?>("--uuid") { Description = "Use this UUID for the VDiff (default: a new one); the same create with the same UUID is idempotent." };
        var tables = new Option<string?>("--tables") { Description = "Only these tables (comma-separated; default: all the workflow moves)." };
        var tabletTypes = new Option<string?>("--tablet-types") { Description = "Source tablet types to snapshot, in preference order (default in_order:RDONLY,REPLICA,PRIMARY)." };
        var tz = new Option<string?>("--source-time-zone") { Description = "The workflow's --source-time-zone: target DATETIMEs are converted back from UTC before comparing." };
        var onlyPks = new Option<bool>("--only-pks") { Description = "Report only the primary keys of differing rows, not their values." };
        var maxExtra = new Option<int?>("--max-extra-rows-to-compare") { Description = "Look up at most this many extra rows per table with their values (default 1000); the rest are counted." };
        var maxSample = new Option<int?>("--max-report-sample-rows") { Description = "Keep at most this many sample rows per table and kind (default 10)." };
        var stats = new Option<bool>("--update-table-stats") { Description = "ANALYZE the target tables first, for accurate progress and ETA." };
        var autoRetry = new Option<bool>("--auto-retry") { Description = "Retry after transient errors (lost connection, lock wait timeout, deadlock).", DefaultValueFactory = _ => true };
        var maxDuration = new Option<string?>("--max-diff-duration") { Description = "Longest life of one pair of snapshots (e.g. 10m); longer tables continue in new aligned segments." };
        var waitTime = new Option<string?>("--filtered-replication-wait-time") { Description = "How long alignment waits for the stream or source tablet to reach a position (default 60s)." };
        var rowLevel = new Option<bool>("--row-level") { Description = "Compare every row, not only the chunks whose checksums differ." };
        var chunkRows = new Option<int?>("--chunk-rows") { Description = "Rows per checksum chunk (default 10000)." };
        var repair = new Option<bool>("--repair") { Description = "After the diff, re-copy the differing primary-key ranges from the aligned source and verify them again." };
        var wait = new Option<bool>("--wait") { Description = "Wait for the VDiff to finish, printing progress, then show the result." };
        var waitInterval = new Option<string>("--wait-update-interval") { Description = "With --wait: how often to print progress.", DefaultValueFactory = _ => "1m" };
        var cmd = new Command("create", "Create and start a VDiff of the workflow on every target shard.")
        {
            uuid, tables, tabletTypes, tz, onlyPks, maxExtra, maxSample, stats, autoRetry, maxDuration, waitTime, rowLevel, chunkRows, repair, wait, waitInterval,
        };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var request = new VDiffCreateRequest
            {
                Uuid = p.GetValue(uuid),
                Tables = string.IsNullOrWhiteSpace(p.GetValue(tables)) ? [] : p.GetValue(tables)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                TabletTypes = p.GetValue(tabletTypes),
                SourceTimeZone = p.GetValue(tz),
                OnlyPks = p.GetValue(onlyPks),
                MaxExtraRowsToCompare = p.GetValue(maxExtra),
                MaxReportSampleRows = p.GetValue(maxSample),
                UpdateTableStats = p.GetValue(stats),
                AutoRetry = p.GetValue(autoRetry),
                MaxDiffDuration = p.GetValue(maxDuration),
                FilteredReplicationWaitTime = p.GetValue(waitTime),
                RowLevel = p.GetValue(rowLevel),
                ChunkRows = p.GetValue(chunkRows),
                Repair = p.GetValue(repair),
                RequestedBy = Environment.UserName,
            };
            TimeSpan interval;
            try
            {
                request.ToOptions();
                interval = GoDuration.Parse("--wait-update-interval", p.GetValue(waitInterval)!);
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }

            var r = await client.PostJsonAsync(Path(p, workflow, target, "create"), JsonSerializer.Serialize(request), ct).ConfigureAwait(false);
            if (!r.IsSuccess)
            {
                return await ctx.ReportAsync(r, format, what: "VDiff create").ConfigureAwait(false);
            }

            var id = r.Body!.Value.GetProperty("UUID").GetString()!;
            if (!p.GetValue(wait))
            {
                return await ctx.ReportAsync(r, format, _ => $"VDiff {id} scheduled on target shards, use show to view progress").ConfigureAwait(false);
            }

            if (format == OutputFormat.Text)
            {
                await ctx.Output.WriteLineAsync($"VDiff {id} scheduled on target shards, waiting for it to finish").ConfigureAwait(false);
            }

            var last = DateTime.UtcNow;
            while (true)
            {
                var s = await client.GetAsync(Path(p, workflow, target, "show", id), ct).ConfigureAwait(false);
                if (!s.IsSuccess)
                {
                    return await ctx.ReportAsync(s, format, what: "VDiff show").ConfigureAwait(false);
                }

                var state = s.Body!.Value.GetProperty("State").GetString();
                if (state is VDiffStates.Completed or VDiffStates.Error or VDiffStates.Stopped)
                {
                    return await PrintReportAsync(ctx, s, format, p.GetValue(workflow)!, p.GetValue(target)!, verbose: false).ConfigureAwait(false);
                }

                if (format == OutputFormat.Text && DateTime.UtcNow - last >= interval)
                {
                    last = DateTime.UtcNow;
                    await ctx.Output.WriteLineAsync(ProgressLine(s.Body!.Value)).ConfigureAwait(false);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, interval.TotalMilliseconds)), ct).ConfigureAwait(false);
            }
        }));
        return cmd;
    }

    private static Command Show(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var selector = new Argument<string>("last|UUID|all") { Description = "Which VDiff: last, a UUID, or all.", DefaultValueFactory = _ => "last" };
        var verbose = new Option<bool>("--verbose") { Description = "Per-shard reports with sample rows (JSON), or per-table details (text)." };
        var cmd = new Command("show", "Show a VDiff's result or progress (text summary; --format json for the full report).") { selector, verbose };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var which = p.GetValue(selector)!;
            if (which is not ("last" or "all") && !Guid.TryParse(which, out _))
            {
                throw new UsageException($"VDiff show '{which}' is invalid: use last, all, or a VDiff UUID.");
            }

            var path = Path(p, workflow, target, "show", which) + (p.GetValue(verbose) ? "?verbose=true" : "");
            var r = await client.GetAsync(path, ct).ConfigureAwait(false);
            if (which == "all")
            {
                return await ctx.ReportAsync(r, format, RenderAll, "VDiff show").ConfigureAwait(false);
            }

            return await PrintReportAsync(ctx, r, format, p.GetValue(workflow)!, p.GetValue(target)!, p.GetValue(verbose)).ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command Act(CliContext ctx, Option<string> workflow, Option<string> target, string name, string description)
    {
        var selector = new Argument<string>(name == "delete" ? "UUID|all" : "UUID") { Description = name == "delete" ? "The VDiff's UUID, or all." : "The VDiff's UUID." };
        var cmd = new Command(name, description) { selector };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var which = p.GetValue(selector)!;
            if (!Guid.TryParse(which, out _) && !(name == "delete" && which == "all"))
            {
                throw new UsageException($"VDiff {name} '{which}' is invalid: use a VDiff UUID{(name == "delete" ? " or all" : "")} (see show all).");
            }

            var path = Path(p, workflow, target, name, which);
            var r = name == "delete"
                ? await client.SendAsync(HttpMethod.Delete, path, null, ct).ConfigureAwait(false)
                : await client.PostJsonAsync(path, "{}", ct).ConfigureAwait(false);
            return await ctx.ReportAsync(r, format, b => name switch
            {
                "delete" => $"VDiff {which} deleted ({b.GetProperty("Deleted").GetInt32()} shard result(s))",
                _ => $"VDiff {which} {b.GetProperty("Status").GetString()}",
            }, $"VDiff {name}").ConfigureAwait(false);
        }));
        return cmd;
    }

    /// <summary>
    /// <c>schedule --interval 1h|30m|off</c>: how often the MoveTables workflow runs its own VDiff (the workflow's
    /// VDiffSchedule command). With a schedule, SwitchTraffic and Complete need a clean VDiff newer than the last switch
    /// of writes; off, only a VDiff that found differences holds them (verification is not turned off).
    /// </summary>
    private static Command Schedule(CliContext ctx, Option<string> workflow, Option<string> target)
    {
        var interval = new Option<string>("--interval") { Description = "How often the workflow re-runs VDiff: a duration (30m, 1h) or off.", Required = true };
        var wait = new Option<string>("--wait-timeout") { Description = "How long to wait for the workflow's answer.", DefaultValueFactory = _ => "30s" };
        var cmd = new Command("schedule", "Set (or turn off) the workflow's VDiff schedule; it decides how strict the VDiff gate of SwitchTraffic and Complete is.") { interval, wait };
        cmd.SetAction(ctx.Run(async (p, client, format, ct) =>
        {
            var text = p.GetValue(interval)!;
            try
            {
                _ = VDiffIntervals.Parse(text);
            }
            catch (WorkflowValidationException e)
            {
                throw new UsageException(e.Message);
            }

            var timeout = GoDuration.Parse("--wait-timeout", p.GetValue(wait)!);
            var basePath = $"api/movetables/{Uri.EscapeDataString(p.GetValue(target)!)}/{Uri.EscapeDataString(p.GetValue(workflow)!)}";
            return await MoveTablesCommands.CommandAsync(ctx, client, basePath, "vdiffschedule", new System.Text.Json.Nodes.JsonObject { ["vdiff_interval"] = text }, format, timeout, ct).ConfigureAwait(false);
        }));
        return cmd;
    }

    private static async Task<int> PrintReportAsync(CliContext ctx, HostResponse r, OutputFormat format, string workflow, string keyspace, bool verbose)
    {
        var code = await ctx.ReportAsync(r, format, b => RenderReport(b, verbose), "VDiff show").ConfigureAwait(false);
        return code == ExitCodes.Ok && r.Body is { } body && body.GetProperty("State").GetString() == VDiffStates.Error ? ExitCodes.Failed : code;
    }

    private static string ProgressLine(JsonElement report) =>
        report.TryGetProperty("Progress", out var pr) && pr.ValueKind == JsonValueKind.Object
            ? string.Create(CultureInfo.InvariantCulture, $"VDiff {report.GetProperty("UUID").GetString()}: {report.GetProperty("State").GetString()}, {report.GetProperty("RowsCompared").GetInt64()} rows compared, {pr.GetProperty("Percentage").GetDouble():0.00}% done, ETA {(pr.TryGetProperty("ETA", out var eta) ? eta.GetString() : "unknown")}")
            : $"VDiff {report.GetProperty("UUID").GetString()}: {report.GetProperty("State").GetString()}, {report.GetProperty("RowsCompared").GetInt64()} rows compared";

    /// <summary>The text summary, in vtctldclient's words ("VDiff Summary for keyspace.workflow (uuid)").</summary>
    internal static string RenderReport(JsonElement report, bool verbose)
    {
        var sb = new StringBuilder();
        var state = report.GetProperty("State").GetString();
        sb.AppendLine(CultureInfo.InvariantCulture, $"VDiff Summary for {report.GetProperty("Keyspace").GetString()}.{report.GetProperty("Workflow").GetString()} ({report.GetProperty("UUID").GetString()})");
        sb.AppendLine(CultureInfo.InvariantCulture, $"State:        {state}");
        if (report.TryGetProperty("Errors", out var errors) && errors.ValueKind == JsonValueKind.String)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"Errors:       {errors.GetString()}");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"RowsCompared: {report.GetProperty("RowsCompared").GetInt64()}");
        var mismatch = report.GetProperty("HasMismatch").GetBoolean();
        sb.AppendLine(CultureInfo.InvariantCulture, $"HasMismatch:  {(mismatch ? "true" : "false")}");
        var repaired = report.TryGetProperty("Repaired", out var rep) && rep.ValueKind is JsonValueKind.True or JsonValueKind.False ? rep.GetBoolean() : (bool?)null;
        if (repaired is not null)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"Repaired:     {(repaired.Value ? "true" : "false (the repair has not completed)")}");
        }

        foreach (var (name, label) in new[] { ("StartedAt", "StartedAt:    "), ("CompletedAt", "CompletedAt:  ") })
        {
            if (report.TryGetProperty(name, out var at) && at.ValueKind == JsonValueKind.String)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"{label}{at.GetString()}");
            }
        }

        if (report.TryGetProperty("Progress", out var progress) && progress.ValueKind == JsonValueKind.Object)
        {
            var eta = progress.TryGetProperty("ETA", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : "unknown";
            sb.AppendLine(CultureInfo.InvariantCulture, $"Progress:     {progress.GetProperty("Percentage").GetDouble():0.00}%, ETA: {eta}");
        }

        if (mismatch || verbose || repaired is not null)
        {
            foreach (var table in report.GetProperty("TableSummary").EnumerateObject())
            {
                var t = table.Value;
                if (!verbose && t.GetProperty("MismatchedRows").GetInt64() + t.GetProperty("ExtraRowsSource").GetInt64() + t.GetProperty("ExtraRowsTarget").GetInt64() == 0)
                {
                    continue;
                }

                sb.AppendLine(CultureInfo.InvariantCulture, $"\nTable {table.Name}:");
                sb.AppendLine(CultureInfo.InvariantCulture, $"\tState:            {t.GetProperty("State").GetString()}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"\tProcessedRows:    {t.GetProperty("RowsCompared").GetInt64()}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"\tMatchingRows:     {t.GetProperty("MatchingRows").GetInt64()}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"\tMismatchedRows:   {t.GetProperty("MismatchedRows").GetInt64()}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"\tExtraRowsSource:  {t.GetProperty("ExtraRowsSource").GetInt64()}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"\tExtraRowsTarget:  {t.GetProperty("ExtraRowsTarget").GetInt64()}");
                if (t.TryGetProperty("RowsInserted", out var inserted))
                {
                    // What --repair changed on the target for this table.
                    sb.AppendLine(CultureInfo.InvariantCulture,
                        $"\tRepaired:         {inserted.GetInt64()} inserted, {t.GetProperty("RowsUpdated").GetInt64()} updated, {t.GetProperty("RowsDeleted").GetInt64()} deleted on the target");
                }
            }
        }

        sb.AppendLine();
        sb.Append("Use \"--format=json\" for more detailed output.");
        return sb.ToString();
    }

    internal static string RenderAll(JsonElement reports)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"UUID",-36}  {"State",-9}  {"RowsCompared",12}  {"HasMismatch",-11}  {"StartedAt",-19}  CompletedAt");
        foreach (var r in reports.EnumerateArray())
        {
            string At(string n) => r.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{r.GetProperty("UUID").GetString(),-36}  {r.GetProperty("State").GetString(),-9}  {r.GetProperty("RowsCompared").GetInt64(),12}  {(r.GetProperty("HasMismatch").GetBoolean() ? "true" : "false"),-11}  {At("StartedAt"),-19}  {At("CompletedAt")}");
        }

        return sb.ToString().TrimEnd();
    }
}
