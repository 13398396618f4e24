namespace Durable.Replication.Tests;

/// <summary>
/// Row changes applied in compound blocks (MariaDB: BEGIN NOT ATOMIC ... END, many statements per round trip): mixed
/// changes in source order end equal, and a DELETE that finds no row still stops the stream as a divergence.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ApplyBatchingTests
{
    [Fact]
    public async Task Mixed_changes_in_large_transactions_apply_in_source_order()
    {
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchorder", OnDdl.Ignore);
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
        var (bed, id, _) = await DdlAndStopPositionTests.SetUpAsync("batchdiverge", OnDdl.Ignore);
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
}
