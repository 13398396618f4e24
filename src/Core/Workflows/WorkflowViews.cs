using System.Text.Json.Nodes;
using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>The JSON of show and status, shaped like the seeds' <c>Workflow show</c> and <c>MoveTables status</c>.</summary>
public sealed class WorkflowViews(MoveTablesEnvironment env)
{
    /// <summary>One stream of the workflow with its primary and its copy_state rows, read when the view is asked for.</summary>
    private sealed record StreamView(StreamRecord Stream, TabletEndpoint Tablet, IReadOnlyList<CopyState> Copy);

    private async Task<List<StreamView>> StreamsAsync(string keyspace, string workflow, CancellationToken ct)
    {
        var result = new List<StreamView>();
        foreach (var shard in (await env.Store.GetShardsAsync(keyspace, ct).ConfigureAwait(false)).Select(s => s.Value.Name).Order(StringComparer.Ordinal))
        {
            var primary = await env.Resolver.PrimaryAsync(keyspace, shard, ct).ConfigureAwait(false);
            // Streams and their copy state on one connection: the copy's progress moves with each commit of a chunk.
            result.AddRange(await env.Engine.OnTargetAsync(keyspace, shard, async c =>
            {
                var views = new List<StreamView>();
                foreach (var s in await env.Engine.Store.ListAsync(c, workflow, ct: ct).ConfigureAwait(false))
                {
                    views.Add(new StreamView(s, primary, await env.Engine.Store.GetCopyStateAsync(c, s.Id, ct).ConfigureAwait(false)));
                }

                return views;
            }, ct).ConfigureAwait(false));
        }

        return result;
    }

    private static JsonObject Tablet(TabletEndpoint t)
    {
        var (cell, uid) = TabletRecord.ParseAlias(t.Alias);
        return new JsonObject { ["cell"] = cell, ["uid"] = uid };
    }

