using System.Globalization;
using System.Text.Json.Nodes;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The JSON of show and status, shaped like vtctldclient's <c>Workflow show</c> and <c>MoveTables status</c>
/// (<c>--format=json</c>, proto field names) and read from the servers when asked for: the streams, their copy state and
/// log from the target primaries' sidecars, the write guards from the primaries' triggers, the shard records from the
/// topology. Durable's own fields (phase, last_error, audit, ...) follow vtctldclient's and are documented in
/// docs/movetables.md.
/// </summary>
public sealed class WorkflowViews(MoveTablesEnvironment env)
{
    /// <summary>The most recent log entries shown per stream (a stream that changed owner many times logs each change).</summary>
    public const int LogLimit = 100;

    /// <summary>One stream of the workflow with its primary, copy_state rows and (for show) log and throttling.</summary>
    private sealed record StreamView(StreamRecord Stream, TabletEndpoint Tablet, IReadOnlyList<CopyState> Copy, IReadOnlyList<StreamLogEntry>? Logs, long TimeThrottled);

    /// <summary>One target shard: its record, its primary, the workflow's streams there and the tables its guards refuse writes to.</summary>
    private sealed record ShardView(ShardRecord Shard, TabletEndpoint Primary, IReadOnlyList<StreamView> Streams, IReadOnlyList<string> GuardedTables);

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string? Text(long? value) => value?.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The shards of <paramref name="keyspace"/> with the workflow's streams. <paramref name="detail"/> (show) also reads
    /// each stream's log (when <paramref name="includeLogs"/>) and throttling, and the shard's guard triggers.
    /// </summary>
    private async Task<List<ShardView>> ShardsAsync(string keyspace, string workflow, bool detail, bool includeLogs, CancellationToken ct)
    {
        var result = new List<ShardView>();
        foreach (var shard in (await env.Store.GetShardsAsync(keyspace, ct).ConfigureAwait(false)).Select(s => s.Value).OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            var primary = await env.Resolver.PrimaryAsync(keyspace, shard.Name, ct).ConfigureAwait(false);
            // Streams, copy state and log on one connection: the copy's progress moves with each commit of a chunk.
            result.Add(await env.Engine.OnTargetAsync(keyspace, shard.Name, async c =>
            {
                var views = new List<StreamView>();
                foreach (var s in await env.Engine.Store.ListAsync(c, workflow, ct: ct).ConfigureAwait(false))
                {
                    var copy = await env.Engine.Store.GetCopyStateAsync(c, s.Id, ct).ConfigureAwait(false);
                    var logs = detail && includeLogs ? await env.Engine.Store.GetLogAsync(c, s.Id, LogLimit, ct).ConfigureAwait(false) : null;
                    var throttled = detail ? await env.Engine.Store.GetTimeThrottledAsync(c, s.Id, ct).ConfigureAwait(false) : 0;
                    views.Add(new StreamView(s, primary, copy, logs, throttled));
                }

                IReadOnlyList<string> guarded = detail && views.Count > 0
                    ? [.. (await WriteGuards.ListAsync(c, primary.DbName, ct).ConfigureAwait(false)).Select(g => g.Table).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]
                    : [];
                return new ShardView(shard, primary, views, guarded);
            }, ct).ConfigureAwait(false));
        }

        return result;
    }

    private static JsonObject Tablet(TabletEndpoint t)
    {
        var (cell, uid) = TabletRecord.ParseAlias(t.Alias);
        return new JsonObject { ["cell"] = cell, ["uid"] = uid };
    }

    /// <summary>A protobuf Timestamp as vtctldclient prints it: seconds as a string, nanoseconds as a number.</summary>
    private static JsonObject Timestamp(long seconds, int nanoseconds = 0) =>
        new() { ["seconds"] = Text(seconds), ["nanoseconds"] = nanoseconds };

    private static JsonObject Timestamp(decimal unixSeconds)
    {
        var seconds = decimal.Floor(unixSeconds);
        return Timestamp((long)seconds, (int)((unixSeconds - seconds) * 1_000_000_000m));
    }

