using System.Globalization;
using System.Text.Json.Nodes;
using Durable.MySql;
using Durable.Replication;

namespace Durable.Workflows.Tests;

/// <summary>
/// <c>show</c> and <c>status</c> as vtctldclient prints them (issue 19, point 5), read from the servers: a stream
/// created in the bed's own sidecar on the customer primary, a write guard on its target table, and the stream row moved
/// through the states an operator meets (nothing applied yet, applied, in error). No orchestration runs: the views read
/// the sidecar, the shard record and the triggers themselves, so these are the rows they must report.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WorkflowViewsIntegrationTests
{
    private static async Task<(ClusterBed Bed, string Table, long StreamId)> StreamAsync(string name, string sourceKeyspace = "commerce")
    {
        var bed = new ClusterBed(name);
        await bed.InitAsync();
        var table = "vw_" + bed.Suffix;
        bed.DropLater(200, "vt_customer", table);
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"CREATE TABLE `{table}` (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)");
        var spec = new StreamSpec
        {
            Workflow = "vw_" + bed.Suffix,
            SourceKeyspace = sourceKeyspace,
            SourceShard = "0",
            TargetKeyspace = "customer",
            TargetShard = "0",
            TargetDb = "vt_customer",
            Filter = new StreamFilter([new TableRule(table)]),
        };
        var id = await bed.Env.Engine.OnTargetAsync("customer", "0", c => bed.Env.Engine.Store.CreateAsync(c, spec), default);
        return (bed, table, id);
    }

    private static WorkflowState State(ClusterBed bed, string table, long id, string phase, string kind = WorkflowKinds.MoveTables) => new()
    {
        Spec = new MoveTablesCreate
        {
            Workflow = "vw_" + bed.Suffix,
            TargetKeyspace = "customer",
            SourceKeyspace = "commerce",
            Tables = [table],
            Kind = kind,
            MountName = kind == WorkflowKinds.Migrate ? "ext1" : null,
        },
        Tables = [table],
        Phase = phase,
        Streams = [new StreamRef("customer", "0", id, "0")],
    };

    /// <summary>Sets columns of the stream row directly, as the Streamer would have left them.</summary>
    private static Task SetStreamAsync(ClusterBed bed, long id, string set) =>
        ClusterBed.ExecAsync("dba", 200, bed.Env.Options.SidecarName, $"UPDATE vreplication SET {set} WHERE id = {id}");

    private static JsonObject Stream(JsonObject show) =>
        show["workflows"]![0]!["shard_streams"]!.AsObject().Single().Value!["streams"]![0]!.AsObject();

    [Fact]
    public async Task Show_has_logs_copy_states_tablet_controls_serving_throttler_status_and_timestamps_with_nanoseconds()
    {
        var (bed, table, id) = await StreamAsync("vshow");
        await using var _ = bed;
        var workflow = "vw_" + bed.Suffix;
        // The workflow's write guard on its target table: what Vitess keeps as the shard's denied tables.
        await using (var c = await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 200, "vt_customer")))
        {
            await bed.Env.Operations.Guards.InstallAsync(c, "vt_customer", "customer", workflow, "commerce", GuardSide.Target, [table], TimeSpan.FromSeconds(5), default);
        }

        await SetStreamAsync(bed, id, "time_throttled = 1700000123");
        var views = new WorkflowViews(bed.Env);
        var show = (await views.ShowAsync("customer", workflow, State(bed, table, id, Phases.Copying), default))!;
        var wf = show["workflows"]![0]!.AsObject();
        var shard = wf["shard_streams"]!.AsObject().Single();
        Assert.StartsWith("0/", shard.Key);
        Assert.True(shard.Value!["is_primary_serving"]!.GetValue<bool>());
        var control = Assert.Single(shard.Value["tablet_controls"]!.AsArray())!;
        Assert.Equal("PRIMARY", control["tablet_type"]!.GetValue<string>());
        Assert.Empty(control["cells"]!.AsArray());
        // Denied tables are the shard's, any workflow's (as in Vitess): other tests guard tables on this shared shard too,
        // so this workflow's table must be among them, in order, once.
        var denied = control["denied_tables"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        Assert.Single(denied, t => t == table);
        Assert.Equal(denied.Order(StringComparer.Ordinal), denied);
        Assert.False(control["frozen"]!.GetValue<bool>());
        Assert.True(wf.ContainsKey("max_v_replication_transaction_lag"));

        var stream = Stream(show);
        foreach (var ts in new[] { "transaction_timestamp", "time_updated" })
        {
            Assert.Equal(0, stream[ts]!["nanoseconds"]!.GetValue<int>());
            Assert.NotNull(stream[ts]!["seconds"]!.GetValue<string>());
        }

        var copy = Assert.Single(stream["copy_states"]!.AsArray())!;
        Assert.Equal(table, copy["table"]!.GetValue<string>());
        Assert.Equal(id.ToString(CultureInfo.InvariantCulture), copy["stream_id"]!.GetValue<string>());
        Assert.True(copy.AsObject().ContainsKey("last_pk"));
        var log = Assert.Single(stream["logs"]!.AsArray())!;
        Assert.Equal(id.ToString(CultureInfo.InvariantCulture), log["stream_id"]!.GetValue<string>());
        Assert.Equal("Created", log["type"]!.GetValue<string>());
        Assert.Equal("Init", log["state"]!.GetValue<string>());
        Assert.Contains("customer/0", log["message"]!.GetValue<string>());
        Assert.True(long.Parse(log["created_at"]!["seconds"]!.GetValue<string>(), CultureInfo.InvariantCulture) > 1_700_000_000);
        Assert.InRange(log["created_at"]!["nanoseconds"]!.GetValue<int>(), 0, 999_999_999);
        Assert.Equal("1", log["count"]!.GetValue<string>());
        Assert.Equal("", stream["log_fetch_error"]!.GetValue<string>());
        Assert.Equal("1700000123", stream["throttler_status"]!["time_throttled"]!["seconds"]!.GetValue<string>());
        Assert.Equal("", stream["binlog_source"]!["external_cluster"]!.GetValue<string>());

        // --include-logs=false (as the seeds run it): the same show without the logs.
        var quiet = (await views.ShowAsync("customer", workflow, State(bed, table, id, Phases.Copying), default, includeLogs: false))!;
        Assert.False(Stream(quiet).ContainsKey("logs"));
        Assert.True(Stream(quiet).ContainsKey("copy_states"));
    }

    [Fact]
    public async Task Lag_is_null_until_the_stream_applied_something_and_a_stream_in_error_makes_the_phase_error()
    {
        var (bed, table, id) = await StreamAsync("vlag");
        await using var _ = bed;
        var workflow = "vw_" + bed.Suffix;
        var views = new WorkflowViews(bed.Env);
        var running = State(bed, table, id, Phases.Running);

        // Running, but nothing applied and no heartbeat yet: the lag is unknown, not the age of the epoch.
        await SetStreamAsync(bed, id, "state = 'Running', transaction_timestamp = 0, time_heartbeat = 0");
        var status = await views.StatusAsync(running, default);
        Assert.Null(status["lag_seconds"]);
        var info = status["shard_streams"]!["customer/0"]!["streams"]![0]!["info"]!.GetValue<string>();
        Assert.DoesNotContain(DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)[..6], info);
        Assert.Contains("unknown", info);
        var show = (await views.ShowAsync("customer", workflow, running, default))!;
        Assert.Null(show["workflows"]![0]!["max_v_replication_transaction_lag"]);
        Assert.Null(Stream(show)["lag_seconds"]);

        // A transaction applied 5 s after its commit on the source: a lag of about 5 s.
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await SetStreamAsync(bed, id, $"transaction_timestamp = {now - 5}, time_updated = {now}");
        status = await views.StatusAsync(running, default);
        Assert.InRange(status["lag_seconds"]!.GetValue<long>(), 5, 15);
        Assert.Equal("Running", status["phase"]!.GetValue<string>());
        show = (await views.ShowAsync("customer", workflow, running, default))!;
        Assert.InRange(long.Parse(show["workflows"]![0]!["max_v_replication_transaction_lag"]!.GetValue<string>(), CultureInfo.InvariantCulture), 5, 15);

        // The stream fails while the published phase still says Running: status and show say Error and name the stream.
        await SetStreamAsync(bed, id, "state = 'Error', message = 'Duplicate entry 7 for key PRIMARY'");
        status = await views.StatusAsync(running, default);
        Assert.Equal("Error", status["phase"]!.GetValue<string>());
        Assert.Contains($"stream {id}", status["last_error"]!.GetValue<string>());
        Assert.Contains("Duplicate entry 7", status["last_error"]!.GetValue<string>());
        Assert.Null(status["lag_seconds"]);
        show = (await views.ShowAsync("customer", workflow, running, default))!;
        Assert.Equal("Error", show["workflows"]![0]!["phase"]!.GetValue<string>());
    }

    [Fact]
    public async Task Migrate_show_names_the_external_cluster_apart_from_the_keyspace()
    {
        var (bed, table, id) = await StreamAsync("vmig", sourceKeyspace: "ext1:commerce");
        await using var _ = bed;
        var state = State(bed, table, id, Phases.Copying, WorkflowKinds.Migrate);
        var show = (await new WorkflowViews(bed.Env).ShowAsync("customer", "vw_" + bed.Suffix, state, default))!;
        var wf = show["workflows"]![0]!;
        // The stream's log quotes what it was created with; every field of its own names the keyspace alone.
        var withoutLogs = (await new WorkflowViews(bed.Env).ShowAsync("customer", "vw_" + bed.Suffix, state, default, includeLogs: false))!;
        Assert.DoesNotContain("ext1:commerce", withoutLogs.ToJsonString());
        Assert.Equal("ext1", wf["source"]!["external_cluster"]!.GetValue<string>());
        Assert.Equal("commerce", wf["source"]!["keyspace"]!.GetValue<string>());
        Assert.Equal("Migrate", wf["workflow_type"]!.GetValue<string>());
        var source = Stream(show.AsObject())["binlog_source"]!;
        Assert.Equal("commerce", source["keyspace"]!.GetValue<string>());
        Assert.Equal("ext1", source["external_cluster"]!.GetValue<string>());
        var status = await new WorkflowViews(bed.Env).StatusAsync(state, default);
        Assert.Equal("commerce/0", status["shard_streams"]!["customer/0"]!["streams"]![0]!["source_shard"]!.GetValue<string>());
    }
}
