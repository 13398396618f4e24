using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// --sharded-auto-increment-handling REPLACE and --initialize-target-sequences without the cluster: the flags' own
/// checks (each naming the bad value and what is valid) and the VSchema records REPLACE writes.
/// </summary>
public sealed class SequenceUnitTests
{
    private static MoveTablesCreate Replace(string? global = "commerce") => new()
    {
        Workflow = "w", TargetKeyspace = "customer_sharded", SourceKeyspace = "commerce", Tables = ["customer", "corder"],
        ShardedAutoIncrementHandling = "replace", GlobalKeyspace = global,
    };

    [Fact]
    public void Replace_with_a_global_keyspace_is_valid_and_parses_case_insensitively()
    {
        Replace().Validate();
        Assert.Equal(ShardedAutoIncrementHandling.Replace, Replace().AutoIncrementHandling());
    }

    [Fact]
    public void Replace_without_a_global_keyspace_is_refused_saying_what_to_give()
    {
        var e = Assert.Throws<WorkflowValidationException>(() => Replace(global: null).Validate());
        Assert.Contains("needs --global-keyspace", e.Message);
        Assert.Contains("unsharded keyspace", e.Message);
    }

    [Fact]
    public void A_global_keyspace_without_replace_a_bad_name_or_the_target_itself_is_refused_naming_the_value()
    {
        var withoutReplace = Assert.Throws<WorkflowValidationException>(() => (Replace() with { ShardedAutoIncrementHandling = "REMOVE" }).Validate());
        Assert.Contains("--global-keyspace 'commerce' only goes with --sharded-auto-increment-handling REPLACE", withoutReplace.Message);
        Assert.Contains("REMOVE", withoutReplace.Message);

        Assert.Contains("--global-keyspace 'bad ks' is invalid", Assert.Throws<WorkflowValidationException>(() => Replace("bad ks").Validate()).Message);
        Assert.Contains("is the target keyspace", Assert.Throws<WorkflowValidationException>(() => Replace("customer_sharded").Validate()).Message);
        Assert.Contains("LEAVE, REMOVE or REPLACE", Assert.Throws<WorkflowValidationException>(() => (Replace() with { ShardedAutoIncrementHandling = "SOMETIMES" }).Validate()).Message);
    }

    [Fact]
    public void The_global_keyspace_is_left_out_of_the_wire_form_when_absent_so_older_creates_compare_equal()
    {
        var plain = System.Text.Json.JsonSerializer.Serialize(new MoveTablesCreate { Workflow = "w" });
        Assert.DoesNotContain("global_keyspace", plain);
        Assert.Contains("\"global_keyspace\":\"commerce\"", System.Text.Json.JsonSerializer.Serialize(Replace()));
        Assert.DoesNotContain("initialize_target_sequences", System.Text.Json.JsonSerializer.Serialize(new SwitchOptions()));
    }

    [Fact]
    public void Initialize_target_sequences_needs_a_switch_of_writes()
    {
        new SwitchOptions { InitializeTargetSequences = true }.Validate();
        new SwitchOptions { InitializeTargetSequences = true, TabletTypes = ["replica", "primary"] }.Validate();
        var e = Assert.Throws<WorkflowValidationException>(() => new SwitchOptions { InitializeTargetSequences = true, TabletTypes = ["replica", "rdonly"] }.Validate());
        Assert.Contains("--tablet-types 'replica,rdonly' does not include PRIMARY", e.Message);
    }

    [Fact]
    public void Replace_strips_auto_increment_from_the_comparison_of_an_existing_sharded_target_table()
    {
        Assert.True(TableDefinitionComparison.Rules.For(Replace(), targetSharded: true).AutoIncrementRemoved);
        Assert.False(TableDefinitionComparison.Rules.For(Replace(), targetSharded: false).AutoIncrementRemoved);
    }

    [Fact]
    public void The_vschema_records_are_a_sequence_table_in_the_global_keyspace_and_a_qualified_auto_increment_on_the_target()
    {
        var sequences = new[] { new SequenceTable("customer", "customer_id", "commerce") };
        var global = VSchemaDocument.Parse(SequenceVSchemas.WithSequenceTables("{\"tables\":{\"product\":{}}}", sequences));
        Assert.Equal("sequence", global.Tables["customer_seq"].Type);
        Assert.True(global.Tables.ContainsKey("product")); // the rest of the document is kept

        const string target = "{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"customer\":{\"column_vindexes\":[{\"column\":\"customer_id\",\"name\":\"hash\"}]}}}";
        var once = SequenceVSchemas.WithAutoIncrements(target, sequences);
        var parsed = VSchemaDocument.Parse(once);
        Assert.Equal(new AutoIncrement("customer_id", "commerce.customer_seq"), parsed.Tables["customer"].AutoIncrement);
        Assert.Equal("hash", parsed.Tables["customer"].ColumnVindexes[0].Name);

        // Idempotent: a re-run writes the same documents.
        Assert.Equal(once, SequenceVSchemas.WithAutoIncrements(once, sequences));
        var globalOnce = SequenceVSchemas.WithSequenceTables(null, sequences);
        Assert.Equal(globalOnce, SequenceVSchemas.WithSequenceTables(globalOnce, sequences));
        Assert.Empty(SequenceVSchemas.Problems(VSchemaDocument.Parse(globalOnce), parsed, "customer_sharded", sequences));
    }

    [Fact]
    public void Vschema_problems_name_the_table_and_the_fix()
    {
        var sequences = new[] { new SequenceTable("customer", "customer_id", "commerce") };
        var noEntry = SequenceVSchemas.Problems(null, VSchemaDocument.Parse("{\"sharded\":true}"), "customer_sharded", sequences);
        Assert.Contains("Table 'customer' has no entry in the VSchema of target keyspace 'customer_sharded'", Assert.Single(noEntry));

        var other = VSchemaDocument.Parse("{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"customer\":{\"column_vindexes\":[{\"column\":\"customer_id\",\"name\":\"hash\"}],\"auto_increment\":{\"column\":\"customer_id\",\"sequence\":\"lookup.cust_seq\"}}}}");
        Assert.Contains("sequence 'lookup.cust_seq'", Assert.Single(SequenceVSchemas.Problems(null, other, "customer_sharded", sequences)));

        var plainTable = VSchemaDocument.Parse("{\"tables\":{\"customer_seq\":{}}}");
        var target = VSchemaDocument.Parse(SequenceVSchemas.WithAutoIncrements(
            "{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"customer\":{\"column_vindexes\":[{\"column\":\"customer_id\",\"name\":\"hash\"}]}}}", sequences));
        Assert.Contains("'customer_seq' of global keyspace 'commerce' is in its VSchema as a plain table, not as a sequence", Assert.Single(SequenceVSchemas.Problems(plainTable, target, "customer_sharded", sequences)));
    }

    [Fact]
    public void The_sequence_table_ddl_is_vitess_own_and_idempotent()
    {
        var s = new SequenceTable("corder", "order_id", "commerce");
        Assert.Equal("commerce.corder_seq", s.Qualified);
        Assert.Equal("CREATE TABLE IF NOT EXISTS `vt_commerce`.`corder_seq` (id INT NOT NULL, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'", s.CreateSql("vt_commerce"));
        Assert.Equal("INSERT IGNORE INTO `vt_commerce`.`corder_seq` (id, next_id, cache) VALUES (0, 1, 1000)", s.SeedSql("vt_commerce"));
    }
}