    /// <summary>A stream's source keyspace as it reads in the stream row: <c>[mount:]keyspace[;cells=...]</c>.</summary>
    private static KeyspaceReference Source(string sourceKeyspace) => KeyspaceReference.Parse(sourceKeyspace);

    /// <summary><c>Workflow show</c> of one workflow (forward or reverse) in a keyspace; null when it does not exist.</summary>
    /// <param name="includeLogs">false: without each stream's <c>logs</c> (vtctldclient's <c>--include-logs=false</c>).</param>
    public async Task<JsonObject?> ShowAsync(string keyspace, string workflow, WorkflowState? state, CancellationToken ct, bool includeLogs = true)
    {
        var record = await env.Registry.GetAsync(keyspace, workflow, ct).ConfigureAwait(false);
        if (record is null && state is null)
        {
            return null;
        }

        var shards = await ShardsAsync(keyspace, workflow, detail: true, includeLogs, ct).ConfigureAwait(false);
        var streams = shards.SelectMany(s => s.Streams).ToList();
        var now = DateTimeOffset.UtcNow;
        var source = streams.Count > 0 ? Source(streams[0].Stream.SourceKeyspace) : Source(record?.SourceKeyspace ?? state!.Spec.SourceKeyspace);
        var mount = source.Mount ?? (state?.Spec.IsMigrate == true ? state.Spec.MountName : null);
        var sourceObject = new JsonObject
        {
            ["keyspace"] = source.Keyspace,
            ["shards"] = new JsonArray([.. streams.Select(s => s.Stream.SourceShard).Distinct().Order(StringComparer.Ordinal).Select(x => (JsonNode)x)]),
        };
        if (mount is not null)
        {
            // Migrate (or an unmanaged source): the cluster the source keyspace is in, apart from the keyspace's name.
            sourceObject["external_cluster"] = mount;
        }

        var migrate = state?.Spec.IsMigrate == true || record?.InstanceId.StartsWith("migrate:", StringComparison.Ordinal) == true;
        var wf = new JsonObject
        {
            ["name"] = workflow,
            ["source"] = sourceObject,
            ["target"] = new JsonObject { ["keyspace"] = keyspace, ["shards"] = new JsonArray([.. streams.Select(s => s.Stream.TargetShard).Distinct().Order(StringComparer.Ordinal).Select(x => (JsonNode)x)]) },
            ["max_v_replication_lag"] = Text(StreamLag.Max(streams.Select(s => s.Stream), now, StreamLag.SinceUpdate)),
            ["shard_streams"] = ShowShardStreams(shards, includeLogs, now),
            ["workflow_type"] = migrate ? "Migrate" : "MoveTables",
            ["workflow_sub_type"] = "None",
            ["max_v_replication_transaction_lag"] = Text(StreamLag.Max(streams.Select(s => s.Stream), now, StreamLag.TransactionLag)),
            ["defer_secondary_keys"] = state?.Spec.DeferSecondaryKeys ?? false,
        };
        if (state is not null && record?.Reverse != true)
        {
            AddWorkflowState(wf, state, streams.Select(s => s.Stream));
            wf["vdiff_gate"] = await VDiffGateAsync(state, ct).ConfigureAwait(false);
            wf["mirror_rules"] = await MirrorRulesAsync(state, ct).ConfigureAwait(false);
        }

        return new JsonObject { ["workflows"] = new JsonArray(wf) };
    }

    /// <summary>Durable's fields of a forward workflow's show: traffic, the honest phase, the pending approval, the audit trail.</summary>
    private static void AddWorkflowState(JsonObject wf, WorkflowState state, IEnumerable<StreamRecord> streams)
    {
        var (phase, lastError) = WorkflowPhase.Of(state, streams);
        wf["traffic_state"] = state.TrafficStateText;
        wf["phase"] = phase;
        wf["last_error"] = lastError;
        wf["pending_approval"] = state.Pending?.Action;
        // What a chat-ops bot signs: the pending action and this generation (docs/approvals.md).
        wf["traffic_generation"] = state.TrafficGeneration;
        wf["audit"] = System.Text.Json.JsonSerializer.SerializeToNode(state.Audit);
    }

