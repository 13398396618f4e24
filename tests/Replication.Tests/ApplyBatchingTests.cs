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
}