    /// <summary><c>Workflow show</c> of one workflow (forward or reverse) in a keyspace; null when it does not exist.</summary>
    public async Task<JsonObject?> ShowAsync(string keyspace, string workflow, WorkflowState? state, CancellationToken ct)
    {
        var record = await env.Registry.GetAsync(keyspace, workflow, ct).ConfigureAwait(false);
        if (record is null && state is null)
        {
            return null;
        }

        var sourceKs = record?.SourceKeyspace ?? state!.Spec.SourceKeyspace;
        var streams = await StreamsAsync(keyspace, workflow, ct).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        var shardStreams = new JsonObject();
        foreach (var group in streams.GroupBy(s => (s.Stream.TargetShard, s.Tablet.Alias)))
        {
            var list = new JsonArray();
            foreach (var (s, t, copy) in group)
            {
                list.Add(new JsonObject
                {
                    ["id"] = s.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["shard"] = s.TargetShard,
                    ["tablet"] = Tablet(t),
                    ["binlog_source"] = new JsonObject
                    {
                        ["keyspace"] = s.SourceKeyspace,
                        ["shard"] = s.SourceShard,
                        ["tablet_type"] = s.TabletTypes,
                        ["key_range"] = s.Filter.Rules.FirstOrDefault()?.KeyRangeFilter?.KeyRange,
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
                        ["stop_after_copy"] = s.Options.StopAfterCopy,
                        ["source_time_zone"] = s.Options.SourceTimeZone ?? "",
                    },
                    ["position"] = s.Position?.ToString() ?? "",
                    ["stop_position"] = s.StopPosition?.ToString() ?? "",
                    ["state"] = s.State.ToString(),
                    ["db_name"] = s.TargetDb,
                    ["transaction_timestamp"] = new JsonObject { ["seconds"] = s.TransactionTimestamp.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    ["time_updated"] = new JsonObject { ["seconds"] = s.TimeUpdated.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    ["message"] = s.Message,
                    ["rows_copied"] = s.RowsCopied.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["lag_seconds"] = s.State == StreamState.Running ? s.LagSeconds(now) : null,
                    // As the seeds' show lists the tables a stream still copies; with the rows each has so far.
                    ["copy_states"] = new JsonArray([.. copy.Where(c => !c.Done).Select(c => (JsonNode)new JsonObject
                    {
                        ["table"] = c.Table,
                        ["rows_copied"] = c.RowsCopied.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    })]),
                });
            }

            shardStreams[$"{group.Key.TargetShard}/{group.Key.Alias}"] = new JsonObject { ["streams"] = list };
        }

        var lag = streams.Where(s => s.Stream.State == StreamState.Running).Select(s => s.Stream.LagSeconds(now)).DefaultIfEmpty(0).Max();
        var wf = new JsonObject
        {
            ["name"] = workflow,
            ["source"] = new JsonObject { ["keyspace"] = sourceKs, ["shards"] = new JsonArray([.. streams.Select(s => s.Stream.SourceShard).Distinct().Order().Select(x => (JsonNode)x)]) },
            ["target"] = new JsonObject { ["keyspace"] = keyspace, ["shards"] = new JsonArray([.. streams.Select(s => s.Stream.TargetShard).Distinct().Order().Select(x => (JsonNode)x)]) },
            ["max_v_replication_lag"] = lag.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["shard_streams"] = shardStreams,
            ["workflow_type"] = "MoveTables",
            ["workflow_sub_type"] = "None",
            ["defer_secondary_keys"] = state?.Spec.DeferSecondaryKeys ?? false,
        };
        if (state is not null && record?.Reverse != true)
        {
            wf["traffic_state"] = state.TrafficStateText;
            wf["phase"] = state.Phase;
            wf["last_error"] = state.LastError;
            wf["pending_approval"] = state.Pending?.Action;
            // What a chat-ops bot signs: the pending action and this generation (docs/approvals.md).
            wf["traffic_generation"] = state.TrafficGeneration;
            wf["audit"] = System.Text.Json.JsonSerializer.SerializeToNode(state.Audit);
            wf["vdiff_gate"] = await VDiffGateAsync(state, ct).ConfigureAwait(false);
        }

        return new JsonObject { ["workflows"] = new JsonArray(wf) };
    }

    /// <summary><c>MoveTables status</c>: copy state per table while copying, streams per shard with lag, traffic state.</summary>
    public async Task<JsonObject> StatusAsync(WorkflowState state, CancellationToken ct)
    {
        var spec = state.Spec;
        var streams = await StreamsAsync(spec.TargetKeyspace, spec.Workflow, ct).ConfigureAwait(false);
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

        var now = DateTimeOffset.UtcNow;
        var shardStreams = new JsonObject();
        foreach (var group in streams.GroupBy(s => s.Stream.TargetShard))
        {
            shardStreams[$"{spec.TargetKeyspace}/{group.Key}"] = new JsonObject
            {
                ["streams"] = new JsonArray([.. group.Select(s => (JsonNode)new JsonObject
                {
                    ["id"] = s.Stream.Id,
                    ["tablet"] = Tablet(s.Tablet),
                    ["source_shard"] = $"{s.Stream.SourceKeyspace}/{s.Stream.SourceShard}",
                    ["position"] = s.Stream.Position?.ToString() ?? "",
                    ["status"] = s.Stream.State.ToString(),
                    ["info"] = s.Stream.State == StreamState.Running ? $"VStream Lag: {s.Stream.LagSeconds(now)}s" : s.Stream.Message,
                })]),
            };
        }

        var status = new JsonObject
        {
            ["table_copy_state"] = copy,
            ["shard_streams"] = shardStreams,
            ["traffic_state"] = state.TrafficStateText,
            ["phase"] = state.Phase,
            ["eta_seconds"] = eta,
            ["lag_seconds"] = state.LagSeconds,
            ["last_error"] = state.LastError,
            ["traffic_generation"] = state.TrafficGeneration,
            ["pending_approval"] = state.Pending is { } p
                ? new JsonObject { ["action"] = p.Action, ["generation"] = p.Generation, ["since"] = p.Since, ["request_id"] = p.Command.RequestId }
                : null,
        };
        status["vdiff_gate"] = await VDiffGateAsync(state, ct).ConfigureAwait(false);
        return status;
    }

    // ---- VDiff gate (issue 19, point 4): the one block of these views that shows it; the rest of the views may change around it.

    /// <summary>
    /// <c>vdiff_gate</c> of show and status: {state: held|clear|not_applicable, rule, uuid, workflow, keyspace, counts per
    /// table, reason, release}, from <see cref="VDiffGateRule"/> (null once the workflow has finished).
    /// </summary>
    private async Task<JsonNode?> VDiffGateAsync(WorkflowState state, CancellationToken ct) =>
        state.IsFinished ? null
            : System.Text.Json.JsonSerializer.SerializeToNode(await new VDiffGateReader(new VDiff.VDiffService(env.Engine)).VerdictAsync(state, ct).ConfigureAwait(false));
}
