namespace Durable.Workflows.Tests;

public sealed class TableDefinitionComparisonTests
{
    private static readonly TableDefinitionComparison.Rules Strict = new(SecondaryKeysMayBeMissing: false, AutoIncrementRemoved: false);

    private static ColumnDefinition Id(string extra = "") => new("id", "bigint(20)", false, null, null, null, extra, null);

    private static ColumnDefinition V(string type = "varchar(64)", bool nullable = false, string? @default = null, string charset = "utf8mb4", string collation = "utf8mb4_general_ci") =>
        new("v", type, nullable, @default, charset, collation, "", null);

    private static readonly KeyDefinition Primary = new("PRIMARY", true, "BTREE", ["`id`"]);
    private static readonly KeyDefinition ByV = new("kv", false, "BTREE", ["`v`"]);

    private static TableDefinition Table(IReadOnlyList<ColumnDefinition>? columns = null, IReadOnlyList<KeyDefinition>? keys = null, string kind = TableDefinition.BaseTable, bool transactional = true) =>
        new("db", "t", kind, transactional, columns ?? [Id("auto_increment"), V()], keys ?? [Primary, ByV]);

    [Fact]
    public void Equal_definitions_have_no_difference()
    {
        Assert.Empty(TableDefinitionComparison.Differences(Table(), Table() with { Db = "other_db" }, Strict));
    }

    [Fact]
    public void Type_nullability_default_charset_and_collation_differences_each_name_both_sides()
    {
        var cases = new (ColumnDefinition Target, string Expected)[]
        {
            (V(type: "varchar(10)"), "column `v`: target has varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, the workflow would create varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"),
            (V(nullable: true), "column `v`: target has varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL, the workflow would create varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"),
            (V(@default: "'x'"), "target has varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT 'x', the workflow would create varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"),
            (V(charset: "latin1", collation: "latin1_swedish_ci"), "target has varchar(64) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL, the workflow would create varchar(64) CHARACTER SET utf8mb4"),
            (V(collation: "utf8mb4_bin"), "target has varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, the workflow would create varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"),
        };
        foreach (var (target, expected) in cases)
        {
            var difference = Assert.Single(TableDefinitionComparison.Differences(Table(), Table(columns: [Id("auto_increment"), target]), Strict));
            Assert.Contains(expected, difference);
        }
    }

    [Fact]
    public void Missing_extra_and_reordered_columns_are_differences()
    {
        var w = new ColumnDefinition("w", "int(11)", true, "NULL", null, null, "", null);
        Assert.Contains("column `v`: target has no such column, the workflow would create varchar(64)",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(columns: [Id("auto_increment")]), Strict)));
        Assert.Contains("column `w`: target has int(11) NULL DEFAULT NULL, the workflow would create no such column",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(columns: [Id("auto_increment"), V(), w]), Strict)));
        Assert.Equal("column order: target has (`v`, `id`), the workflow would create (`id`, `v`)",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(columns: [V(), Id("auto_increment")]), Strict)));
    }

    [Fact]
    public void Key_differences_name_both_keys()
    {
        Assert.Equal("key PRIMARY: target has PRIMARY KEY (`v`), the workflow would create PRIMARY KEY (`id`)",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary with { Parts = ["`v`"] }, ByV]), Strict)));
        Assert.Equal("key `kv`: target has UNIQUE KEY `kv` (`v`), the workflow would create KEY `kv` (`v`)",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary, ByV with { Unique = true }]), Strict)));
        Assert.Equal("key `kv`: target has KEY `kv` (`v`(10)), the workflow would create KEY `kv` (`v`)",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary, ByV with { Parts = ["`v`(10)"] }]), Strict)));
        Assert.Equal("key `kv`: target has no such key, the workflow would create KEY `kv` (`v`)",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary]), Strict)));
        Assert.Equal("key `kx`: target has KEY `kx` (`v`), the workflow would create no such key",
            Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary, ByV, ByV with { Name = "kx" }]), Strict)));
    }

    [Fact]
    public void With_deferred_secondary_keys_the_target_may_lack_them_but_not_differ_in_them_nor_lack_the_primary_key()
    {
        var deferred = Strict with { SecondaryKeysMayBeMissing = true };
        Assert.Empty(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary]), deferred));
        Assert.Empty(TableDefinitionComparison.Differences(Table(), Table(), deferred));
        Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary, ByV with { Parts = ["`v`(10)"] }]), deferred));
        Assert.Contains("key PRIMARY: target has no such key", Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [ByV]), deferred)));
        Assert.Single(TableDefinitionComparison.Differences(Table(), Table(keys: [Primary, ByV, ByV with { Name = "kx" }]), deferred));
    }

    [Fact]
    public void Auto_increment_counts_unless_the_sharded_target_strips_it()
    {
        var plain = Table(columns: [Id(), V()]);
        Assert.Equal("column `id`: target has bigint(20) NOT NULL, the workflow would create bigint(20) NOT NULL auto_increment",
            Assert.Single(TableDefinitionComparison.Differences(Table(), plain, Strict)));
        var removed = Strict with { AutoIncrementRemoved = true };
        Assert.Empty(TableDefinitionComparison.Differences(Table(), plain, removed));
        Assert.Empty(TableDefinitionComparison.Differences(Table(), Table(), removed));
        Assert.Equal(removed, TableDefinitionComparison.Rules.For(new MoveTablesCreate(), targetSharded: true));
        Assert.Equal(Strict, TableDefinitionComparison.Rules.For(new MoveTablesCreate { ShardedAutoIncrementHandling = "LEAVE" }, targetSharded: true));
        Assert.Equal(Strict, TableDefinitionComparison.Rules.For(new MoveTablesCreate(), targetSharded: false));
    }

    [Fact]
    public void A_view_or_a_non_transactional_table_is_not_the_table_the_workflow_would_create()
    {
        Assert.Equal("target is a VIEW, the workflow would create a BASE TABLE", Assert.Single(TableDefinitionComparison.Differences(Table(), Table(kind: "VIEW"), Strict)));
        Assert.Contains("target's engine has no transactions", Assert.Single(TableDefinitionComparison.Differences(Table(), Table(transactional: false), Strict)));
    }
}
