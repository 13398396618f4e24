using System.Text;
using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;

namespace Durable.VDiff.Tests;

public sealed class UnitTests
{
    [Theory]
    [InlineData("1", "2", -1)]
    [InlineData("10", "9", 1)]
    [InlineData("-10", "9", -1)]
    [InlineData("-10", "-9", -1)]
    [InlineData("0", "-0", 0)]
    [InlineData("1.50", "1.5", 0)]
    [InlineData("1.05", "1.5", -1)]
    [InlineData("007", "7", 0)]
    [InlineData("18446744073709551615", "18446744073709551614", 1)]
    [InlineData("123456789012345678901234567890123456789", "123456789012345678901234567890123456788.9", 1)]
    public void Number_keys_compare_as_numbers_of_any_precision(string a, string b, int expected)
    {
        Assert.Equal(expected, Math.Sign(DiffPlan.CompareNumberText(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b))));
        Assert.Equal(-expected, Math.Sign(DiffPlan.CompareNumberText(Encoding.ASCII.GetBytes(b), Encoding.ASCII.GetBytes(a))));
    }

    [Theory]
    [InlineData("utf8mb4_general_ci", true)]
    [InlineData("utf8mb4_bin", true)]
    [InlineData("utf8mb4_nopad_bin", false)]
    [InlineData("utf8mb4_0900_ai_ci", false)]
    [InlineData(null, false)]
    public void Pad_space_collations_are_recognised(string? collation, bool padSpace) =>
        Assert.Equal(padSpace, DiffPlan.IsPadSpace(collation));

    private static ColumnInfo Col(string name, string dataType, string columnType, string? charset = null, string? collation = null) =>
        new(name, dataType, columnType, charset, collation, false, false);

    private static TableSchema Schema(string db, params ColumnInfo[] columns) => new(db, "t", columns, [columns[0].Name]);

    [Fact]
    public void Key_order_follows_the_column_type()
    {
        Assert.Equal(KeyOrder.Number, DiffPlan.OrderOf(Col("a", "bigint", "bigint(20) unsigned")));
        Assert.Equal(KeyOrder.Weight, DiffPlan.OrderOf(Col("a", "varchar", "varchar(10)", "utf8mb4", "utf8mb4_general_ci")));
        Assert.Equal(KeyOrder.Bytes, DiffPlan.OrderOf(Col("a", "varbinary", "varbinary(10)")));
        Assert.Equal(KeyOrder.Temporal, DiffPlan.OrderOf(Col("a", "datetime", "datetime(6)")));
        Assert.Equal(KeyOrder.MemberIndex, DiffPlan.OrderOf(Col("a", "enum", "enum('b','a')", "utf8mb4", "utf8mb4_general_ci")));
        Assert.Equal(KeyOrder.Float, DiffPlan.OrderOf(Col("a", "double", "double")));
        Assert.Equal(10, DiffPlan.CharLength(Col("a", "varchar", "varchar(10)")));
    }

    [Fact]
    public void Plan_builds_hash_keys_and_ranges_with_collation_literals()
    {
        var source = Schema("src", Col("name", "varchar", "varchar(20)", "utf8mb4", "utf8mb4_general_ci"), Col("n", "int", "int(11)"), Col("d", "datetime", "datetime"));
        var target = Schema("dst", Col("name", "varchar", "varchar(20)", "utf8mb4", "utf8mb4_general_ci"), Col("d", "datetime", "datetime"), Col("n", "int", "int(11)"));
        var plan = DiffPlan.Create(source, target, null, "Europe/Berlin");
        Assert.Equal("MD5(CONCAT_WS('#', `name`, `n`, `d`, CONCAT(ISNULL(`name`), ISNULL(`n`), ISNULL(`d`))))", plan.HashExpr(plan.Source, SqlQuoter.Standard));
        // The target hashes in the source's column order, and converts DATETIMEs back to the source's zone.
        Assert.Equal("MD5(CONCAT_WS('#', `name`, `n`, CONVERT_TZ(`d`, '+00:00', 'Europe/Berlin'), CONCAT(ISNULL(`name`), ISNULL(`n`), ISNULL(`d`))))", plan.HashExpr(plan.Target, SqlQuoter.Standard));
        Assert.Equal("`name`, WEIGHT_STRING(`name` AS CHAR(20))", plan.KeySelect(plan.Source));
        // Chunk checksums fold MD5's first 64 bits; with CRC32C on both servers the cheaper CRC32|CRC32C pair instead.
        Assert.Equal("CAST(CONV(LEFT(MD5(CONCAT_WS('#', `name`, `n`, `d`, CONCAT(ISNULL(`name`), ISNULL(`n`), ISNULL(`d`)))), 16), 16, 10) AS UNSIGNED)", plan.Hash64Expr(plan.Source, SqlQuoter.Standard));
        plan.UseCrc = true;
        const string row = "CONCAT_WS('#', `name`, `n`, `d`, CONCAT(ISNULL(`name`), ISNULL(`n`), ISNULL(`d`)))";
        Assert.Equal($"((CRC32({row}) << 32) | CRC32C({row}))", plan.Hash64Expr(plan.Source, SqlQuoter.Standard));
        Assert.Equal(plan.Hash64Expr(plan.Source, SqlQuoter.Standard), plan.HashExpr(plan.Source, SqlQuoter.Standard));
        plan.UseCrc = false;
        var key = new[] { MySqlValue.FromString("Ab'c") };
        Assert.Equal("((`name` > CONVERT(_utf8mb4 X'41622763' USING utf8mb4) COLLATE utf8mb4_general_ci)) AND ((`name` <= CONVERT(_utf8mb4 X'41622763' USING utf8mb4) COLLATE utf8mb4_general_ci))",
            plan.RangePredicate(plan.Source, key, key, SqlQuoter.Standard));
        Assert.Equal("1", plan.RangePredicate(plan.Source, null, null, SqlQuoter.Standard));
    }

    [Fact]
    public void Row_hash_converts_text_only_where_the_charsets_could_differ_and_marks_only_nullable_columns()
    {
        // A latin1 column on the source that is utf8mb4 on the target is hashed as utf8mb4 text on both sides; a column
        // utf8mb4 on both sides is hashed as stored. NULL markers only for the columns nullable on either side.
        var source = Schema("src", Col("id", "int", "int(11)"), Col("a", "varchar", "varchar(20)", "latin1", "latin1_swedish_ci"), Col("b", "varchar", "varchar(20)", "utf8mb4", "utf8mb4_general_ci"));
        var target = Schema("dst", Col("id", "int", "int(11)"), Col("a", "varchar", "varchar(20)", "utf8mb4", "utf8mb4_general_ci"), Col("b", "varchar", "varchar(20)", "utf8mb4", "utf8mb4_general_ci"));
        var plan = DiffPlan.Create(source, target, null, null, new HashSet<string>(["B"], StringComparer.OrdinalIgnoreCase));
        Assert.Equal("MD5(CONCAT_WS('#', `id`, CONVERT(`a` USING utf8mb4), `b`, CONCAT(ISNULL(`b`))))", plan.HashExpr(plan.Source, SqlQuoter.Standard));
        Assert.Equal("MD5(CONCAT_WS('#', `id`, CONVERT(`a` USING utf8mb4), `b`, CONCAT(ISNULL(`b`))))", plan.HashExpr(plan.Target, SqlQuoter.Standard));

        // One charset (latin1) in every text column of both sides: the stored bytes are hashed, no conversion; no
        // nullable column: no marker column at all.
        var latin = Schema("src", Col("id", "int", "int(11)"), Col("a", "varchar", "varchar(20)", "latin1", "latin1_swedish_ci"), Col("e", "enum", "enum('x','y')", "latin1", "latin1_swedish_ci"));
        plan = DiffPlan.Create(latin, latin, null, null, new HashSet<string>());
        plan.UseCrc = true;
        Assert.Equal("((CRC32(CONCAT_WS('#', `id`, `a`, `e`)) << 32) | CRC32C(CONCAT_WS('#', `id`, `a`, `e`)))", plan.Hash64Expr(plan.Source, SqlQuoter.Standard));

        // Two charsets in one row (latin1 and cp1251, the same on both sides): CONCAT_WS could not mix them, so both are
        // converted; utf8mb4 columns never are.
        var mixed = Schema("src", Col("id", "int", "int(11)"), Col("a", "varchar", "varchar(20)", "latin1", "latin1_swedish_ci"), Col("c", "varchar", "varchar(20)", "cp1251", "cp1251_general_ci"), Col("u", "text", "text", "utf8mb4", "utf8mb4_general_ci"));
        plan = DiffPlan.Create(mixed, mixed, null, null, new HashSet<string>());
        Assert.Equal("MD5(CONCAT_WS('#', `id`, CONVERT(`a` USING utf8mb4), CONVERT(`c` USING utf8mb4), `u`))", plan.HashExpr(plan.Source, SqlQuoter.Standard));
    }

    [Fact]
    public void Composite_upper_bound_is_expanded_for_the_optimizer()
    {
        var s = new TableSchema("d", "t", [Col("a", "int", "int"), Col("b", "int", "int")], ["a", "b"]);
        var plan = DiffPlan.Create(s, s, null, null);
        Assert.Equal("((`a` < 5) OR (`a` = 5 AND `b` <= 7))",
            plan.RangePredicate(plan.Source, null, [MySqlValue.FromString("5"), MySqlValue.FromString("7")], SqlQuoter.Standard));
    }

    [Fact]
    public void Plan_refuses_schemas_it_cannot_compare_with_a_clear_reason()
    {
        var s = Schema("s", Col("id", "int", "int"), Col("x", "int", "int"));
        var missing = Schema("t", Col("id", "int", "int"));
        Assert.Contains("lacks the source column(s) x", Assert.Throws<VDiffException>(() => DiffPlan.Create(s, missing, null, null)).Message);
        var otherCollation = new TableSchema("t", "t", [Col("id", "varchar", "varchar(5)", "utf8mb4", "utf8mb4_bin"), Col("x", "int", "int")], ["id"]);
        var textKey = new TableSchema("s", "t", [Col("id", "varchar", "varchar(5)", "utf8mb4", "utf8mb4_general_ci"), Col("x", "int", "int")], ["id"]);
        Assert.Contains("same type and collation", Assert.Throws<VDiffException>(() => DiffPlan.Create(textKey, otherCollation, null, null)).Message);
        var noPk = new TableSchema("s", "t", [Col("id", "int", "int")], []);
        Assert.Contains("no primary key", Assert.Throws<VDiffException>(() => DiffPlan.Create(noPk, noPk, null, null)).Message);
    }

    [Theory]
    [InlineData(0, "--chunk-rows 0")]
    [InlineData(-1, "--chunk-rows -1")]
    public void Options_name_the_bad_value(int chunkRows, string expected) =>
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => new VDiffOptions { ChunkRows = chunkRows }.Validate()).Message);

    [Fact]
    public void Source_time_zone_is_checked() =>
        Assert.Contains("--source-time-zone 'x';DROP' is invalid", Assert.Throws<ArgumentException>(() => new VDiffOptions { SourceTimeZone = "x';DROP" }.Validate()).Message);

    private static VDiffShardRecord Shard(string shard, string state, DateTime? started = null, DateTime? completed = null) =>
        new(1, "u", "wf", "ks", shard, state, new VDiffOptions(), new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), started, completed, "");

    private static VDiffTableRecord Table(string name, string state, long processed, long mismatched = 0, long rows = 0) =>
        new(name, state, "[\"01\"]", rows, new TableCounts { ProcessedRows = processed, MatchingRows = processed - mismatched, MismatchedRows = mismatched }, [], null, null);

    [Fact]
    public void Report_sums_shards_and_picks_the_overall_state()
    {
        var t0 = new DateTime(2026, 1, 1, 10, 0, 0, DateTimeKind.Utc);
        var report = VDiffReport.Build("wf", "ks", "u",
        [
            (Shard("-80", VDiffStates.Completed, t0, t0.AddMinutes(1)), [Table("a", VDiffStates.Completed, 10), Table("b", VDiffStates.Completed, 5, 1)]),
            (Shard("80-", VDiffStates.Completed, t0.AddSeconds(5), t0.AddMinutes(2)), [Table("a", VDiffStates.Completed, 7), Table("b", VDiffStates.Completed, 3)]),
        ], verbose: true, t0.AddHours(1));
        Assert.Equal("completed", report.State);
        Assert.Equal(25, report.RowsCompared);
        Assert.True(report.HasMismatch);
        Assert.Equal("-80,80-", report.Shards);
        Assert.Equal("2026-01-01 10:00:00", report.StartedAt);
        Assert.Equal("2026-01-01 10:02:00", report.CompletedAt);
        Assert.Equal(17, report.TableSummary["a"].RowsCompared);
        Assert.Equal(1, report.Reports!["b"]["-80"].MismatchedRows);

        var running = VDiffReport.Build("wf", "ks", "u",
        [
            (Shard("-80", VDiffStates.Started, t0), [Table("a", VDiffStates.Started, 25, rows: 100)]),
            (Shard("80-", VDiffStates.Error, t0), [Table("a", VDiffStates.Pending, 0, rows: 100)]),
        ], verbose: false, t0.AddMinutes(10));
        Assert.Equal("error", running.State);
        Assert.Null(running.Reports);
        var progressing = VDiffReport.Build("wf", "ks", "u", [(Shard("0", VDiffStates.Started, t0), [Table("a", VDiffStates.Started, 25, rows: 100)])], false, t0.AddMinutes(10));
        Assert.Equal(25, progressing.Progress!.Percentage);
        Assert.Equal("2026-01-01 10:40:00", progressing.Progress.ETA);
    }
}
