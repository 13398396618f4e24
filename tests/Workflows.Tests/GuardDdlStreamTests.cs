using Durable.Core.Positions;
using Durable.MySql;
using Durable.Replication;

namespace Durable.Workflows.Tests;

/// <summary>
/// The write guards' own DDL reaching a stream (issue 18, point 7): a switch installs guards on the source primary
/// and removes them from the target, and every CREATE/DROP TRIGGER is binlogged; an on_ddl=STOP or EXEC stream reads
/// them. It must neither stop on them nor run them on its target, while a user's DDL (a trigger of their own, an
/// ALTER) still stops a STOP stream and runs under EXEC.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GuardDdlStreamTests
{
    /// <summary>A source table with one row and a Running stream of it (starting at the source's position) with <paramref name="onDdl"/>.</summary>
    private static async Task<(string Table, string Workflow, long Id)> SetUpAsync(ClusterBed bed, OnDdl onDdl)
    {
        await bed.InitAsync();
        var table = "gd_" + bed.Suffix;
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(200, "vt_customer", table);
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{table}` (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)");
        var start = GtidPosition.Parse((await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", "SELECT @@global.gtid_binlog_pos"))!, GtidFlavor.MariaDb);
        var workflow = "gd_" + bed.Suffix;
        var id = await bed.Env.Engine.CreateStreamAsync(new StreamSpec
        {
            Workflow = workflow,
            SourceKeyspace = "commerce",
            SourceShard = "0",
            TargetKeyspace = "customer",
            TargetShard = "0",
            TargetDb = "vt_customer",
            Filter = new StreamFilter([new TableRule(table)]),
            Position = start,
            OnDdl = onDdl,
        });
        Assert.Equal(StreamState.Running, (await bed.Env.Engine.StartStreamAsync("customer", "0", id)).State);
        bed.StartStreamer();
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` VALUES (1, 'before')");
        return (table, workflow, id);
    }

    private static async Task<StreamRecord> StreamAsync(ClusterBed bed, long id) =>
        (await bed.Env.Engine.ListStreamsAsync("customer", "0")).Single(s => s.Id == id);

    /// <summary>Waits until the stream has applied everything the source primary has now, failing if it stops on the way.</summary>
    private static async Task CaughtUpAsync(ClusterBed bed, long id)
    {
        var target = GtidPosition.Parse((await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", "SELECT @@global.gtid_binlog_pos"))!, GtidFlavor.MariaDb);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var s = await StreamAsync(bed, id);
            Assert.True(s.State == StreamState.Running, $"stream {id} is {s.State}: {s.Message}");
            if (s.Position is not null && s.Position.AtLeast(target))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"stream {id} at {s.Position} did not reach {target}");
            await Task.Delay(100);
        }
    }

    private static async Task<StreamRecord> StoppedAsync(ClusterBed bed, long id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var s = await StreamAsync(bed, id);
        while (s.State == StreamState.Running && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            s = await StreamAsync(bed, id);
        }

        Assert.True(s.State == StreamState.Stopped, $"stream {id} is {s.State} ({s.Message}), expected Stopped");
        return s;
    }

    private static async Task<string> TargetTriggersAsync(string table) =>
        await ClusterBed.ScalarAsync("dba", 200, "vt_customer",
            $"SELECT IFNULL(GROUP_CONCAT(TRIGGER_NAME ORDER BY TRIGGER_NAME), '') FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'vt_customer' AND EVENT_OBJECT_TABLE = '{table}'") ?? "";

    private static async Task<string> RowsAsync(int uid, string db, string table) =>
        await ClusterBed.ScalarAsync("dba", uid, db, $"SELECT IFNULL(GROUP_CONCAT(CONCAT(id, '=', v) ORDER BY id), '') FROM `{table}`") ?? "";

    /// <summary>Installs the source guards on the source primary as a switch does, writes through them, and lifts them as a failed switch does.</summary>
    private static async Task GuardAndUnguardSourceAsync(ClusterBed bed, string table, string workflow)
    {
        await using var engine = await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 100, "vt_commerce"));
        await bed.Env.Operations.Guards.InstallAsync(engine, "vt_commerce", "customer", workflow, "commerce", GuardSide.Source, [table], TimeSpan.FromSeconds(5), default);
        Assert.True(await WriteGuards.IsGuardedAsync(engine, "vt_commerce", "customer", workflow, GuardSide.Source, table, default));
        await engine.ExecuteAsync($"INSERT INTO `{table}` VALUES (2, 'guarded')"); // the engine's account passes the guard
        // Target-side guards of the same workflow on the source tables (as a reverse workflow's are), then all lifted.
        await bed.Env.Operations.Guards.InstallAsync(engine, "vt_commerce", "customer", workflow, "commerce", GuardSide.Target, [table], TimeSpan.FromSeconds(5), default);
        await WriteGuards.RemoveAsync(engine, "vt_commerce", "customer", workflow, GuardSide.Source, [table], TimeSpan.FromSeconds(5), default);
        await WriteGuards.RemoveAsync(engine, "vt_commerce", "customer", workflow, GuardSide.Target, [table], TimeSpan.FromSeconds(5), default);
    }

    [Theory]
    [InlineData(OnDdl.Stop)]
    [InlineData(OnDdl.Exec)]
    [InlineData(OnDdl.ExecIgnore)]
    public async Task A_stream_keeps_running_through_the_guards_install_and_removal_on_its_source_and_applies_later_rows(OnDdl onDdl)
    {
        await using var bed = new ClusterBed("gd" + onDdl.ToString().ToLowerInvariant());
        var (table, workflow, id) = await SetUpAsync(bed, onDdl);

        await GuardAndUnguardSourceAsync(bed, table, workflow);
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` VALUES (3, 'after')");

        await CaughtUpAsync(bed, id);
        Assert.Equal("1=before,2=guarded,3=after", await RowsAsync(200, "vt_customer", table));
        Assert.Equal("", await TargetTriggersAsync(table)); // never run on the target, under EXEC neither
        Assert.Equal(StreamState.Running, (await StreamAsync(bed, id)).State);
    }

    [Fact]
    public async Task A_users_own_trigger_and_alter_still_stop_an_on_ddl_stop_stream()
    {
        await using var bed = new ClusterBed("gduser");
        var (table, workflow, id) = await SetUpAsync(bed, OnDdl.Stop);
        await GuardAndUnguardSourceAsync(bed, table, workflow);
        await CaughtUpAsync(bed, id);

        // A user's trigger on the streamed table is a schema change the operator must carry over.
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TRIGGER `user_trg_{bed.Suffix}` BEFORE INSERT ON `{table}` FOR EACH ROW SET NEW.v = UPPER(NEW.v)");
        var stopped = await StoppedAsync(bed, id);
        Assert.StartsWith("Stopped at DDL CREATE", stopped.Message);
        Assert.Contains($"user_trg_{bed.Suffix}", stopped.Message);
        Assert.Equal("", await TargetTriggersAsync(table));

        // So is an ALTER, after the operator restarts the stream.
        await bed.Env.Engine.StartStreamAsync("customer", "0", id);
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` VALUES (4, 'four')");
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"ALTER TABLE `{table}` ADD COLUMN extra INT NOT NULL DEFAULT 7");
        stopped = await StoppedAsync(bed, id);
        Assert.Equal($"Stopped at DDL ALTER TABLE `{table}` ADD COLUMN extra INT NOT NULL DEFAULT 7", stopped.Message);
        Assert.Equal("1=before,2=guarded,4=FOUR", await RowsAsync(200, "vt_customer", table)); // upper-cased by the trigger on the source
    }

    [Fact]
    public async Task A_users_own_trigger_runs_on_the_target_of_an_on_ddl_exec_stream_and_the_guards_do_not()
    {
        await using var bed = new ClusterBed("gduserexec");
        var (table, workflow, id) = await SetUpAsync(bed, OnDdl.Exec);
        await GuardAndUnguardSourceAsync(bed, table, workflow);
        // Created by the engine's account: the binlog names the definer, and the stream (that account) may only run a
        // CREATE TRIGGER for itself (another definer needs SET USER).
        await ClusterBed.ExecAsync("filtered", 100, "vt_commerce", $"CREATE TRIGGER `user_trg_{bed.Suffix}` BEFORE INSERT ON `{table}` FOR EACH ROW SET NEW.v = UPPER(NEW.v)");
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` VALUES (5, 'five')");
        await CaughtUpAsync(bed, id);
        Assert.Equal($"user_trg_{bed.Suffix}", await TargetTriggersAsync(table));
        Assert.Equal("1=before,2=guarded,5=FIVE", await RowsAsync(200, "vt_customer", table));
    }
}
