using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Topology;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Durable.Workflows.Tests;

/// <summary>
/// Sequences on the local cluster: MoveTables create --sharded-auto-increment-handling REPLACE --global-keyspace
/// commerce into customer_sharded (private tables, a private topology root), the sequence table and VSchema records
/// it leaves, AUTO_INCREMENT gone on both target shards, SwitchTraffic --initialize-target-sequences setting next_id
/// above every id on the target, and the refusals of bad input with nothing changed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SequenceIntegrationTests
{
    private static string ShardedVSchema(string table) =>
        "{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"" + table + "\":{\"column_vindexes\":[{\"column\":\"id\",\"name\":\"hash\"}]}}}";

    private static async Task<WorkflowState> WaitAsync(ClusterBed bed, string id, Func<WorkflowState, bool> until, string what) =>
        await bed.WaitStateAsync(id, until, what, seconds: 180);

    [Fact]
    public async Task Replace_creates_the_sequence_and_its_records_and_initialize_target_sequences_sets_it_above_every_target_id()
    {
        await using var bed = new ClusterBed("seq");
        await bed.InitAsync();
        var table = "sq_" + bed.Suffix;
        var seq = table + "_seq";
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{table}` (id BIGINT NOT NULL AUTO_INCREMENT, v VARCHAR(32), PRIMARY KEY (id))",
            $"INSERT INTO `{table}` (v) SELECT CONCAT('r', seq) FROM seq_1_to_40",
            $"INSERT INTO `{table}` (id, v) VALUES (1000, 'high')");
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(100, "vt_commerce", seq);
        bed.DropLater(300, "vt_customer_sharded", table);
        bed.DropLater(400, "vt_customer_sharded", table);
        await new TopologyAdmin(bed.Env.Store).ApplyVSchemaAsync("customer_sharded", ShardedVSchema(table));

        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var spec = new MoveTablesCreate
        {
            Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer_sharded", SourceKeyspace = "commerce", Tables = [table], TabletTypes = "PRIMARY",
            ShardedAutoIncrementHandling = "REPLACE", GlobalKeyspace = "commerce", RequestedBy = "test",
        };
        var id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));
        var running = await WaitAsync(bed, id, s => s.Phase is Phases.Running or Phases.Failed, "running");
        Assert.True(running.Phase == Phases.Running, running.LastError);

        // The sequence table in the global keyspace, as Vitess creates it, with its one row.
        Assert.Equal("vitess_sequence", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = '{seq}'"));
        Assert.Equal("0,1,1000", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT CONCAT_WS(',', id, next_id, cache) FROM `{seq}`"));

        // The VSchema records: a sequence in commerce, a qualified auto_increment on the target table (its vindex kept).
        var global = VSchemaDocument.Parse((await bed.Env.Store.GetVSchemaJsonAsync("commerce"))!.Value);
        Assert.Equal("sequence", global.Tables[seq].Type);
        var target = VSchemaDocument.Parse((await bed.Env.Store.GetVSchemaJsonAsync("customer_sharded"))!.Value);
        Assert.Equal(new AutoIncrement("id", "commerce." + seq), target.Tables[table].AutoIncrement);
        Assert.Equal("hash", target.Tables[table].ColumnVindexes[0].Name);

        // AUTO_INCREMENT gone on both target shards (and kept on the source).
        foreach (var uid in new[] { 300, 400 })
        {
            Assert.Equal("", await ClusterBed.ScalarAsync("dba", uid, "vt_customer_sharded",
                $"SELECT EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'vt_customer_sharded' AND TABLE_NAME = '{table}' AND COLUMN_NAME = 'id'"));
        }

        Assert.Contains("auto_increment", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce",
            $"SELECT EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = '{table}' AND COLUMN_NAME = 'id'"));

        // A row written on the source before the switch is on the target when the sequence is initialized.
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` (id, v) VALUES (5000, 'late')");
        var switched = await SwitchAsync(bed, id, new SwitchOptions { InitializeTargetSequences = true }, "s1");
        Assert.True(switched.State == "done", switched.Message);
        Assert.Equal("5001", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT next_id FROM `{seq}` WHERE id = 0"));
        var onShards = 0L;
        foreach (var uid in new[] { 300, 400 })
        {
            onShards += long.Parse((await ClusterBed.ScalarAsync("dba", uid, "vt_customer_sharded", $"SELECT COUNT(*) FROM `{table}`"))!, System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.Equal(42, onShards);

        // Idempotent: again changes nothing, and never lowers a sequence a gateway has advanced.
        var initialization = new TargetSequenceInitialization(new WorkflowSequences(bed.Env.Store, bed.Env.Engine, new KeyspaceShards(bed.Env.Store, bed.Env.Engine)), bed.Env.Engine, new KeyspaceShards(bed.Env.Store, bed.Env.Engine));
        var lines = await initialization.InitializeAsync(spec, [table], default);
        Assert.Equal($"commerce.{seq} next_id 5001 (above every {table}.id on the target)", Assert.Single(lines));
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"UPDATE `{seq}` SET next_id = 9000 WHERE id = 0");
        await initialization.InitializeAsync(spec, [table], default);
        Assert.Equal("9000", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT next_id FROM `{seq}` WHERE id = 0"));

        // A re-run of create's sequence step (a redelivered activity) changes nothing more.
        var creation = new SequenceCreation(new WorkflowSequences(bed.Env.Store, bed.Env.Engine, new KeyspaceShards(bed.Env.Store, bed.Env.Engine)));
        var globalBefore = await bed.Env.Store.GetVSchemaJsonAsync("commerce");
        var targetBefore = await bed.Env.Store.GetVSchemaJsonAsync("customer_sharded");
        Assert.Single(await creation.CreateAsync(spec, [table], default));
        Assert.Equal("9000", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT next_id FROM `{seq}` WHERE id = 0"));
        Assert.Equal(globalBefore!.Value, (await bed.Env.Store.GetVSchemaJsonAsync("commerce"))!.Value);
        Assert.Equal(targetBefore!.Value, (await bed.Env.Store.GetVSchemaJsonAsync("customer_sharded"))!.Value);
    }

    [Fact]
    public async Task Bad_global_keyspaces_an_unsharded_target_and_a_table_in_the_way_are_refused_by_preflight_with_nothing_changed()
    {
        await using var bed = new ClusterBed("seqbad");
        await bed.InitAsync();
        var table = "sb_" + bed.Suffix;
        var seq = table + "_seq";
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{table}` (id BIGINT NOT NULL AUTO_INCREMENT, v VARCHAR(32), PRIMARY KEY (id))");
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(100, "vt_commerce", seq);
        var admin = new TopologyAdmin(bed.Env.Store);
        await admin.ApplyVSchemaAsync("customer_sharded", ShardedVSchema(table));
        await admin.CreateKeyspaceAsync("gsharded_" + bed.Suffix, sharded: true);
        var spec = new MoveTablesCreate
        {
            Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer_sharded", SourceKeyspace = "commerce", Tables = [table], TabletTypes = "PRIMARY",
            ShardedAutoIncrementHandling = "REPLACE", GlobalKeyspace = "commerce",
        };
        var operations = bed.Env.Operations;
        var globalBefore = await bed.Env.Store.GetVSchemaJsonAsync("commerce");

        var missing = await operations.PreflightAsync(spec with { GlobalKeyspace = "nosuch_" + bed.Suffix }, default);
        Assert.Contains(missing.Problems, p => p.StartsWith($"Keyspace 'nosuch_{bed.Suffix}' (--global-keyspace) does not exist", StringComparison.Ordinal) && p.Contains("commerce", StringComparison.Ordinal));

        var sharded = await operations.PreflightAsync(spec with { GlobalKeyspace = "gsharded_" + bed.Suffix }, default);
        Assert.Contains(sharded.Problems, p => p.StartsWith($"Keyspace 'gsharded_{bed.Suffix}' (--global-keyspace) is sharded", StringComparison.Ordinal));

        var unshardedTarget = await operations.PreflightAsync(spec with { TargetKeyspace = "customer" }, default);
        Assert.Contains(unshardedTarget.Problems, p => p.Contains("target keyspace 'customer' is unsharded", StringComparison.Ordinal) && p.Contains("Vitess ignores the option", StringComparison.Ordinal));

        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{seq}` (id INT PRIMARY KEY, label VARCHAR(10))");
        var inTheWay = await operations.PreflightAsync(spec, default);
        Assert.Contains(inTheWay.Problems, p => p.StartsWith($"Table '{seq}' already exists in global keyspace 'commerce' and is not a sequence table", StringComparison.Ordinal));

        // Nothing changed: the table in the way is as it was, and no VSchema record was written.
        Assert.Equal("id,label", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce",
            $"SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = '{seq}'"));
        Assert.Equal(globalBefore?.Value, (await bed.Env.Store.GetVSchemaJsonAsync("commerce"))?.Value);
        Assert.Null(VSchemaDocument.Parse((await bed.Env.Store.GetVSchemaJsonAsync("customer_sharded"))!.Value).Tables[table].AutoIncrement);

        // A good spec passes once the table is out of the way.
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"DROP TABLE `{seq}`");
        Assert.Empty((await operations.PreflightAsync(spec, default)).Problems);
    }

    private static async Task<CommandResult> SwitchAsync(ClusterBed bed, string id, SwitchOptions options, string requestId)
    {
        await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "SwitchTraffic", RequestId = requestId, RequestedBy = "test", Switch = options });
        var state = await WaitAsync(bed, id, s => s.Commands.Any(c => c.RequestId == requestId && c.State != "waiting for approval"), "SwitchTraffic");
        return state.Commands.Last(c => c.RequestId == requestId);
    }
}
