using Durable.Core.Vindexes;
using Durable.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Replication.Tests;

/// <summary>The all-types table of the protocol tests (tests/Durable.Testing/AllTypesTable), copied and replicated.</summary>
[Trait("Category", "Integration")]
public sealed class AllTypesAndShardingTests
{
    /// <param name="loadData">true: the copy loads rows with LOAD DATA LOCAL INFILE (the default on MariaDB);
    /// false: with multi-row INSERTs (what a target with local_infile off gets).</param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_column_type_copies_and_replicates_exactly(bool loadData)
    {
        await using var bed = new TestBed("types");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb, "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'", AllTypesTable.CreateTable);
        await using (var c = await TestBed.OpenDbaAsync(100, bed.SourceDb))
        {
            await c.ExecuteAsync("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");
            // Rows 1-3 are copied; 4 and 5 arrive through the binlog.
            await c.ExecuteAsync("INSERT INTO all_types (" + AllTypesTable.Columns + ") VALUES " + string.Join(",", AllTypesTable.Rows[..3]));
            await c.ExecuteAsync("INSERT INTO all_types (id, lb) VALUES (6, REPEAT(x'5A01', 1024 * 1024))");
        }

        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("all_types")));
        // Chunks of 2 rows, committed every row: several snapshots, and several commits in each.
        await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 2, CommitRows = 1, LoadData = loadData });
        await using (var supervisor = new StreamerSupervisor(bed.Engine, bed.Etcd, new StreamerOptions { OwnershipRoot = bed.EtcdRoot }, NullLogger.Instance))
        {
            using var stop = new CancellationTokenSource();
            var run = supervisor.RunAsync(stop.Token);
            await using (var c = await TestBed.OpenDbaAsync(100, bed.SourceDb))
            {
                await c.ExecuteAsync("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");
                await c.ExecuteAsync("INSERT INTO all_types (" + AllTypesTable.Columns + ") VALUES " + string.Join(",", AllTypesTable.Rows[3..]));
                await c.ExecuteAsync("UPDATE all_types SET ti = ti - 1, vc = CONCAT('u', IFNULL(vc, '')), dtm6 = '2001-02-03 04:05:06.070809', u = '11111111-2222-4333-8444-555555555555', hidden_col = id * 3 WHERE id IN (3, 4, 5)");
                await c.ExecuteAsync("UPDATE all_types SET id = 7 WHERE id = 6");
                await c.ExecuteAsync("DELETE FROM all_types WHERE id = 1");
            }

            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            await stop.CancelAsync();
            await run;
        }

        var cols = AllTypesTable.Columns + ", hidden_col";
        var source = await TestBed.DumpAsync(100, bed.SourceDb, "all_types", cols, "id");
        var target = await TestBed.DumpAsync(200, bed.TargetDb, "all_types", cols, "id");
        Assert.Equal(5, source.Count);
        Assert.Equal(source, target);
    }

    [Fact]
    public async Task Unsharded_to_sharded_puts_every_row_on_the_shard_its_vindex_names_and_only_there()
    {
        await using var bed = new TestBed("shard");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE customer (customer_id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(100) NOT NULL, n INT NOT NULL DEFAULT 0)",
            "INSERT INTO customer (customer_id, email) SELECT seq, CONCAT('c', seq, '@example.com') FROM seq_1_to_600");
        var ids = new List<(string Shard, long Id)>();
        foreach (var shard in new[] { "-80", "80-" })
        {
            var spec = bed.Spec("wf", "customer_sharded", shard, new TableRule("customer", new KeyRangeFilter("hash", ["customer_id"], shard)));
            ids.Add((shard, await bed.Engine.CreateStreamAsync(spec)));
        }

        foreach (var (shard, id) in ids)
        {
            await bed.CopyAllAsync("customer_sharded", shard, id, new CopyBudget { MaxRows = 100 });
        }

        await using (var supervisor = new StreamerSupervisor(bed.Engine, bed.Etcd, new StreamerOptions { OwnershipRoot = bed.EtcdRoot }, NullLogger.Instance))
        {
            using var stop = new CancellationTokenSource();
            var run = supervisor.RunAsync(stop.Token);
            // Changes, including primary key changes that move rows from one shard to the other.
            await bed.ExecAsync(100, bed.SourceDb,
                "INSERT INTO customer (customer_id, email) SELECT seq, CONCAT('new', seq) FROM seq_601_to_700",
                "UPDATE customer SET n = n + 1 WHERE customer_id % 3 = 0",
                "UPDATE customer SET customer_id = customer_id + 10000 WHERE customer_id % 7 = 0",
                "DELETE FROM customer WHERE customer_id % 11 = 0");
            foreach (var (shard, id) in ids)
            {
                await bed.WaitCaughtUpAsync("customer_sharded", shard, id, TimeSpan.FromSeconds(60));
            }

            await stop.CancelAsync();
            await run;
        }

        var source = await TestBed.DumpAsync(100, bed.SourceDb, "customer", "customer_id, email, n", "customer_id");
        var low = await TestBed.DumpAsync(300, bed.TargetDb, "customer", "customer_id, email, n", "customer_id");
        var high = await TestBed.DumpAsync(400, bed.TargetDb, "customer", "customer_id, email, n", "customer_id");
        Assert.NotEmpty(low);
        Assert.NotEmpty(high);
        static bool IsLow(string row) => HashVindex.Hash(ulong.Parse(System.Text.Encoding.ASCII.GetString(Convert.FromHexString(row.Split('|')[0])), System.Globalization.CultureInfo.InvariantCulture))[0] < 0x80;
        Assert.All(low, r => Assert.True(IsLow(r), $"row {r} is on -80 but hashes to 80-"));
        Assert.All(high, r => Assert.False(IsLow(r), $"row {r} is on 80- but hashes to -80"));
        Assert.Equal(source, low.Concat(high).OrderBy(r => long.Parse(System.Text.Encoding.ASCII.GetString(Convert.FromHexString(r.Split('|')[0])), System.Globalization.CultureInfo.InvariantCulture)).ToList());
    }
}