    /// <summary>Per target shard and primary ("0/zone1-0000000200"): the streams, the shard's tablet controls, whether its primary serves.</summary>
    private static JsonObject ShowShardStreams(IEnumerable<ShardView> shards, bool includeLogs, DateTimeOffset now)
    {
        var result = new JsonObject();
        foreach (var shard in shards.Where(s => s.Streams.Count > 0))
        {
            result[$"{shard.Shard.Name}/{shard.Primary.Alias}"] = new JsonObject
            {
                ["streams"] = new JsonArray([.. shard.Streams.Select(s => (JsonNode)ShowStream(s, includeLogs, now))]),
                ["tablet_controls"] = TabletControls(shard),
                ["is_primary_serving"] = shard.Shard.IsPrimaryServing,
            };
        }

        return result;
    }

    private static JsonObject ShowStream(StreamView view, bool includeLogs, DateTimeOffset now)
    {
        var s = view.Stream;
        var stream = new JsonObject
        {
            ["id"] = Text(s.Id),
            ["shard"] = s.TargetShard,
            ["tablet"] = Tablet(view.Tablet),
            ["binlog_source"] = BinlogSource(s),
            ["position"] = s.Position?.ToString() ?? "",
            ["stop_position"] = s.StopPosition?.ToString() ?? "",
            ["state"] = s.State.ToString(),
            ["db_name"] = s.TargetDb,
            ["transaction_timestamp"] = Timestamp(s.TransactionTimestamp),
            ["time_updated"] = Timestamp(s.TimeUpdated),
            ["message"] = s.Message,
            ["copy_states"] = CopyStates(view),
        };
        if (includeLogs)
        {
            stream["logs"] = Logs(view);
        }

        stream["log_fetch_error"] = "";
        stream["tags"] = new JsonArray();
        stream["rows_copied"] = Text(s.RowsCopied);
        stream["throttler_status"] = ThrottlerStatus(view);
        // Durable's: this stream's transaction lag in seconds, null while unknown or not running.
        stream["lag_seconds"] = s.State == StreamState.Running ? StreamLag.TransactionLag(s, now) : null;
        return stream;
    }

    private static JsonObject BinlogSource(StreamRecord s)
    {
        var source = Source(s.SourceKeyspace);
        return new JsonObject
        {
            ["keyspace"] = source.Keyspace,
            ["shard"] = s.SourceShard,
            ["tablet_type"] = s.TabletTypes,
            ["key_range"] = s.Filter.Rules.FirstOrDefault()?.KeyRangeFilter?.KeyRange,
            ["tables"] = new JsonArray(),
            ["filter"] = new JsonObject
            {
                ["rules"] = new JsonArray([.. s.Filter.Rules.Select(r => (JsonNode)new JsonObject
                {
                    ["match"] = r.Table,
                    ["filter"] = r.KeyRangeFilter is { } k
                        ? $"select * from `{r.Table}` where in_keyrange({string.Join(",", k.Columns.Select(c => $"`{c}`"))}, '{k.VindexType}', '{k.KeyRange}')"
                        : $"select * from `{r.Table}`",
                })]),
            },
            ["on_ddl"] = StreamStates.Name(s.OnDdl),
            ["external_mysql"] = "",
            ["stop_after_copy"] = s.Options.StopAfterCopy,
            ["external_cluster"] = source.Mount ?? "",
            ["source_time_zone"] = s.Options.SourceTimeZone ?? "",
            ["target_time_zone"] = "",
        };
    }

    /// <summary>
    /// The tables the stream still copies, as vtctldclient lists them (a copied table's row is gone there; here it is
    /// marked done and left out): the last primary key copied (each column's value as text; null before the first
    /// chunk) and, Durable's, the rows copied so far.
    /// </summary>
    private static JsonArray CopyStates(StreamView view) =>
        new([.. view.Copy.Where(c => !c.Done).Select(c => (JsonNode)new JsonObject
        {
            ["table"] = c.Table,
            ["last_pk"] = c.LastPk is null ? null : new JsonArray([.. c.LastPk.Select(v => (JsonNode?)(v.IsNull ? null : v.ToString()))]),
            ["stream_id"] = Text(view.Stream.Id),
            ["rows_copied"] = Text(c.RowsCopied),
        })]);

