using Durable.Core.Positions;
using Durable.MySql;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Replication.Tests;

[Trait("Category", "Integration")]
public sealed class SidecarAndFencingTests
{
    [Fact]
    public async Task Sidecar_is_created_and_migrated_idempotently()
    {
        await using var bed = new TestBed("sidecar");
        await using var c = await MySqlConnection.OpenAsync(bed.Connector.Options(await bed.Resolver.PrimaryAsync("customer", "0", default)));
        Assert.Equal(Sidecar.LatestVersion, await bed.Engine.Sidecar.EnsureAsync(c));
        Assert.Equal(Sidecar.LatestVersion, await bed.Engine.Sidecar.EnsureAsync(c));
        Assert.Equal("3", await c.QueryScalarAsync($"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{bed.SidecarName}' AND TABLE_NAME IN ('vreplication','copy_state','vreplication_log')"));
        Assert.Equal(Sidecar.LatestVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), await c.QueryScalarAsync($"SELECT version FROM `{bed.SidecarName}`.schema_version WHERE name = 'sidecar'"));
    }

    [Fact]
    public async Task Streams_are_created_once_and_move_only_as_the_state_machine_allows()
    {
        await using var bed = new TestBed("store");
        await using var c = await MySqlConnection.OpenAsync(bed.Connector.Options(await bed.Resolver.PrimaryAsync("customer", "0", default)));
        await bed.Engine.Sidecar.EnsureAsync(c);
        var spec = bed.Spec("wf1", "customer", "0", new TableRule("a"), new TableRule("b"));
        var id = await bed.Engine.Store.CreateAsync(c, spec);
        Assert.Equal(id, await bed.Engine.Store.CreateAsync(c, spec));
        var stream = await bed.Engine.Store.GetRequiredAsync(c, id);
        Assert.Equal(StreamState.Init, stream.State);
        Assert.Null(stream.Position);
        Assert.Equal(["a", "b"], (await bed.Engine.Store.GetCopyStateAsync(c, id)).Select(s => s.Table));

        Assert.Equal(StreamState.Copying, (await bed.Engine.Store.StartAsync(c, id)).State);
        await bed.Engine.Store.SetStateAsync(c, id, StreamState.Stopped, "operator stop");
        var e = await Assert.ThrowsAsync<InvalidStreamStateException>(() => bed.Engine.Store.SetStateAsync(c, id, StreamState.Init, "back"));
        Assert.Contains("cannot go from Stopped to Init", e.Message);
        await bed.Engine.Store.SetStateAsync(c, id, StreamState.Frozen, "switched");
        await Assert.ThrowsAsync<InvalidStreamStateException>(() => bed.Engine.Store.TakeOwnershipAsync(c, id, "x"));
        Assert.Equal("4", await c.QueryScalarAsync($"SELECT COUNT(*) FROM `{bed.SidecarName}`.vreplication_log WHERE vrepl_id = {id}"));
    }

    [Fact]
    public async Task An_owner_whose_epoch_was_bumped_cannot_commit_rows()
    {
        await using var bed = new TestBed("fence");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))");
        var start = GtidPosition.Parse(await TestBed.ScalarAsync(100, "SELECT @@global.gtid_binlog_pos"), GtidFlavor.MariaDb);
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("t")) with { Position = start });
        await bed.Engine.StartStreamAsync("customer", "0", id);
        var tablet = await bed.Resolver.PrimaryAsync("customer", "0", default);
        await using var oldConn = await bed.Connector.OpenAsync(tablet);
        await using var newConn = await bed.Connector.OpenAsync(tablet);
        var oldOwner = new StreamApplier(oldConn, bed.Engine.Store, await bed.Engine.Store.TakeOwnershipAsync(oldConn, id, "old"));
        var newOwner = new StreamApplier(newConn, bed.Engine.Store, await bed.Engine.Store.TakeOwnershipAsync(newConn, id, "new"));

        await Assert.ThrowsAsync<FencedOutException>(() => oldOwner.ExecuteInTransactionAsync(System.Text.Encoding.UTF8.GetBytes($"INSERT INTO `{bed.TargetDb}`.t VALUES (1, 'old')"), 1, default));
        Assert.False(oldOwner.InTransaction);
        var next = start.Add(Gtid.MariaDb(0, 100, 999_999_999));
        await Assert.ThrowsAsync<FencedOutException>(() => oldOwner.CommitAsync(next, 0));
        Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.t"));

        await newOwner.ExecuteInTransactionAsync(System.Text.Encoding.UTF8.GetBytes($"INSERT INTO `{bed.TargetDb}`.t VALUES (1, 'new')"), 1, default);
        await newOwner.CommitAsync(next, 0);
        var row = await bed.Engine.Store.GetRequiredAsync(newConn, id);
        Assert.Equal(next, row.Position);
        Assert.Equal("new", await TestBed.ScalarAsync(200, $"SELECT v FROM `{bed.TargetDb}`.t WHERE id = 1"));

        // A stale position is fenced too: an owner that believes the stream is elsewhere must not commit.
        var stale = new StreamApplier(newConn, bed.Engine.Store, row with { Position = start });
        await Assert.ThrowsAsync<FencedOutException>(() => stale.CommitAsync(next.Add(Gtid.MariaDb(0, 100, 1_000_000_000)), 0));
    }

    [Fact]
    public async Task Throttler_reads_target_replica_lag_and_source_history_list_length()
    {
        await using var bed = new TestBed("throttle");
        var stream = StreamModelTests.Record() with { TargetKeyspace = "customer", TargetShard = "0" };
        var source = await bed.Resolver.PrimaryAsync("commerce", "0", default);
        var relaxed = new ServerThrottler(bed.Connector, new ThrottleOptions { MaxTargetReplicaLag = TimeSpan.FromHours(1), MaxSourceHistoryListLength = long.MaxValue });
        Assert.Null(await relaxed.CheckAsync(stream, source, default));
        // Limits below any possible reading make each check answer, which proves it read the servers.
        var lag = new ServerThrottler(bed.Connector, new ThrottleOptions { MaxTargetReplicaLag = TimeSpan.FromSeconds(-1), MaxSourceHistoryListLength = null });
        Assert.Contains("target replica zone1-0000000201 lags", await lag.CheckAsync(stream, source, default));
        var history = new ServerThrottler(bed.Connector, new ThrottleOptions { MaxTargetReplicaLag = null, MaxSourceHistoryListLength = -1 });
        Assert.Contains("source zone1-0000000100 InnoDB history list length", await history.CheckAsync(stream, source, default));
    }

    [Fact]
    public async Task Refusals_name_every_problem()
    {
        await using var bed = new TestBed("refuse");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE nopk (a INT)",
            "CREATE TABLE versioned (id INT PRIMARY KEY) WITH SYSTEM VERSIONING",
            "CREATE TABLE parent (id INT PRIMARY KEY)",
            "CREATE TABLE child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES parent (id))",
            "CREATE TABLE floaty (f DOUBLE PRIMARY KEY)",
            "CREATE TABLE full_target (id INT PRIMARY KEY)");
        await bed.CreateDatabaseAsync(200, bed.TargetDb);
        await bed.ExecAsync(200, bed.TargetDb, "CREATE TABLE full_target (id INT PRIMARY KEY)", "INSERT INTO full_target VALUES (1)");
        var spec = bed.Spec("wf", "customer", "0", new TableRule("nopk"), new TableRule("versioned"), new TableRule("child"), new TableRule("floaty"), new TableRule("full_target"), new TableRule("missing"))
            with { Options = new StreamOptions { SourceTimeZone = "Mars/Olympus_Mons" } };
        var e = await Assert.ThrowsAsync<StreamRefusedException>(() => bed.Engine.CreateStreamAsync(spec));
        var all = string.Join("\n", e.Reasons);
        Assert.Contains($"{bed.SourceDb}.nopk has no primary key", all);
        Assert.Contains($"{bed.SourceDb}.versioned is system-versioned", all);
        Assert.Contains("and parent is not moved", all);
        Assert.Contains("floaty.f is double", all);
        Assert.Contains($"{bed.TargetDb}.full_target", all);
        Assert.Contains("already holds rows", all);
        Assert.Contains($"{bed.SourceDb}.missing does not exist", all);
        Assert.Contains("Source time zone 'Mars/Olympus_Mons' is unknown to the target tablet", all);
        Assert.Equal(7, e.Reasons.Count);
        // Nothing was created.
        Assert.Equal("0", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.SidecarName}`.vreplication"));
        Assert.Equal("full_target", await TestBed.ScalarAsync(200, $"SELECT GROUP_CONCAT(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{bed.TargetDb}'"));
    }
}

[Trait("Category", "Integration")]
public sealed class CopyTests
{
    private static readonly string[] Words =
    [
        "apfel", "Ärger", "Zebra", "émile", "Öl", "über", "çava", "Ñandú", "œuvre", "ångström", "Straße", "naïve", "Łódź", "ĳssel", "Ωmega", "中文", "日本", "😀smile", "Zürich", "Kraków",
    ];

    [Fact]
    public async Task A_table_with_a_composite_accented_case_insensitive_key_copies_exactly_in_many_chunks()
    {
        await using var bed = new TestBed("copy");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE words (name VARCHAR(40) COLLATE utf8mb4_unicode_ci NOT NULL, n INT NOT NULL, note VARCHAR(100), twice INT AS (n * 2) VIRTUAL, secret INT INVISIBLE DEFAULT 42, PRIMARY KEY (name, n), KEY by_note (note)) DEFAULT CHARSET=utf8mb4");
        var values = Words.SelectMany(w => Enumerable.Range(1, 5).Select(n => $"('{w}', {n}, 'note {w} {n}')"));
        await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO words (name, n, note) VALUES " + string.Join(",", values), "UPDATE words SET secret = n + 100 WHERE n > 3");

        var spec = bed.Spec("wf", "customer", "0", new TableRule("words")) with { Options = new StreamOptions { DeferSecondaryKeys = true } };
        var id = await bed.Engine.CreateStreamAsync(spec);
        var chunks = await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 7 });
        Assert.True(chunks >= 100 / 7, $"expected many chunks, got {chunks}");

        const string cols = "name, n, note, twice, secret";
        Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "words", cols, "name, n"), await TestBed.DumpAsync(200, bed.TargetDb, "words", cols, "name, n"));
        var stream = (await bed.Engine.ListStreamsAsync("customer", "0")).Single();
        Assert.Equal(StreamState.Running, stream.State);
        Assert.Equal(100, stream.RowsCopied);
        // The deferred secondary key is back, exactly as defined.
        Assert.Equal("1", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{bed.TargetDb}' AND TABLE_NAME = 'words' AND INDEX_NAME = 'by_note'"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Source_time_zone_converts_datetime_values_to_utc_in_the_copy_and_in_replication_alike(bool loadData)
    {
        await using var bed = new TestBed("tz");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE events (id INT PRIMARY KEY, at DATETIME(3) NULL, ts TIMESTAMP NULL, d DATE NULL, note VARCHAR(20))",
            "INSERT INTO events VALUES (1, '2024-03-01 01:30:00.125', '2024-03-01 01:30:00', '2024-03-01', 'copied'), (2, NULL, NULL, NULL, 'nulls'), (3, '2024-12-31 23:59:59.999', '2024-12-31 23:59:59', '2024-12-31', 'copied')");
        var spec = bed.Spec("wf", "customer", "0", new TableRule("events")) with { Options = new StreamOptions { SourceTimeZone = "+02:00" } };
        var id = await bed.Engine.CreateStreamAsync(spec);
        await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 2, LoadData = loadData });
        await bed.ReplicateAsync("customer", "0", id, () =>
            bed.ExecAsync(100, bed.SourceDb, "INSERT INTO events VALUES (4, '2024-06-15 12:00:00.500', '2024-06-15 12:00:00', '2024-06-15', 'replicated')"));

        // DATETIME is moved from +02:00 to UTC; TIMESTAMP (already UTC inside) and DATE are not touched.
        const string cols = "id, at, ts, d, note";
        var expected = await TestBed.DumpAsync(100, bed.SourceDb, "events", "id, DATE_SUB(at, INTERVAL 2 HOUR), ts, d, note", "id");
        Assert.Equal(expected, await TestBed.DumpAsync(200, bed.TargetDb, "events", cols, "id"));
        Assert.Equal("2024-02-29 23:30:00.125", await TestBed.ScalarAsync(200, $"SELECT at FROM `{bed.TargetDb}`.events WHERE id = 1"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Float_values_copy_and_replicate_exactly_not_as_the_six_digits_MariaDB_prints(bool loadData)
    {
        // MariaDB prints FLOAT with six significant digits: 16777216 as 16777200, 123456792 as 123457000. A copy that
        // wrote that text back would change the data while a text comparison of both sides still saw them equal.
        await using var bed = new TestBed("floats");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE measures (id INT PRIMARY KEY, f FLOAT NULL, fixed FLOAT(10,3) NULL, d DOUBLE NULL)",
            "INSERT INTO measures VALUES (1, 16777216, 1234.567, 0.1e0 + 0.2e0), (2, 123456792, -0.001, 1.2345678901234567e0), (3, 1.2345678, 99999.999, NULL), " +
            "(4, 0.1, NULL, 2.2250738585072014e-308), (5, -3.40282e38, 0, -1e308), (6, 1.17549435e-38, 1.5, 0), (7, NULL, NULL, NULL)");
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("measures")));
        await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 3, LoadData = loadData });
        await bed.ReplicateAsync("customer", "0", id, () =>
            bed.ExecAsync(100, bed.SourceDb, "INSERT INTO measures VALUES (8, 16777217, 0.125, 3.141592653589793), (9, 987654321, 42.042, 1e-300)"));

        // Compared as exact values: a float widened to DOUBLE prints in full, and DOUBLE text reads back as itself.
        const string exact = "id, CAST(CAST(f AS DOUBLE) AS CHAR), CAST(CAST(fixed AS DOUBLE) AS CHAR), CAST(d AS CHAR)";
        Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "measures", exact, "id"), await TestBed.DumpAsync(200, bed.TargetDb, "measures", exact, "id"));
        Assert.Equal("1", await TestBed.ScalarAsync(200, $"SELECT f = 16777216 FROM `{bed.TargetDb}`.measures WHERE id = 1"));
    }

    [Fact]
    public async Task A_loaded_value_the_target_column_cannot_hold_fails_the_chunk_and_nothing_of_it_commits()
    {
        // LOAD DATA LOCAL turns what an INSERT would refuse into warnings (the row cut or skipped): the copy must
        // refuse the chunk instead of writing rows that differ from the source.
        await using var bed = new TestBed("narrow");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(60) NOT NULL)",
            "INSERT INTO items SELECT seq, IF(seq = 150, 'a value far too long for the target', 'ok') FROM seq_1_to_300");
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("items")));
        await bed.ExecAsync(200, bed.TargetDb, "ALTER TABLE items MODIFY v VARCHAR(5) NOT NULL");

        var e = await Assert.ThrowsAsync<TerminalReplicationException>(() => bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 1000, CommitRows = 100 }));
        Assert.Contains("warnings", e.Message, StringComparison.Ordinal);
        Assert.Contains("'v'", e.Message, StringComparison.Ordinal);
        // The first batch (rows 1-100) committed; the batch with row 150 rolled back whole.
        Assert.Equal("100", await TestBed.ScalarAsync(200, $"SELECT COUNT(*) FROM `{bed.TargetDb}`.items"));
        Assert.Equal("100", await TestBed.ScalarAsync(200, $"SELECT rows_copied FROM `{bed.SidecarName}`.copy_state WHERE vrepl_id = {id}"));
    }

    [Theory]
    [InlineData("UNIQUE KEY")] // unique-key swaps: the applier deletes every touched row before re-inserting any
    [InlineData("KEY")] // the primary key is the only unique key: rows that stay are upserted in place
    public async Task Copy_and_replicate_under_concurrent_load_end_equal_row_by_row(string ukIndex)
    {
        await using var bed = new TestBed("load");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb, $"CREATE TABLE items (id INT PRIMARY KEY, uk INT NULL, v VARCHAR(60), n BIGINT, {ukIndex} uk (uk))");
        await bed.ExecAsync(100, bed.SourceDb, "INSERT INTO items SELECT seq, seq, CONCAT('v', seq), seq * 10 FROM seq_1_to_3000");

        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("items")));
        using var stopLoad = new CancellationTokenSource();
        var load = Workload.RunAsync(bed.SourceDb, "items", 6000, stopLoad.Token);

        await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 250 });
        await using (var supervisor = new StreamerSupervisor(bed.Engine, bed.Etcd, new StreamerOptions { OwnershipRoot = bed.EtcdRoot, ReplicaName = "test-streamer" }, NullLogger.Instance))
        {
            using var stopStreamer = new CancellationTokenSource();
            var streamer = supervisor.RunAsync(stopStreamer.Token);
            await Task.Delay(3000);
            await stopLoad.CancelAsync();
            var stats = await load;
            Assert.True(stats.Total > 100, $"the load ran only {stats}");
            await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
            await stopStreamer.CancelAsync();
            await streamer;
        }

        Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "items"), await TestBed.DumpAsync(200, bed.TargetDb, "items"));
    }
}
