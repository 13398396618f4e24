using System.Text;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;

namespace Durable.VDiff.Tests;

/// <summary>The compare engine on two real servers: a source database on the commerce primary, a target on the customer primary.</summary>
[Trait("Category", "Integration")]
public sealed class CompareEngineTests
{
    private const int Rows = 300;

    /// <summary>Three tables whose keys exercise the orders the engine must get from the server, not from C# bytes.</summary>
    internal static readonly string[] Schema =
    [
        "CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, note VARCHAR(100) NULL, amount DECIMAL(10,2) NOT NULL, " +
        "created DATETIME(6) NOT NULL, data BLOB NULL, ts TIMESTAMP NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        // Case- and accent-insensitive text key: 'B' sorts after 'a' here but before it in bytes.
        "CREATE TABLE names (name VARCHAR(50) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, val INT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE order_lines (order_id INT NOT NULL, line VARCHAR(20) COLLATE utf8mb4_unicode_ci NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, line)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    ];

    internal static readonly string[] Data =
    [
        $"INSERT INTO orders SELECT seq, seq % 17, IF(seq % 5 = 0, NULL, CONCAT('note ', seq, ' é#')), seq * 1.25, '2024-01-02 03:04:05.123456' + INTERVAL seq MINUTE, IF(seq % 3 = 0, NULL, UNHEX(MD5(seq))), FROM_UNIXTIME(1700000000 + seq) FROM seq_1_to_{Rows}",
        $"INSERT INTO names SELECT CONCAT(ELT(1 + seq % 6, 'a', 'B', 'c', 'Ä', 'z', '\\t'), LPAD(seq, 4, '0')), IF(seq % 4 = 0, NULL, seq) FROM seq_1_to_{Rows}",
        $"INSERT INTO order_lines SELECT 1 + seq DIV 10, CONCAT(ELT(1 + seq % 4, 'x', 'Y', 'é', 'E'), seq), seq FROM seq_1_to_{Rows}",
    ];

    private static async Task<(Dictionary<string, TableCounts> Counts, Dictionary<string, List<DiffSample>> Samples)> DiffAllAsync(PairBed bed, VDiffOptions options)
    {
        await using var source = await PairBed.OpenAsync(PairBed.SourceUid);
        await using var target = await PairBed.OpenAsync(PairBed.TargetUid);
        await TableDiffer.PrepareSessionAsync(source, default);
        await TableDiffer.PrepareSessionAsync(target, default);
        var counts = new Dictionary<string, TableCounts>();
        var samples = new Dictionary<string, List<DiffSample>>();
        var differ = new TableDiffer(options);
        foreach (var table in new[] { "orders", "names", "order_lines" })
        {
            var plan = await TableDiffer.PlanAsync(source, bed.SourceDb, target, bed.TargetDb, table, null, null, default);
            counts[table] = new TableCounts();
            samples[table] = [];
            var result = await differ.RunSegmentAsync(source, target, plan, null, DateTimeOffset.MaxValue, o =>
            {
                counts[table].Add(o.Counts);
                samples[table].AddRange(o.Samples);
                return Task.CompletedTask;
            }, default);
            Assert.True(result.Done);
        }

        return (counts, samples);
    }

    private static async Task CorruptAsync(PairBed bed) => await bed.TargetAsync(Corruption);

    /// <summary>In each table: one updated, one deleted and one extra row.</summary>
    internal static readonly string[] Corruption =
    [
        "UPDATE orders SET note = 'changed' WHERE id = 77",
        "DELETE FROM orders WHERE id = 150",
        "INSERT INTO orders VALUES (100000, 1, 'extra', 1.00, '2024-01-01 00:00:00', NULL, NULL)",
        "UPDATE names SET val = -1 WHERE name = 'B0007'",
        "DELETE FROM names WHERE name = 'c0200'",
        "INSERT INTO names VALUES ('b0007x', 5)",
        "UPDATE order_lines SET qty = 0 WHERE order_id = 3 AND line = 'é22'",
        "DELETE FROM order_lines WHERE order_id = 21 AND line = 'x200'",
        "INSERT INTO order_lines VALUES (5, 'zzz', 1)",
    ];

    [Theory]
    [InlineData(false, 50)]
    [InlineData(true, 50)]
    [InlineData(false, 100000)]
    public async Task Corruption_reports_exactly_the_changed_rows(bool rowLevel, int chunkRows)
    {
        await using var bed = new PairBed("corrupt");
        await bed.CreateAsync();
        await bed.BothAsync(Schema);
        await bed.BothAsync(Data);

        var (clean, _) = await DiffAllAsync(bed, new VDiffOptions { RowLevel = rowLevel, ChunkRows = chunkRows });
        foreach (var (table, c) in clean)
        {
            Assert.False(c.HasMismatch, $"{table} differs before corruption");
            Assert.Equal(Rows, c.ProcessedRows);
            Assert.Equal(Rows, c.MatchingRows);
        }

        await CorruptAsync(bed);
        var (counts, samples) = await DiffAllAsync(bed, new VDiffOptions { RowLevel = rowLevel, ChunkRows = chunkRows });
        foreach (var (table, c) in counts)
        {
            Assert.Equal(1, c.MismatchedRows);
            Assert.Equal(1, c.ExtraRowsSource);
            Assert.Equal(1, c.ExtraRowsTarget);
            Assert.Equal(Rows - 2, c.MatchingRows);
            Assert.Equal(Rows + 1, c.ProcessedRows);
            Assert.InRange(c.ChunksDiffering, 1, 3);
        }

        static string Key(DiffSample s) => string.Join(",", s.Pk.Values);
        Assert.Equal(["Mismatched:77", "ExtraSource:150", "ExtraTarget:100000"], samples["orders"].OrderBy(s => s.Kind).Select(s => $"{s.Kind}:{Key(s)}"));
        Assert.Equal(["Mismatched:B0007", "ExtraSource:c0200", "ExtraTarget:b0007x"], samples["names"].OrderBy(s => s.Kind).Select(s => $"{s.Kind}:{Key(s)}"));
        Assert.Equal(["Mismatched:3,é22", "ExtraSource:21,x200", "ExtraTarget:5,zzz"], samples["order_lines"].OrderBy(s => s.Kind).Select(s => $"{s.Kind}:{Key(s)}"));
        var mismatch = samples["orders"].Single(s => s.Kind == DiffKind.Mismatched);
        Assert.Equal("changed", mismatch.Target!["note"]);
        Assert.Equal("note 77 é#", mismatch.Source!["note"]);
        Assert.False(mismatch.Source.ContainsKey("amount"));
    }

    /// <summary>
    /// The chunk checksum must see a single-row change in any column: every change below is alone in its chunk, so a
    /// checksum that missed it would leave that chunk unmerged and the row unreported. Covers NULL vs '' (CONCAT_WS skips
    /// NULLs: only the NULL markers tell them apart), NULL vs 0, values equal under the column's collation but not in
    /// bytes, one byte of a binary value, a microsecond, and a text column that is latin1 on the source but utf8mb4 on
    /// the target (equal text must hash equal, so the copy is clean before the changes). Both row hashes (CRC32|CRC32C,
    /// MD5) and both chunkings (integer key ranges, boundary walk over a text key) are run.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task Chunk_checksums_see_a_single_row_change_in_every_column(bool crc, bool textKey)
    {
        await using var bed = new PairBed("kinds");
        await bed.CreateAsync();
        string Table(string lCharset) =>
            $"CREATE TABLE kinds (id INT NOT NULL, tk VARCHAR(20) COLLATE utf8mb4_bin NOT NULL, i INT NOT NULL, n INT NULL, d DECIMAL(10,2) NOT NULL, f DOUBLE NULL, " +
            $"s VARCHAR(30) NULL, ci VARCHAR(30) COLLATE utf8mb4_general_ci NOT NULL, l VARCHAR(30) CHARACTER SET {lCharset} NULL, b VARBINARY(20) NULL, " +
            $"dt DATETIME(6) NOT NULL, ts TIMESTAMP NULL, e ENUM('x','y') NOT NULL, j TEXT NULL, PRIMARY KEY ({(textKey ? "tk" : "id")}), UNIQUE KEY ({(textKey ? "id" : "tk")})) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
        await bed.SourceAsync(Table("latin1"));
        await bed.TargetAsync(Table("utf8mb4"));
        const string data =
            "INSERT INTO kinds SELECT seq, LPAD(seq, 6, '0'), seq, IF(seq % 7 = 0, NULL, seq), seq / 4, IF(seq % 3 = 0, NULL, seq / 3), IF(seq % 10 = 0, NULL, IF(seq % 10 = 5, '', CONCAT('s', seq))), " +
            "CONCAT('abc', seq), IF(seq % 2 = 0, NULL, CONCAT('é', seq)), UNHEX(MD5(seq)), '2024-01-02 03:04:05.123456' + INTERVAL seq MINUTE, FROM_UNIXTIME(1700000000 + seq), " +
            "ELT(1 + seq % 2, 'x', 'y'), REPEAT('t', seq % 50) FROM seq_1_to_1000";
        await bed.BothAsync(data);
        // One change per 50-key chunk (ids 25, 75, ...; the text key is the zero-padded id, so the same rows either way).
        string[] changes =
        [
            "UPDATE kinds SET i = i + 1 WHERE id = 25",
            "UPDATE kinds SET n = 0 WHERE id = 70",             // NULL -> 0
            "UPDATE kinds SET s = '' WHERE id = 130",           // NULL -> ''
            "UPDATE kinds SET s = NULL WHERE id = 175",         // '' -> NULL
            "UPDATE kinds SET ci = 'ABC225' WHERE id = 225",    // equal under utf8mb4_general_ci, other bytes
            "UPDATE kinds SET l = 'e275' WHERE id = 275",       // é -> e (equal under most _ci collations)
            "UPDATE kinds SET b = UNHEX(CONCAT(LEFT(HEX(b), 39), IF(RIGHT(HEX(b), 1) = '0', '1', '0'))) WHERE id = 325", // last byte's low bit
            "UPDATE kinds SET dt = dt + INTERVAL 1 MICROSECOND WHERE id = 375",
            "UPDATE kinds SET ts = ts + INTERVAL 1 SECOND WHERE id = 425",
            "UPDATE kinds SET e = IF(e = 'x', 'y', 'x') WHERE id = 475",
            "UPDATE kinds SET j = CONCAT(j, ' ') WHERE id = 525",  // a trailing space (PAD SPACE collations ignore it)
            "UPDATE kinds SET d = d + 0.01 WHERE id = 575",
            "UPDATE kinds SET f = f * (1 + 1e-15) WHERE id = 625",
            "UPDATE kinds SET s = 's675#' WHERE id = 675",
        ];

        async Task<TableCounts> DiffAsync()
        {
            await using var source = await PairBed.OpenAsync(PairBed.SourceUid);
            await using var target = await PairBed.OpenAsync(PairBed.TargetUid);
            await TableDiffer.PrepareSessionAsync(source, default);
            await TableDiffer.PrepareSessionAsync(target, default);
            var plan = await TableDiffer.PlanAsync(source, bed.SourceDb, target, bed.TargetDb, "kinds", null, null, default);
            Assert.True(plan.UseCrc, "MariaDB 10.11 has CRC32C");
            Assert.Equal(!textKey, TableDiffer.IntegerKey(plan));
            plan.UseCrc = crc;
            var total = new TableCounts();
            var result = await new TableDiffer(new VDiffOptions { ChunkRows = 50 }).RunSegmentAsync(source, target, plan, null, DateTimeOffset.MaxValue, o =>
            {
                total.Add(o.Counts);
                return Task.CompletedTask;
            }, default);
            Assert.True(result.Done);
            return total;
        }

        var clean = await DiffAsync();
        Assert.False(clean.HasMismatch, "the latin1 source and its utf8mb4 copy must compare equal");
        Assert.Equal(1000, clean.MatchingRows);

        await bed.TargetAsync(changes);
        var counts = await DiffAsync();
        Assert.Equal(changes.Length, counts.MismatchedRows);
        Assert.Equal(changes.Length, counts.ChunksDiffering);
        Assert.Equal(0, counts.ExtraRowsSource + counts.ExtraRowsTarget);
        Assert.Equal(1000 - changes.Length, counts.MatchingRows);
    }

    /// <summary>
    /// Integer keys are chunked by key range: gaps of 10^15 and keys at both ends of BIGINT and BIGINT UNSIGNED must be
    /// crossed in a bounded number of chunks (the width follows the density), and a target row inside a gap or past the
    /// source's last key is still found.
    /// </summary>
    [Theory]
    [InlineData("BIGINT UNSIGNED", "0", "1000000000000000")]
    [InlineData("BIGINT", "-9223372036854775808", "-1000000000000000")]
    public async Task Integer_keys_with_gaps_and_extremes_are_chunked_by_key_range(string type, string low, string mid)
    {
        await using var bed = new PairBed("gaps");
        await bed.CreateAsync();
        var top = type.EndsWith("UNSIGNED", StringComparison.Ordinal) ? "18446744073709551515" : "9223372036854775707";
        await bed.BothAsync(
            $"CREATE TABLE gaps (id {type} NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB",
            // 100 rows at the low end (or the lowest signed values), 100 around mid, 100 ending at the type's maximum.
            $"INSERT INTO gaps SELECT {low} + CAST(seq AS SIGNED) - 1, seq FROM seq_1_to_100",
            $"INSERT INTO gaps SELECT {mid} + CAST(seq AS SIGNED), seq FROM seq_1_to_100",
            $"INSERT INTO gaps SELECT {top} + CAST(seq AS SIGNED), seq FROM seq_1_to_100");
        var rows = 0L;
        await using (var c = await PairBed.OpenAsync(PairBed.SourceUid))
        {
            rows = long.Parse((await c.QueryScalarAsync($"SELECT COUNT(*) FROM `{bed.SourceDb}`.gaps"))!, System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.Equal(300, rows);
        await bed.TargetAsync(
            "INSERT INTO gaps VALUES (5000000, 1)",                   // inside a gap of the source's keys
            $"DELETE FROM gaps WHERE id = {mid} + 50");
        await using var source = await PairBed.OpenAsync(PairBed.SourceUid);
        await using var target = await PairBed.OpenAsync(PairBed.TargetUid);
        await TableDiffer.PrepareSessionAsync(source, default);
        await TableDiffer.PrepareSessionAsync(target, default);
        var plan = await TableDiffer.PlanAsync(source, bed.SourceDb, target, bed.TargetDb, "gaps", null, null, default);
        Assert.True(TableDiffer.IntegerKey(plan));
        foreach (var rowLevel in new[] { false, true })
        {
            var total = new TableCounts();
            var chunks = 0;
            var result = await new TableDiffer(new VDiffOptions { ChunkRows = 10, RowLevel = rowLevel }).RunSegmentAsync(source, target, plan, null, DateTimeOffset.MaxValue, o =>
            {
                total.Add(o.Counts);
                chunks++;
                return Task.CompletedTask;
            }, default);
            Assert.True(result.Done);
            Assert.Equal(301, total.ProcessedRows);
            Assert.Equal(299, total.MatchingRows);
            Assert.Equal(1, total.ExtraRowsSource);
            Assert.Equal(1, total.ExtraRowsTarget);
            // Chunks of ~10 rows where the keys are dense, plus the ones that widen (x4 a step) across each gap of ~10^15
            // to 10^19 keys; a chunk that lands on a dense run after a gap may hold all of that run's 100 rows.
            Assert.InRange(chunks, 10, 120);
        }
    }

    [Fact]
    public async Task Equal_tables_are_clean_and_pt_table_sync_prints_nothing()
    {
        await using var bed = new PairBed("equal");
        await bed.CreateAsync();
        await bed.BothAsync(Schema);
        await bed.BothAsync(Data);
        var (counts, _) = await DiffAllAsync(bed, new VDiffOptions { ChunkRows = 64 });
        Assert.All(counts.Values, c => Assert.False(c.HasMismatch));

        foreach (var table in new[] { "orders", "names", "order_lines" })
        {
            var printed = await PtTableSyncPrintAsync(bed, table);
            Assert.Equal(string.Empty, printed.Trim());
        }

        // The same tool does see a difference once there is one, so its silence above means something.
        await bed.TargetAsync("UPDATE orders SET amount = 0 WHERE id = 5");
        Assert.Contains("UPDATE", await PtTableSyncPrintAsync(bed, "orders"));
    }

    [Fact]
    public async Task Differences_the_collation_ignores_are_still_reported_as_mismatches()
    {
        // 'a' and 'A' are the same key under utf8mb4_general_ci (same row), but the stored bytes differ: a faithful copy
        // would have kept them, so the row counts as mismatched, not as one extra row on each side.
        await using var bed = new PairBed("collation");
        await bed.CreateAsync();
        await bed.BothAsync(Schema[1], "INSERT INTO names VALUES ('abc', 1), ('abd ', 2), ('ab\\t', 3)");
        await bed.TargetAsync("UPDATE names SET name = 'ABC' WHERE name = 'abc'", "UPDATE names SET name = 'abd' WHERE val = 2");
        await using var source = await PairBed.OpenAsync(PairBed.SourceUid);
        await using var target = await PairBed.OpenAsync(PairBed.TargetUid);
        var plan = await TableDiffer.PlanAsync(source, bed.SourceDb, target, bed.TargetDb, "names", null, null, default);
        var total = new TableCounts();
        await new TableDiffer(new VDiffOptions { RowLevel = true }).RunSegmentAsync(source, target, plan, null, DateTimeOffset.MaxValue, o =>
        {
            total.Add(o.Counts);
            return Task.CompletedTask;
        }, default);
        Assert.Equal(3, total.ProcessedRows);
        Assert.Equal(0, total.ExtraRowsSource + total.ExtraRowsTarget);
        Assert.Equal(2, total.MismatchedRows);
    }

    [Fact]
    public async Task Sharded_target_compares_only_the_source_rows_its_key_range_owns()
    {
        await using var bed = new PairBed("sharded");
        await bed.CreateAsync();
        await bed.SourceAsync(Schema[0], Data[0]);
        await bed.TargetAsync(Schema[0]);
        var filter = new KeyRangeFilter("hash", ["id"], "-80");
        await using var source = await PairBed.OpenAsync(PairBed.SourceUid);
        await using var target = await PairBed.OpenAsync(PairBed.TargetUid);
        await TableDiffer.PrepareSessionAsync(source, default);
        await TableDiffer.PrepareSessionAsync(target, default);
        var schema = await TableSchema.LoadAsync(source, bed.SourceDb, "orders");
        var router = new RowRouter(filter, schema);

        // Copy exactly the -80 rows to the target, as a stream to shard -80 would.
        var owned = new List<long>();
        await using (var r = await source.QueryAsync($"SELECT id FROM `{bed.SourceDb}`.orders ORDER BY id"))
        {
            var row = new MySqlValue[schema.Columns.Count];
            while (await r.ReadAsync())
            {
                row[0] = r.GetValue(0).ToOwned();
                if (router.InRange(row))
                {
                    owned.Add(r.GetInt64(0));
                }
            }
        }

        Assert.InRange(owned.Count, Rows / 4, Rows * 3 / 4);
        await CopyRowsAsync(source, target, bed, owned);
        foreach (var rowLevel in new[] { false, true })
        {
            var plan = await TableDiffer.PlanAsync(source, bed.SourceDb, target, bed.TargetDb, "orders", filter, null, default);
            var total = new TableCounts();
            await new TableDiffer(new VDiffOptions { ChunkRows = 40, RowLevel = rowLevel }).RunSegmentAsync(source, target, plan, null, DateTimeOffset.MaxValue, o =>
            {
                total.Add(o.Counts);
                return Task.CompletedTask;
            }, default);
            Assert.False(total.HasMismatch);
            Assert.Equal(owned.Count, total.MatchingRows);
        }

        // A row of the other shard on the target is extra there; a missing owned row is extra on the source.
        var foreign = Enumerable.Range(1, Rows).First(i => !owned.Contains(i));
        await CopyRowsAsync(source, target, bed, [foreign]);
        await target.ExecuteAsync($"DELETE FROM `{bed.TargetDb}`.orders WHERE id = {owned[3]}");
        var plan2 = await TableDiffer.PlanAsync(source, bed.SourceDb, target, bed.TargetDb, "orders", filter, null, default);
        var after = new TableCounts();
        await new TableDiffer(new VDiffOptions { ChunkRows = 40 }).RunSegmentAsync(source, target, plan2, null, DateTimeOffset.MaxValue, o =>
        {
            after.Add(o.Counts);
            return Task.CompletedTask;
        }, default);
        Assert.Equal(1, after.ExtraRowsTarget);
        Assert.Equal(1, after.ExtraRowsSource);
        Assert.Equal(0, after.MismatchedRows);
    }

    /// <summary>Copies rows of orders from the source to the target server by value (they are different servers).</summary>
    private static async Task CopyRowsAsync(MySqlConnection source, MySqlConnection target, PairBed bed, IReadOnlyList<long> ids)
    {
        var copy = new StringBuilder();
        await using (var r = await source.QueryAsync($"SELECT CONCAT('(', id, ',', customer_id, ',', IFNULL(QUOTE(note),'NULL'), ',', amount, ',', QUOTE(created), ',', IFNULL(CONCAT('0x', HEX(data)),'NULL'), ',', IFNULL(QUOTE(ts),'NULL'), ')') FROM `{bed.SourceDb}`.orders WHERE id IN ({string.Join(",", ids)})"))
        {
            while (await r.ReadAsync())
            {
                copy.Append(copy.Length > 0 ? "," : "").Append(r.GetString(0));
            }
        }

        await target.ExecuteAsync($"INSERT INTO `{bed.TargetDb}`.orders VALUES {copy}");
    }

    /// <summary>pt-table-sync --print between the two tables; credentials go through private defaults files.</summary>
    internal static async Task<string> PtTableSyncPrintAsync(PairBed bed, string table)
    {
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("dba");
        var cnf = Path.Combine(Path.GetTempPath(), $"vdiff-pt-{Guid.NewGuid():N}.cnf");
        File.WriteAllText(cnf, string.Empty);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(cnf, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(cnf, $"[client]\nuser={user}\npassword={password}\n");
        try
        {
            var s = cluster.Tablet(PairBed.SourceUid);
            var t = cluster.Tablet(PairBed.TargetUid);
            var result = await ProcessRunner.RunAsync("pt-table-sync",
                ["--print", "--charset=utf8mb4",
                 $"h={s.Host},P={s.Port},F={cnf},D={bed.SourceDb},t={table}",
                 $"h={t.Host},P={t.Port},F={cnf},D={bed.TargetDb},t={table}"]);
            // Exit 0: no differences; 2: differences found (and printed); anything else is a failure of the tool.
            Assert.True(result.ExitCode is 0 or 2, $"pt-table-sync failed ({result.ExitCode}): {result.StdErr}");
            return result.StdOut;
        }
        finally
        {
            File.Delete(cnf);
        }
    }
}

/// <summary>The shared fixture data of the engine tests, for the other test classes.</summary>
internal static class CompareEngineTestsData
{
    public static string[] Schema => CompareEngineTests.Schema;

    public static string[] Data => CompareEngineTests.Data;

    public static string[] Corruption => CompareEngineTests.Corruption;
}