    /// <summary>The stream's log from the sidecar (the last <see cref="LogLimit"/> entries), each as vtctldclient prints one.</summary>
    private static JsonArray Logs(StreamView view) =>
        new([.. (view.Logs ?? []).Select(l => (JsonNode)new JsonObject
        {
            ["id"] = Text(l.Id),
            ["stream_id"] = Text(l.StreamId),
            ["type"] = l.Type,
            ["state"] = l.State,
            ["created_at"] = Timestamp(l.CreatedAt),
            ["updated_at"] = Timestamp(l.CreatedAt),
            ["message"] = l.Message,
            ["count"] = "1",
        })]);

    /// <summary>
    /// When the stream was last held back: the sidecar's time_throttled (0: never). Durable's throttler holds the whole
    /// stream's apply back, so component_throttled says "vplayer" once it has (the replication applier's name in Vitess).
    /// </summary>
    private static JsonObject ThrottlerStatus(StreamView view) => new()
    {
        ["component_throttled"] = view.TimeThrottled > 0 ? "vplayer" : "",
        ["time_throttled"] = Timestamp(view.TimeThrottled),
    };

    /// <summary>
    /// The shard's tablet controls: those of its topology record, with the tables Durable's write guards (triggers on the
    /// primary, any workflow's) refuse writes to as PRIMARY denied tables, which is what Vitess's denied tables do.
    /// </summary>
    private static JsonArray TabletControls(ShardView shard)
    {
        var controls = shard.Shard.TabletControls.ToList();
        if (shard.GuardedTables.Count > 0)
        {
            var index = controls.FindIndex(c => c.TabletType == "PRIMARY");
            var denied = (index >= 0 ? controls[index].DeniedTables : []).Concat(shard.GuardedTables).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var control = index >= 0 ? controls[index] with { DeniedTables = denied } : new TabletControl("PRIMARY", [], denied);
            if (index >= 0)
            {
                controls[index] = control;
            }
            else
            {
                controls.Add(control);
            }
        }

        return new JsonArray([.. controls.Select(c => (JsonNode)new JsonObject
        {
            ["tablet_type"] = c.TabletType,
            ["cells"] = new JsonArray([.. c.Cells.Select(x => (JsonNode)x)]),
            ["denied_tables"] = new JsonArray([.. c.DeniedTables.Select(x => (JsonNode)x)]),
            ["frozen"] = c.Frozen,
        })]);
    }

    /// <summary><c>MoveTables status</c>: copy state per table while copying, streams per shard with lag, traffic state.</summary>
    public async Task<JsonObject> StatusAsync(WorkflowState state, CancellationToken ct)
    {
        var spec = state.Spec;
        var streams = (await ShardsAsync(spec.TargetKeyspace, spec.Workflow, detail: false, includeLogs: false, ct).ConfigureAwait(false)).SelectMany(s => s.Streams).ToList();
        var (copy, eta) = TableCopyState(state, streams);
        var now = DateTimeOffset.UtcNow;
        var (phase, lastError) = WorkflowPhase.Of(state, streams.Select(s => s.Stream));
        var gate = await VDiffGateAsync(state, ct).ConfigureAwait(false);
        return new JsonObject
        {
            ["table_copy_state"] = copy,
            ["shard_streams"] = StatusShardStreams(spec.TargetKeyspace, streams, now),
            ["traffic_state"] = state.TrafficStateText,
            ["phase"] = phase,
            ["eta_seconds"] = eta,
            // Live from the sidecars (the published state's is as old as the last refresh); null: unknown.
            ["lag_seconds"] = StreamLag.Max(streams.Select(s => s.Stream), now, StreamLag.TransactionLag),
            ["last_error"] = lastError,
            ["traffic_generation"] = state.TrafficGeneration,
            ["pending_approval"] = state.Pending is { } p
                ? new JsonObject { ["action"] = p.Action, ["generation"] = p.Generation, ["since"] = p.Since, ["request_id"] = p.Command.RequestId }
                : null,
            ["vdiff_gate"] = gate,
            ["mirror_rules"] = await MirrorRulesAsync(state, ct).ConfigureAwait(false),
        };
    }

