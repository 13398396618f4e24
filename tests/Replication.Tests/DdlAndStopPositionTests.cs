using Durable.Core.Positions;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Replication.Tests;

/// <summary>
/// on_ddl (IGNORE/STOP/EXEC/EXEC_IGNORE): what happens to the stream and to the target schema when the source runs an
/// ALTER; and the stop position: a stream stops exactly there, Stopped with the seeds' (Vitess's) messages.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DdlAndStopPositionTests
{
    /// <summary>A bed with an empty source table t and a stream on it that starts at the source's current position.</summary>
    internal static async Task<(TestBed Bed, long Id, GtidPosition Start)> SetUpAsync(string name, OnDdl onDdl, ReplicationEngineOptions? options = null)
    {
        var bed = new TestBed(name, options);
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)");
        var start = await SourcePositionAsync();
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("t")) with { Position = start, OnDdl = onDdl });
        Assert.Equal(StreamState.Running, (await bed.Engine.StartStreamAsync("customer", "0", id)).State);
        return (bed, id, start);
    }

    private static async Task<GtidPosition> SourcePositionAsync() =>
        GtidPosition.Parse(await TestBed.ScalarAsync(100, "SELECT @@global.gtid_binlog_pos"), GtidFlavor.MariaDb);

    internal static async Task<StreamRecord> StreamAsync(TestBed bed, long id) =>
        (await bed.Engine.ListStreamsAsync("customer", "0")).Single(s => s.Id == id);

    internal static async Task<StreamRecord> WaitForStateAsync(TestBed bed, long id, StreamState state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var s = await StreamAsync(bed, id);
        while (s.State != state && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            s = await StreamAsync(bed, id);
        }

        Assert.True(s.State == state, $"stream {id} is {s.State} ({s.Message}), expected {state}");
        return s;
    }

    private static async Task<string> TargetColumnsAsync(TestBed bed) =>
        await TestBed.ScalarAsync(200, $"SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{bed.TargetDb}' AND TABLE_NAME = 't'");

    private static async Task<string> TargetIndexesAsync(TestBed bed) =>
        await TestBed.ScalarAsync(200, $"SELECT IFNULL(GROUP_CONCAT(DISTINCT INDEX_NAME ORDER BY INDEX_NAME), '') FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{bed.TargetDb}' AND TABLE_NAME = 't'");

    /// <summary>Runs an in-process Streamer (one replica, own etcd root) around <paramref name="body"/>.</summary>
    internal static async Task WithStreamerAsync(TestBed bed, Func<Task> body)
    {
        await using var supervisor = new StreamerSupervisor(bed.Engine, bed.Etcd,
            new StreamerOptions { OwnershipRoot = bed.EtcdRoot + "/streamer", PollInterval = TimeSpan.FromMilliseconds(200) }, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = supervisor.RunAsync(stop.Token);
        try
        {
            await body();
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }

    [Fact]
    public async Task On_ddl_ignore_skips_the_ddl_and_a_later_row_the_target_cannot_hold_moves_the_stream_to_error()
    {
        var (bed, id, _) = await SetUpAsync("ddlignore", OnDdl.Ignore);
        await using var _ = bed;
        await WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO t VALUES (1, 'one')", "ALTER TABLE t ADD INDEX by_v (v)", "INSERT INTO t VALUES (2, 'two')");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal("PRIMARY", await TargetIndexesAsync(bed)); // the index was not made on the target
            Assert.Equal(StreamState.Running, (await StreamAsync(bed, id)).State);
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));

            // A column the target does not have: ignoring the DDL means the next row cannot be applied faithfully.
            await bed.ExecAsync(100, bed.SourceDb, "ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7", "INSERT INTO t VALUES (3, 'three', 8)");
            var failed = await WaitForStateAsync(bed, id, StreamState.Error, TimeSpan.FromSeconds(60));
            Assert.Contains("Column 'extra'", failed.Message);
            Assert.Equal("id,v", await TargetColumnsAsync(bed));
            Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t WHERE id = 3"));
        });
    }

    [Fact]
    public async Task On_ddl_stop_stops_the_stream_past_the_ddl_without_running_it_and_a_restart_continues()
    {
        var (bed, id, _) = await SetUpAsync("ddlstop", OnDdl.Stop);
        await using var _ = bed;
        await WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO t VALUES (1, 'one')");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            // Each statement's own GTID (others write to the shared source too, so its global position is no anchor).
            await using var source = await TestBed.OpenDbaAsync(100, bed.SourceDb);
            await source.ExecuteAsync("ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7");
            var ddl = GtidPosition.Parse((await source.QueryScalarAsync("SELECT @@session.last_gtid"))!, GtidFlavor.MariaDb);
            await source.ExecuteAsync("INSERT INTO t VALUES (2, 'two', 8)");
            var insert = GtidPosition.Parse((await source.QueryScalarAsync("SELECT @@session.last_gtid"))!, GtidFlavor.MariaDb);

            var stopped = await WaitForStateAsync(bed, id, StreamState.Stopped, TimeSpan.FromSeconds(60));
            Assert.Equal("Stopped at DDL ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7", stopped.Message);
            Assert.True(stopped.Position!.AtLeast(ddl) && !stopped.Position.AtLeast(insert),
                $"the stream should stop past the DDL ({ddl}) and before the next insert ({insert}), not at {stopped.Position}");
            Assert.Equal("id,v", await TargetColumnsAsync(bed)); // not run on the target
            Assert.Equal(["1"], (await TestBed.DumpAsync(200, bed.TargetDb, "t", "CAST(id AS CHAR)")).Select(h => System.Text.Encoding.ASCII.GetString(Convert.FromHexString(h))));
            await Task.Delay(1500);
            Assert.Equal(StreamState.Stopped, (await StreamAsync(bed, id)).State); // the Streamer does not take it again

            // The operator applies the DDL to the target and starts the stream: it continues after the DDL.
            await bed.ExecAsync(200, bed.TargetDb, "ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7");
            await bed.Engine.StartStreamAsync("customer", "0", id);
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal(StreamState.Running, (await StreamAsync(bed, id)).State);
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));
        });
    }

    [Fact]
    public async Task On_ddl_exec_runs_the_ddl_on_the_target_and_applies_later_rows_with_the_new_column()
    {
        var (bed, id, _) = await SetUpAsync("ddlexec", OnDdl.Exec);
        await using var _ = bed;
        await WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb,
                "INSERT INTO t VALUES (1, 'one')",
                "ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7, ADD INDEX by_v (v)",
                "INSERT INTO t VALUES (2, 'two', 8)",
                "UPDATE t SET extra = 9 WHERE id = 1");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal("id,v,extra", await TargetColumnsAsync(bed));
            Assert.Equal("by_v,PRIMARY", await TargetIndexesAsync(bed)); // case-insensitive order
            Assert.Equal(StreamState.Running, (await StreamAsync(bed, id)).State);
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));
        });
    }

    [Fact]
    public async Task On_ddl_exec_moves_the_stream_to_error_when_the_ddl_fails_on_the_target()
    {
        var (bed, id, _) = await SetUpAsync("ddlexecfail", OnDdl.Exec);
        await using var _ = bed;
        await bed.ExecAsync(200, bed.TargetDb, "ALTER TABLE t ADD INDEX by_v (v)"); // the target already has it
        await WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO t VALUES (1, 'one')", "ALTER TABLE t ADD INDEX by_v (v)", "INSERT INTO t VALUES (2, 'two')");
            var failed = await WaitForStateAsync(bed, id, StreamState.Error, TimeSpan.FromSeconds(60));
            Assert.Contains("on_ddl=EXEC: the DDL 'ALTER TABLE t ADD INDEX by_v (v)' failed on the target", failed.Message);
            Assert.Contains("by_v", failed.Message);
            Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t WHERE id = 2"));
        });
    }

    [Fact]
    public async Task On_ddl_exec_ignore_runs_the_ddl_and_carries_on_when_it_fails_on_the_target()
    {
        var (bed, id, _) = await SetUpAsync("ddlexecign", OnDdl.ExecIgnore);
        await using var _ = bed;
        await bed.ExecAsync(200, bed.TargetDb, "ALTER TABLE t ADD INDEX by_v (v)"); // makes the first DDL fail there
        await WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb,
                "INSERT INTO t VALUES (1, 'one')",
                "ALTER TABLE t ADD INDEX by_v (v)",
                "INSERT INTO t VALUES (2, 'two')",
                "ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7",
                "INSERT INTO t VALUES (3, 'three', 8)");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            var stream = await StreamAsync(bed, id);
            Assert.Equal(StreamState.Running, stream.State);
            Assert.Equal("id,v,extra", await TargetColumnsAsync(bed)); // the second DDL ran
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));
        });
    }

    [Fact]
    public async Task A_stream_with_a_stop_position_stops_exactly_there_and_says_so_again_when_restarted()
    {
        var (bed, id, _) = await SetUpAsync("stoppos", OnDdl.Ignore);
        await using var _ = bed;
        await bed.Engine.StopStreamAsync("customer", "0", id, "before the load");
        GtidPosition? stopAt = null;
        for (var i = 1; i <= 10; i++)
        {
            // One source transaction per id, plus an update of an earlier row, so "exactly" is visible in the rows.
            await bed.ExecAsync(100, bed.SourceDb, "BEGIN", $"INSERT INTO t VALUES ({i}, 'v{i}')", $"UPDATE t SET v = CONCAT(v, '+') WHERE id = {i - 1}", "COMMIT");
            if (i == 6)
            {
                stopAt = await SourcePositionAsync();
            }
        }

        await bed.Engine.SetStopPositionAsync("customer", "0", id, stopAt);
        await bed.Engine.StartStreamAsync("customer", "0", id);
        await WithStreamerAsync(bed, async () =>
        {
            var stopped = await WaitForStateAsync(bed, id, StreamState.Stopped, TimeSpan.FromSeconds(60));
            Assert.Equal($"Stopped at position {stopAt}", stopped.Message);
            Assert.Equal(stopAt, stopped.Position);
            Assert.Equal(
                ["1|v1+", "2|v2+", "3|v3+", "4|v4+", "5|v5+", "6|v6"],
                (await TestBed.DumpAsync(200, bed.TargetDb, "t", "CONCAT(id, '|', v)")).Select(h => System.Text.Encoding.UTF8.GetString(Convert.FromHexString(h))));

            // Started again with the stop position still set: it stops at once with the seeds' message.
            await bed.Engine.StartStreamAsync("customer", "0", id);
            stopped = await WaitForStateAsync(bed, id, StreamState.Stopped, TimeSpan.FromSeconds(30));
            Assert.Equal($"Stop position {stopAt} already reached: {stopAt}", stopped.Message);
            Assert.Equal(stopAt, stopped.Position);
            Assert.Equal("6", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t"));

            // With the stop position cleared it runs on to the end.
            await bed.Engine.SetStopPositionAsync("customer", "0", id, null);
            await bed.Engine.StartStreamAsync("customer", "0", id);
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));
        });
    }
}
