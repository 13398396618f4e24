using System.Text.Json;
using Durable.Functions.Orchestrations;
using Microsoft.DurableTask;

namespace Durable.Workflows.Tests;

/// <summary>
/// Issue 18, point 6: a target table the workflow did not create is never dropped or renamed by it. Pre-flight refuses an
/// existing target table that differs from the one the workflow would create; an equal, empty one is adopted and Cancel
/// leaves it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TableOwnershipIntegrationTests
{
    private static Task<string?> TableExistsAsync(int uid, string db, string table) =>
        ClusterBed.ScalarAsync("dba", uid, db, $"SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' AND TABLE_NAME = '{table}'");

    private static Task<string?> ColumnTypeAsync(int uid, string db, string table, string column) =>
        ClusterBed.ScalarAsync("dba", uid, db, $"SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}' AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'");

    /// <summary>The workflow's table ownership record as etcd holds it ({root}/global/workflows/customer/{workflow}/TableOwnership).</summary>
    private static async Task<string?> OwnershipJsonAsync(ClusterBed bed, string workflow)
    {
        var record = bed.Env.Registry.RecordKey("customer", workflow);
        return (await bed.Env.Registry.Store.Etcd.GetAsync(record[..^"Workflow".Length] + "TableOwnership", default))?.ValueString;
    }

    private static async Task<string> StartAsync(ClusterBed bed, MoveTablesCreate spec) =>
        await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));

    [Fact]
    public async Task An_existing_empty_target_table_with_another_schema_is_refused_at_preflight_naming_both_definitions_and_nothing_is_created()
    {
        await using var bed = new ClusterBed("own_diff");
        await bed.InitAsync();
        var table = "od_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{table}` (id INT NOT NULL, v VARCHAR(64) NOT NULL, PRIMARY KEY (id), KEY kv (v))",
            $"INSERT INTO `{table}` VALUES (1, 'a value longer than ten characters')");
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"CREATE TABLE `{table}` (id INT NOT NULL, v VARCHAR(10) NOT NULL, PRIMARY KEY (id), UNIQUE KEY kv (v(5)))");
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(200, "vt_customer", table);

        var rulesBefore = (await bed.Env.Store.GetRoutingRulesAsync()).ModRevision;
        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var spec = new MoveTablesCreate { Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [table], RequestedBy = "test" };

        var state = await bed.WaitStateAsync(await StartAsync(bed, spec), s => s.IsFinished || s.Phase is Phases.Copying or Phases.Running or Phases.Stopped, "refused or past create");

        Assert.True(state.Phase == Phases.Failed, $"Expected pre-flight to refuse the workflow; phase {state.Phase}, error {state.LastError}");
        Assert.StartsWith("Pre-flight refused the workflow, nothing was changed:", state.LastError);
        Assert.Contains($"Target table vt_customer.{table} on zone1-0000000200 already exists and differs from the table the workflow would create from source table vt_commerce.{table}", state.LastError);
        Assert.Contains("column `v`: target has varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, " +
                        "the workflow would create varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL", state.LastError);
        Assert.Contains("key `kv`: target has UNIQUE KEY `kv` (`v`(5)), the workflow would create KEY `kv` (`v`)", state.LastError);

        // Nothing was created or changed: no stream, no workflow record, no routing rules; the user's table as it was.
        Assert.Empty(await bed.Env.Engine.ListStreamsAsync("customer", "0"));
        Assert.Empty(await bed.Env.Registry.ListAsync());
        Assert.Equal(rulesBefore, (await bed.Env.Store.GetRoutingRulesAsync()).ModRevision);
        Assert.Equal("varchar(10)", await ColumnTypeAsync(200, "vt_customer", table, "v"));
    }

    [Fact]
    public async Task An_equal_target_table_that_holds_rows_stays_refused_and_is_not_called_different()
    {
        await using var bed = new ClusterBed("own_full");
        await bed.InitAsync();
        var full = "of_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{full}` (id INT NOT NULL, PRIMARY KEY (id))");
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"CREATE TABLE `{full}` (id INT NOT NULL, PRIMARY KEY (id))", $"INSERT INTO `{full}` VALUES (42)");
        bed.DropLater(100, "vt_commerce", full);
        bed.DropLater(200, "vt_customer", full);
        var spec = new MoveTablesCreate { Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [full], RequestedBy = "test" };

        var problem = Assert.Single((await bed.Env.Operations.PreflightAsync(spec, default)).Problems);

        Assert.Equal($"Target table vt_customer.{full} on zone1-0000000200 already holds rows; a copy needs an empty (or absent) target table.", problem);
        Assert.Equal("1", await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT COUNT(*) FROM `{full}`"));
    }

    [Fact]
    public async Task Create_checks_again_and_a_table_that_appeared_after_preflight_is_refused_and_left_by_cancel()
    {
        await using var bed = new ClusterBed("own_race");
        await bed.InitAsync();
        var table = "or_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{table}` (id INT NOT NULL, v VARCHAR(64) NOT NULL DEFAULT '', PRIMARY KEY (id))");
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(200, "vt_customer", table);
        var ops = bed.Env.Operations;
        var spec = new MoveTablesCreate { Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [table], RequestedBy = "test" };
        Assert.Empty((await ops.PreflightAsync(spec, default)).Problems);

        // The user creates the table between pre-flight and create, with another default.
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"CREATE TABLE `{table}` (id INT NOT NULL, v VARCHAR(64) NOT NULL DEFAULT 'n/a', PRIMARY KEY (id))");
        var refused = await Assert.ThrowsAsync<WorkflowValidationException>(() => ops.CreateAsync(spec, [table], default));
        Assert.Contains("Create refused, no target table was created", refused.Message);
        Assert.Contains("NOT NULL DEFAULT 'n/a', the workflow would create varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT ''", refused.Message);
        Assert.Empty(await bed.Env.Engine.ListStreamsAsync("customer", "0"));

        // Cancel (what an operator does after a failed create) removes the workflow but not the user's table.
        await ops.CancelAsync(new CleanupRequest(new WorkflowState { Spec = spec, Tables = [table] }, new CleanupOptions()), default);
        Assert.Equal("1", await TableExistsAsync(200, "vt_customer", table));
        Assert.Null(await bed.Env.Registry.GetAsync("customer", spec.Workflow));
    }

    [Fact]
    public async Task An_equal_empty_target_table_is_adopted_and_cancel_leaves_it_while_dropping_the_tables_the_workflow_created()
    {
        await using var bed = new ClusterBed("own_adopt");
        await bed.InitAsync();
        var adopted = "oa_" + bed.Suffix;
        var created = "oc_" + bed.Suffix;
        // Equal but for table options and the AUTO_INCREMENT counter, which do not count.
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{adopted}` (id BIGINT NOT NULL AUTO_INCREMENT, v VARCHAR(64) NOT NULL DEFAULT '', w INT NULL, PRIMARY KEY (id), KEY kv (v)) ROW_FORMAT=DYNAMIC AUTO_INCREMENT=1000 COMMENT='source'",
            $"CREATE TABLE `{created}` (id INT NOT NULL, PRIMARY KEY (id))",
            $"INSERT INTO `{adopted}` (id, v, w) VALUES (1, 'a', 1), (2, 'b', NULL)",
            $"INSERT INTO `{created}` VALUES (1), (2), (3)");
        await ClusterBed.ExecAsync("dba", 200, "vt_customer",
            $"CREATE TABLE `{adopted}` (id BIGINT NOT NULL AUTO_INCREMENT, v VARCHAR(64) NOT NULL DEFAULT '', w INT NULL, PRIMARY KEY (id), KEY kv (v)) ROW_FORMAT=COMPACT AUTO_INCREMENT=7 COMMENT='the user''s own'");
        foreach (var t in new[] { adopted, created })
        {
            bed.DropLater(100, "vt_commerce", t);
            bed.DropLater(200, "vt_customer", t);
        }

        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var spec = new MoveTablesCreate { Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [adopted, created], RequestedBy = "test" };
        var id = await StartAsync(bed, spec);
        var running = await bed.WaitStateAsync(id, s => s.IsFinished || s.Phase == Phases.Running, "running");
        Assert.True(running.Phase == Phases.Running, $"phase {running.Phase}, error {running.LastError}");
        Assert.Equal("2", await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT COUNT(*) FROM `{adopted}`"));

        var ownership = await OwnershipJsonAsync(bed, spec.Workflow);

        await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = WorkflowActions.Cancel, RequestId = "c1", RequestedBy = "test" });
        var cancelled = await bed.WaitStateAsync(id, s => s.IsFinished, "cancelled");
        Assert.True(cancelled.Phase == Phases.Cancelled, $"phase {cancelled.Phase}, error {cancelled.LastError}");

        Assert.True(await TableExistsAsync(200, "vt_customer", adopted) == "1", $"Cancel dropped vt_customer.{adopted}, a table the workflow did not create");
        Assert.Null(await TableExistsAsync(200, "vt_customer", created));
        Assert.Null(await TableExistsAsync(200, "vt_customer", $"_{adopted}_old"));
        // Left as a table of the user's again: no write guard, writable by applications; the records are gone.
        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{adopted}` (id, v) VALUES (100, 'after cancel')");
        Assert.Null(await OwnershipJsonAsync(bed, spec.Workflow));

        // While the workflow ran, etcd held its ownership beside the workflow record (written before create created
        // anything): the adopted table, on shard 0, not owned.
        Assert.NotNull(ownership);
        Assert.Equal($"[{{\"shard\":\"0\",\"table\":\"{adopted}\"}}]", JsonDocument.Parse(ownership).RootElement.GetProperty("adopted").GetRawText());
        Assert.Equal("2", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT COUNT(*) FROM `{adopted}`"));
    }
}