    /// <summary>The workflow's mirror rules in force (MirrorTraffic), as GetMirrorRules prints them.</summary>
    private async Task<JsonArray> MirrorRulesAsync(WorkflowState state, CancellationToken ct) =>
        new([.. (await new WorkflowMirrorRules(env.Store).ListAsync(state.Spec, state.Tables, ct).ConfigureAwait(false))
            .Select(r => (JsonNode)new JsonObject { ["from_table"] = r.FromTable, ["to_table"] = r.ToTable, ["percent"] = r.Percent })]);

    /// <summary>Rows copied per table while the copy runs (empty once it is done, as vtctldclient prints it), and the ETA.</summary>
    private static (JsonObject Copy, double? Eta) TableCopyState(WorkflowState state, IReadOnlyList<StreamView> streams)
    {
        var copy = new JsonObject();
        var eta = state.EtaSeconds;
        if (!state.CopyDone)
        {
            // The published progress is as old as the last chunk round; the sidecars have every commit since.
            var live = LiveCopyProgress.Merge(state.Copy, streams.SelectMany(s => s.Copy));
            foreach (var t in live)
            {
                copy[t.Table] = new JsonObject { ["rows_copied"] = t.RowsCopied, ["rows_total"] = t.RowsTotal, ["rows_percentage"] = t.Percent };
            }

            eta = LiveCopyProgress.EtaSeconds(live, state.CopyStartedAt, DateTime.UtcNow) ?? eta;
        }

        return (copy, eta);
    }

    private static JsonObject StatusShardStreams(string targetKeyspace, IEnumerable<StreamView> streams, DateTimeOffset now)
    {
        var result = new JsonObject();
        foreach (var group in streams.GroupBy(s => s.Stream.TargetShard))
        {
            result[$"{targetKeyspace}/{group.Key}"] = new JsonObject
            {
                ["streams"] = new JsonArray([.. group.Select(s => (JsonNode)new JsonObject
                {
                    ["id"] = s.Stream.Id,
                    ["tablet"] = Tablet(s.Tablet),
                    ["source_shard"] = $"{Source(s.Stream.SourceKeyspace).Keyspace}/{s.Stream.SourceShard}",
                    ["position"] = s.Stream.Position?.ToString() ?? "",
                    ["status"] = s.Stream.State.ToString(),
                    ["info"] = Info(s.Stream, now),
                })]),
            };
        }

        return result;
    }

    /// <summary>vtctldclient's "VStream Lag: Ns" for a running stream ("unknown" until it applied something or had a heartbeat); else the stream's message.</summary>
    private static string Info(StreamRecord s, DateTimeOffset now) => s.State != StreamState.Running
        ? s.Message
        : StreamLag.TransactionLag(s, now) is { } lag ? $"VStream Lag: {lag}s" : "VStream Lag: unknown (nothing applied and no heartbeat yet)";

    // ---- VDiff gate (issue 19, point 4): the one block of these views that shows it; the rest of the views may change around it.

    /// <summary>
    /// <c>vdiff_gate</c> of show and status: {state: held|clear|not_applicable, rule, uuid, workflow, keyspace, counts per
    /// table, reason, release}, from <see cref="VDiffGateRule"/> (null once the workflow has finished).
    /// </summary>
    private async Task<JsonNode?> VDiffGateAsync(WorkflowState state, CancellationToken ct) =>
        state.IsFinished ? null
            : System.Text.Json.JsonSerializer.SerializeToNode(await new VDiffGateReader(new VDiff.VDiffService(env.Engine)).VerdictAsync(state, ct).ConfigureAwait(false));
}
