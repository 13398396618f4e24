using Durable.Core.Positions;

namespace Durable.Replication.Tests;

/// <summary>
/// Row changes applied in compound blocks (MariaDB: BEGIN NOT ATOMIC ... END, many statements per round trip): mixed
/// changes in source order end equal, and a DELETE that finds no row still stops the stream as a divergence.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ApplyBatchingTests
{
    // These tests are about how changes reach the target, not throttling: with the shared cluster's target replicas
    // not replicating (NULL lag counts as infinitely behind) a throttled stream would never commit.
    private static readonly ReplicationEngineOptions Unthrottled = new() { Throttle = null };

    [Fact]
    public async Task Mixed_changes_in_large_transactions_apply_in_source_order()
    {
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchorder", OnDdl.Ignore, Unthrottled);
        await using var _ = bed;
        await DdlAndStopPositionTests.WithStreamerAsync(bed, async () =>
        {
            // One transaction whose statements only give the source's result in the source's order: a row inserted,
            // changed, deleted and inserted again; a key moved onto a freed key; a multi-row insert between updates.
            await bed.ExecAsync(100, bed.SourceDb,
                "BEGIN",
                "INSERT INTO t SELECT seq, CONCAT('a', seq) FROM seq_1_to_500",
                "UPDATE t SET v = CONCAT(v, 'b') WHERE id % 3 = 0",
                "DELETE FROM t WHERE id % 5 = 0",
                "INSERT INTO t SELECT seq, CONCAT('c', seq) FROM seq_1_to_500 WHERE seq % 5 = 0 AND seq % 2 = 0",
                "UPDATE t SET id = id + 1000 WHERE id BETWEEN 10 AND 60",
                "UPDATE t SET id = 10 WHERE id = 1060",
                "DELETE FROM t WHERE id = 7",
                "INSERT INTO t VALUES (7, 'again')",
                "COMMIT");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));
        });
    }

    [Fact]
    public async Task A_delete_that_finds_no_target_row_inside_a_batch_is_a_divergence_and_nothing_of_the_batch_commits()
    {
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchdiverge", OnDdl.Ignore, Unthrottled);
        await using var _ = bed;
        await DdlAndStopPositionTests.WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO t SELECT seq, CONCAT('a', seq) FROM seq_1_to_20");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            await bed.ExecAsync(200, bed.TargetDb, "DELETE FROM t WHERE id = 12"); // the target drifts
            await bed.ExecAsync(100, bed.SourceDb, "BEGIN", "UPDATE t SET v = 'changed' WHERE id <= 5", "DELETE FROM t WHERE id BETWEEN 10 AND 14", "COMMIT");
            var failed = await DdlAndStopPositionTests.WaitForStateAsync(bed, id, StreamState.Error, TimeSpan.FromSeconds(60));
            Assert.Contains("DELETE of t row with primary key (12) found no row on the target: source and target have diverged", failed.Message);
            Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t WHERE v = 'changed'"));
            Assert.Equal("4", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t WHERE id BETWEEN 10 AND 14"));
        });
    }

    [Fact]
    public async Task Transactions_spanning_many_pipelined_blocks_apply_in_order_and_only_changed_columns_are_needed()
    {
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchpipe", OnDdl.Ignore, Unthrottled);
        await using var _ = bed;
        await DdlAndStopPositionTests.WithStreamerAsync(bed, async () =>
        {
            // Each transaction is several 256 KiB blocks of row changes, so blocks are built while earlier ones run
            // (pipelined); updates touch one column each, inserts and deletes interleave with them.
            for (var round = 0; round < 3; round++)
            {
                await bed.ExecAsync(100, bed.SourceDb,
                    "BEGIN",
                    $"INSERT INTO t SELECT seq + {round * 20000}, CONCAT('r', seq) FROM seq_1_to_20000",
                    $"UPDATE t SET v = CONCAT('u', id) WHERE id % 2 = 0 AND id > {round * 20000}",
                    $"DELETE FROM t WHERE id % 7 = 0 AND id > {round * 20000}",
                    $"UPDATE t SET id = id + 1000000 WHERE id % 11 = 0 AND id > {round * 20000} AND id < 1000000",
                    "COMMIT");
            }

            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(180));
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));
        });
    }

    [Fact]
    public async Task A_divergence_in_a_block_still_in_flight_stops_the_stream_and_nothing_of_the_batch_commits()
    {
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchinflight", OnDdl.Ignore, Unthrottled);
        await using var _ = bed;
        await DdlAndStopPositionTests.WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO t SELECT seq, CONCAT('a', seq) FROM seq_1_to_30000");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(120));
            await bed.ExecAsync(200, bed.TargetDb, "DELETE FROM t WHERE id = 15000"); // the target drifts mid-table
            // One transaction of many blocks: the bad DELETE is in a middle block, sent while the next is being built.
            await bed.ExecAsync(100, bed.SourceDb, "BEGIN", "UPDATE t SET v = 'changed' WHERE id <= 5", "DELETE FROM t WHERE id > 100", "COMMIT");
            var failed = await DdlAndStopPositionTests.WaitForStateAsync(bed, id, StreamState.Error, TimeSpan.FromSeconds(120));
            Assert.Contains("DELETE of t row with primary key (15000) found no row on the target: source and target have diverged", failed.Message);
            Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t WHERE v = 'changed'"));
            Assert.Equal("29999", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t"));
        });
    }

    [Fact]
    public async Task Rows_of_a_table_keyed_only_by_its_primary_key_are_updated_in_place_and_a_missing_row_is_still_a_divergence()
    {
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchinplace", OnDdl.Ignore, Unthrottled);
        await using var _ = bed;
        await DdlAndStopPositionTests.WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO t SELECT seq, CONCAT('a', seq) FROM seq_1_to_20");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            await using (var target = await TestBed.OpenDbaAsync(200))
            {
                Assert.False((await TableSchema.LoadAsync(target, bed.TargetDb, "t")).HasSecondaryUniqueKey);
            }

            // Net updates (plain, and a delete + re-insert of one key), a net delete and a net insert in one transaction.
            var from = await BinlogPositionAsync(200);
            await bed.ExecAsync(100, bed.SourceDb,
                "BEGIN",
                "UPDATE t SET v = CONCAT('u', id) WHERE id <= 10",
                "DELETE FROM t WHERE id = 12",
                "INSERT INTO t VALUES (12, 'again')",
                "DELETE FROM t WHERE id = 11",
                "INSERT INTO t VALUES (21, 'new')",
                "COMMIT");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "t"), await TestBed.DumpAsync(200, bed.TargetDb, "t"));
            // The target's own binlog shows what it did: the changed rows (12 among them) updated in place, one
            // DELETE statement (of row 11 alone: 12 is not deleted and re-inserted) and one INSERT (row 21).
            var events = await RowEventsAsync(200, from, bed.TargetDb, "t");
            Assert.True(events.GetValueOrDefault("Update") >= 1, string.Join(", ", events));
            Assert.Equal(1, events.GetValueOrDefault("Delete"));
            Assert.Equal(1, events.GetValueOrDefault("Write"));

            // An UPDATE of a row the target lost: the existence check still catches it, and nothing of the batch commits.
            await bed.ExecAsync(200, bed.TargetDb, "DELETE FROM t WHERE id = 3");
            await bed.ExecAsync(100, bed.SourceDb, "BEGIN", "UPDATE t SET v = 'changed' WHERE id <= 5", "COMMIT");
            var failed = await DdlAndStopPositionTests.WaitForStateAsync(bed, id, StreamState.Error, TimeSpan.FromSeconds(60));
            Assert.Contains("UPDATE of t row with primary key (3) found no row on the target: source and target have diverged", failed.Message);
            Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t WHERE v = 'changed'"));
        });
    }

    [Fact]
    public async Task An_insert_of_a_key_the_target_already_holds_is_a_duplicate_not_an_overwrite()
    {
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchdup", OnDdl.Ignore, Unthrottled);
        await using var _ = bed;
        await DdlAndStopPositionTests.WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO t SELECT seq, CONCAT('a', seq) FROM seq_1_to_5");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            await bed.ExecAsync(200, bed.TargetDb, "INSERT INTO t VALUES (50, 'drift')");
            // Updates of existing rows (written as upserts) and an insert of the key the target already has, together.
            await bed.ExecAsync(100, bed.SourceDb, "BEGIN", "UPDATE t SET v = 'changed'", "INSERT INTO t VALUES (50, 'source')", "COMMIT");
            var failed = await DdlAndStopPositionTests.WaitForStateAsync(bed, id, StreamState.Error, TimeSpan.FromSeconds(60));
            Assert.Contains("Duplicate entry '50'", failed.Message);
            Assert.Equal("drift", await TestBed.ScalarAsync(200, $"SELECT v FROM `{bed.TargetDb}`.t WHERE id = 50"));
            Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t WHERE v = 'changed'"));
        });
    }

    [Fact]
    public async Task A_table_with_a_secondary_unique_key_keeps_delete_then_insert_so_unique_value_swaps_apply()
    {
        var bed = new TestBed("batchuniq", Unthrottled);
        await using var _ = bed;
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb, "CREATE TABLE u (id INT PRIMARY KEY, e INT NOT NULL, v VARCHAR(20) NOT NULL, UNIQUE KEY by_e (e))");
        var start = GtidPosition.Parse(await TestBed.ScalarAsync(100, "SELECT @@global.gtid_binlog_pos"), GtidFlavor.MariaDb);
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("u")) with { Position = start, OnDdl = OnDdl.Ignore });
        Assert.Equal(StreamState.Running, (await bed.Engine.StartStreamAsync("customer", "0", id)).State);
        await DdlAndStopPositionTests.WithStreamerAsync(bed, async () =>
        {
            await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO u SELECT seq, seq, CONCAT('a', seq) FROM seq_1_to_10");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            await using (var target = await TestBed.OpenDbaAsync(200))
            {
                Assert.True((await TableSchema.LoadAsync(target, bed.TargetDb, "u")).HasSecondaryUniqueKey);
            }

            // Rows 1 and 2 swap their unique values (through a free value), row 3 takes row 4's after row 4 moves on.
            // Written as in-place upserts in key order, row 1's new value would collide with row 2's old one.
            await bed.ExecAsync(100, bed.SourceDb,
                "BEGIN",
                "UPDATE u SET e = -1 WHERE id = 1",
                "UPDATE u SET e = 1, v = 'swapped' WHERE id = 2",
                "UPDATE u SET e = 2, v = 'swapped' WHERE id = 1",
                "UPDATE u SET e = 100 WHERE id = 4",
                "UPDATE u SET e = 4 WHERE id = 3",
                "COMMIT");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "u"), await TestBed.DumpAsync(200, bed.TargetDb, "u"));
            Assert.Equal(StreamState.Running, (await DdlAndStopPositionTests.StreamAsync(bed, id)).State);
        });
    }

    private static async Task<(string File, long Position)> BinlogPositionAsync(int uid)
    {
        await using var c = await TestBed.OpenDbaAsync(uid);
        await using var r = await c.QueryAsync("SHOW MASTER STATUS");
        Assert.True(await r.ReadAsync());
        return (r.GetString(0)!, long.Parse(r.GetString(1)!, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Row events per kind (Write, Update, Delete) a server logged for one table since a position (each follows its table map).</summary>
    private static async Task<Dictionary<string, int>> RowEventsAsync(int uid, (string File, long Position) from, string db, string table)
    {
        await using var c = await TestBed.OpenDbaAsync(uid);
        var files = new List<string>();
        await using (var r = await c.QueryAsync("SHOW BINARY LOGS"))
        {
            while (await r.ReadAsync())
            {
                if (string.CompareOrdinal(r.GetString(0), from.File) >= 0)
                {
                    files.Add(r.GetString(0)!);
                }
            }
        }

        var counts = new Dictionary<string, int>();
        var ours = false;
        foreach (var file in files)
        {
            var sql = file == from.File ? $"SHOW BINLOG EVENTS IN '{file}' FROM {from.Position}" : $"SHOW BINLOG EVENTS IN '{file}'";
            await using var r = await c.QueryAsync(sql);
            while (await r.ReadAsync())
            {
                var type = r.GetString(2)!;
                if (type == "Table_map")
                {
                    ours = r.GetString(5)!.EndsWith($"({db}.{table})", StringComparison.Ordinal);
                }
                else if (type.Contains("_rows", StringComparison.Ordinal) && ours)
                {
                    // Write_rows_v1, Update_rows_v1, Delete_rows_v1 (one event per statement and table map).
                    var kind = type[..type.IndexOf("_rows", StringComparison.Ordinal)];
                    counts[kind] = counts.GetValueOrDefault(kind) + 1;
                }
            }
        }

        return counts;
    }
}
