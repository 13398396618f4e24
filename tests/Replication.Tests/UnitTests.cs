using System.Text;
using Durable.Core.Vindexes;
using Durable.MySql;
using Durable.MySql.Binlog;
using Durable.MySql.Sql;

namespace Durable.Replication.Tests;

public sealed class StreamModelTests
{
    [Theory]
    [InlineData(StreamState.Init, StreamState.Copying, true)]
    [InlineData(StreamState.Copying, StreamState.Running, true)]
    [InlineData(StreamState.Running, StreamState.Frozen, true)]
    [InlineData(StreamState.Error, StreamState.Running, true)]
    [InlineData(StreamState.Frozen, StreamState.Running, false)]
    [InlineData(StreamState.Frozen, StreamState.Copying, false)]
    [InlineData(StreamState.Init, StreamState.Frozen, false)]
    [InlineData(StreamState.Copying, StreamState.Frozen, false)]
    public void State_machine_allows_only_the_listed_moves(StreamState from, StreamState to, bool allowed)
    {
        Assert.Equal(allowed, StreamStates.CanMove(from, to));
        if (!allowed)
        {
            var e = Assert.Throws<InvalidStreamStateException>(() => StreamStates.CheckMove(7, from, to));
            Assert.Contains($"Stream 7 cannot go from {from} to {to}", e.Message);
        }
    }

    [Fact]
    public void Unknown_state_and_on_ddl_values_are_named_in_the_error()
    {
        Assert.Contains("'Paused'", Assert.Throws<ArgumentException>(() => StreamStates.Parse("Paused")).Message);
        Assert.Contains("EXEC_IGNORE", Assert.Throws<ArgumentException>(() => StreamStates.ParseOnDdl("RUN")).Message);
        Assert.Equal(OnDdl.ExecIgnore, StreamStates.ParseOnDdl("exec_ignore"));
    }

    [Fact]
    public void Filter_round_trips_and_rejects_bad_rules()
    {
        var filter = new StreamFilter([new TableRule("customer", new KeyRangeFilter("hash", ["customer_id"], "-80")), new TableRule("corder")]);
        var parsed = StreamFilter.Parse(filter.ToJson());
        Assert.Equal("-80", parsed.Find("CUSTOMER")!.KeyRangeFilter!.KeyRange);
        Assert.Null(parsed.Find("corder")!.KeyRangeFilter);

        Assert.Contains("unknown vindex type 'md6'", Assert.Throws<ArgumentException>(() => new StreamFilter([new TableRule("t", new KeyRangeFilter("md6", ["id"], "-80"))]).Validate()).Message);
        Assert.Contains("key range 'zz'", Assert.Throws<ArgumentException>(() => new StreamFilter([new TableRule("t", new KeyRangeFilter("hash", ["id"], "zz"))]).Validate()).Message);
        Assert.Contains("appears 2 times", Assert.Throws<ArgumentException>(() => new StreamFilter([new TableRule("t"), new TableRule("T")]).Validate()).Message);
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => new StreamFilter([]).Validate()).Message);
    }

    [Fact]
    public void Lastpk_encoding_keeps_exact_bytes_and_nulls()
    {
        var pk = new[] { MySqlValue.FromString("Ärger"), MySqlValue.FromBytes(new byte[] { 0, 255, 10 }), MySqlValue.Null };
        var back = StreamStore.DecodePk(StreamStore.EncodePk(pk));
        Assert.Equal(pk, back);
    }

    [Fact]
    public void Lag_is_the_heartbeat_age_when_caught_up_and_the_event_age_otherwise()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_000);
        var caughtUp = Record() with { TimeUpdated = 990, TransactionTimestamp = 980, TimeHeartbeat = 998 };
        Assert.Equal(2, caughtUp.LagSeconds(now));
        var behind = Record() with { TimeUpdated = 999, TransactionTimestamp = 940, TimeHeartbeat = 900 };
        Assert.Equal(60, behind.LagSeconds(now));
    }

    [Fact]
    public void Copy_budget_names_the_invalid_value()
    {
        var e = Assert.Throws<ArgumentException>(() => new CopyBudget { MaxRows = 0 }.Validate());
        Assert.Contains("MaxRows = 0", e.Message);
    }

    [Fact]
    public void Sidecar_name_is_validated()
    {
        Assert.Contains("'_vt;drop'", Assert.Throws<ArgumentException>(() => new Sidecar("_vt;drop")).Message);
        Assert.Equal("`_vt`.`vreplication`", new Sidecar().Table("vreplication"));
    }

    [Fact]
    public void Transient_and_terminal_failures_are_told_apart()
    {
        Assert.True(TransientFailures.IsTransient(new MySqlException(MySqlErrorCode.ServerLost, "HY000", "lost")));
        Assert.True(TransientFailures.IsTransient(new MySqlException(MySqlErrorCode.Deadlock, "40001", "deadlock")));
        Assert.False(TransientFailures.IsTransient(new MySqlException(1054, "42S22", "Unknown column")));
        Assert.False(TransientFailures.IsTransient(new TerminalReplicationException("diverged")));
        Assert.True(TransientFailures.IsTransient(new ReplicationException("source ended the stream")));
    }

    internal static StreamRecord Record() => new(
        1, "wf", "commerce", "0", "customer", "0", "vt_customer", new StreamFilter([new TableRule("t")]), null, null, StreamState.Running, 1, "",
        "PRIMARY", "", OnDdl.Ignore, new StreamOptions(), 0, 0, 0, 0);
}

public sealed class SqlShapeTests
{
    private static TableSchema Schema() => new(
        "db", "t",
        [
            new ColumnInfo("name", "varchar", "varchar(20)", "utf8mb4", "utf8mb4_general_ci", false, false),
            new ColumnInfo("n", "int", "int(11)", null, null, false, false),
            new ColumnInfo("at", "datetime", "datetime(6)", null, null, false, false),
            new ColumnInfo("g", "int", "int(11)", null, null, true, false),
            new ColumnInfo("h", "varbinary", "varbinary(10)", null, null, false, true),
        ],
        ["name", "n", "at"]);

    [Fact]
    public void After_predicate_is_the_expanded_tuple_comparison_with_collations()
    {
        var sql = new ByteBuilder();
        Schema().AppendAfterPredicate(sql, [MySqlValue.FromString("é'x"), MySqlValue.FromString("5"), MySqlValue.FromString("2024-01-02 03:04:05.000006")], SqlQuoter.Standard);
        var text = sql.ToString();
        var name = "CONVERT(_utf8mb4 X'" + Convert.ToHexString(Encoding.UTF8.GetBytes("é'x")) + "' USING utf8mb4) COLLATE utf8mb4_general_ci";
        Assert.Equal(
            $"((`name` > {name}) OR (`name` = {name} AND `n` > 5) OR (`name` = {name} AND `n` = 5 AND `at` > CAST('2024-01-02 03:04:05.000006' AS DATETIME(6))))",
            text);
    }

    [Fact]
    public void Generated_columns_are_never_written_and_invisible_ones_are()
    {
        var schema = Schema();
        Assert.Equal(["name", "n", "at", "h"], schema.Writable.Select(i => schema.Columns[i].Name));
        Assert.Equal(LiteralStyle.Binary, schema.Columns[4].Style);
        Assert.Equal(LiteralStyle.Number, schema.Columns[1].Style);
    }

    [Fact]
    public void A_lastpk_of_the_wrong_width_is_refused()
    {
        var e = Assert.Throws<TerminalReplicationException>(() => Schema().AppendAfterPredicate(new ByteBuilder(), [MySqlValue.FromString("a")], SqlQuoter.Standard));
        Assert.Contains("1 values but the primary key has 3 columns", e.Message);
    }

    [Fact]
    public void Source_time_zone_converts_datetime_values_to_utc()
    {
        var sql = new ByteBuilder();
        Schema().Columns[2].AppendValue(sql, MySqlValue.FromString("2024-01-01 10:00:00"), SqlQuoter.Standard, "+02:00");
        Assert.Equal("CONVERT_TZ('2024-01-01 10:00:00', '+02:00', '+00:00')", sql.ToString());
    }

    [Theory]
    [InlineData("ALTER TABLE customer ADD COLUMN x INT", "vt_commerce", true)]
    [InlineData("ALTER TABLE `customer` ADD COLUMN x INT", "vt_commerce", true)]
    [InlineData("ALTER TABLE customer_archive ADD COLUMN x INT", "vt_commerce", false)]
    [InlineData("ALTER TABLE customer ADD COLUMN x INT", "other_db", false)]
    [InlineData("BEGIN", "vt_commerce", false)]
    public void Ddl_relevance_names_a_stream_table_in_the_source_database(string sql, string schema, bool relevant)
    {
        var header = new BinlogEventHeader(0, BinlogEventType.Query, 1, 0, 0, 0);
        Assert.Equal(relevant, Replicator.IsRelevantDdl(new QueryEvent(header, 1, 0, 0, schema, sql), "vt_commerce", ["customer", "corder"]));
    }

    [Fact]
    public void Secondary_keys_are_found_in_show_create_table()
    {
        const string create = """
            CREATE TABLE `t` (
              `id` int(11) NOT NULL,
              `a` int(11) DEFAULT NULL,
              `b` varchar(10) DEFAULT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uk_a` (`a`),
              KEY `idx``b` (`b`(5),`a`),
              CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `p` (`id`)
            ) ENGINE=InnoDB
            """;
        var keys = Copier.SecondaryKeys(create);
        Assert.Equal(["uk_a", "idx`b"], keys.Select(k => k.Name));
        Assert.Equal("UNIQUE KEY `uk_a` (`a`)", keys[0].Definition);
    }
}

public sealed class LastPkComparisonTests
{
    private static TableSchema IntKey(params (string Name, string Type)[] key) => new(
        "db", "t",
        [.. key.Select(k => new ColumnInfo(k.Name, k.Type, k.Type, null, null, false, false)), new ColumnInfo("v", "varchar", "varchar(5)", "utf8mb4", "utf8mb4_general_ci", false, false)],
        [.. key.Select(k => k.Name)]);

    private static MySqlValue V(string s) => MySqlValue.FromString(s);

    [Fact]
    public void Integer_keys_compare_as_numbers_in_memory_column_by_column()
    {
        var schema = IntKey(("a", "bigint"), ("b", "int"));
        List<(MySqlValue[]? Before, MySqlValue[]? After)> changes =
        [
            ([V("9"), V("100"), V("x")], [V("10"), V("-5"), V("x")]),   // 9 < 10 (not as text: "9" > "10"); (10,-5) <= (10,7)
            (null, [V("10"), V("7"), V("x")]),                          // equal to lastpk: copied
            ([V("10"), V("8"), V("x")], null),                          // beyond in the second column
            (null, [V("-9223372036854775808"), V("0"), V("x")]),        // bigint minimum
        ];
        var before = new bool[changes.Count];
        var after = new bool[changes.Count];
        Assert.True(StreamApplier.CompareIntegerKeys(schema, changes, [V("10"), V("7")], before, after));
        Assert.Equal([true, false, false, false], before);
        Assert.Equal([true, true, false, true], after);
    }

    [Fact]
    public void Unsigned_bigint_beyond_the_signed_range_compares_exactly()
    {
        var schema = IntKey(("id", "bigint"));
        List<(MySqlValue[]? Before, MySqlValue[]? After)> changes = [(null, [V("18446744073709551615"), V("x")]), (null, [V("18446744073709551614"), V("x")])];
        var after = new bool[2];
        Assert.True(StreamApplier.CompareIntegerKeys(schema, changes, [V("18446744073709551614")], new bool[2], after));
        Assert.Equal([false, true], after);
    }

    [Fact]
    public void Keys_with_a_collation_or_a_temporal_type_are_left_to_the_server()
    {
        var text = new TableSchema("db", "t", [new ColumnInfo("k", "varchar", "varchar(5)", "utf8mb4", "utf8mb4_general_ci", false, false)], ["k"]);
        List<(MySqlValue[]? Before, MySqlValue[]? After)> changes = [(null, [V("a")])];
        Assert.False(StreamApplier.CompareIntegerKeys(text, changes, [V("B")], new bool[1], new bool[1]));
        var mixed = IntKey(("a", "int"), ("d", "datetime"));
        Assert.False(StreamApplier.CompareIntegerKeys(mixed, [(null, [V("1"), V("2024-01-01 00:00:00"), V("x")])], [V("1"), V("2024-01-01 00:00:00")], new bool[1], new bool[1]));
    }

    [Fact]
    public void String_values_are_escaped_whether_or_not_they_need_it()
    {
        var column = new ColumnInfo("v", "varchar", "varchar(50)", "utf8mb4", "utf8mb4_general_ci", false, false);
        var sql = new ByteBuilder();
        column.AppendValue(sql, V("plain é"), SqlQuoter.Standard, null);
        sql.Append(" "u8);
        column.AppendValue(sql, V("it's a \\ \"q\"\n"), SqlQuoter.Standard, null);
        sql.Append(" "u8);
        column.AppendValue(sql, V("it's"), SqlQuoter.NoBackslashEscapes, null);
        Assert.Equal("'plain é' 'it\\'s a \\\\ \\\"q\\\"\\n' 'it''s'", sql.ToString());
    }
}

public sealed class RowRouterTests
{
    [Fact]
    public void Rows_route_by_the_hash_vindex_into_their_shard_only()
    {
        var schema = new TableSchema("db", "t", [new ColumnInfo("id", "bigint", "bigint(20)", null, null, false, false), new ColumnInfo("v", "varchar", "varchar(5)", "utf8mb4", "utf8mb4_bin", false, false)], ["id"]);
        var low = new RowRouter(new KeyRangeFilter("hash", ["id"], "-80"), schema);
        var high = new RowRouter(new KeyRangeFilter("hash", ["id"], "80-"), schema);
        for (var id = 1; id <= 200; id++)
        {
            var row = new[] { MySqlValue.FromString(id.ToString(System.Globalization.CultureInfo.InvariantCulture)), MySqlValue.FromString("x") };
            var keyspaceId = HashVindex.Hash((ulong)id);
            Assert.Equal(keyspaceId[0] < 0x80, low.InRange(row));
            Assert.NotEqual(low.InRange(row), high.InRange(row));
        }
    }

    [Fact]
    public void A_filter_column_the_table_lacks_is_terminal()
    {
        var schema = new TableSchema("db", "t", [new ColumnInfo("id", "bigint", "bigint(20)", null, null, false, false)], ["id"]);
        var e = Assert.Throws<TerminalReplicationException>(() => new RowRouter(new KeyRangeFilter("hash", ["customer_id"], "-80"), schema));
        Assert.Contains("no column 'customer_id'", e.Message);
    }
}

public sealed class InPlaceUpsertTests
{
    private static ColumnInfo Col(string name, string type) => new(name, type, type, null, null, false, false);

    [Fact]
    public void The_upsert_updates_every_written_non_key_column_and_counts_the_rows_found_in_its_first_assignment()
    {
        var schema = new TableSchema("db", "t", [Col("id", "int"), Col("k", "int"), new ColumnInfo("g", "int", "int", null, null, Generated: true, false), Col("c", "int")], ["id"], hasSecondaryUniqueKey: false);
        var upsert = new StreamApplier.TableContext(schema, null).Upsert(SqlQuoter.Standard, 4096);
        Assert.Null(upsert.AddRow([MySqlValue.FromString("1"), MySqlValue.FromString("2"), MySqlValue.FromString("3")]));
        Assert.Equal(
            "INSERT INTO `db`.`t` (`id`,`k`,`c`) VALUES (1,2,3) ON DUPLICATE KEY UPDATE " +
            "`k` = IF(@durable_found := @durable_found + 1, VALUES(`k`), VALUES(`k`)), `c` = VALUES(`c`)",
            Encoding.UTF8.GetString(upsert.Finish()!));
    }

    [Fact]
    public void A_table_of_key_columns_only_still_counts_through_its_first_key_column()
    {
        var schema = new TableSchema("db", "t", [Col("a", "int"), Col("b", "int")], ["a", "b"], hasSecondaryUniqueKey: false);
        var upsert = new StreamApplier.TableContext(schema, null).Upsert(SqlQuoter.Standard, 4096);
        upsert.AddRow([MySqlValue.FromString("1"), MySqlValue.FromString("2")]);
        Assert.EndsWith("ON DUPLICATE KEY UPDATE `a` = IF(@durable_found := @durable_found + 1, VALUES(`a`), VALUES(`a`))", Encoding.UTF8.GetString(upsert.Finish()!));
    }

    [Fact]
    public void Rows_a_failed_group_left_in_the_shared_builders_are_dropped_when_the_next_group_takes_them()
    {
        var schema = new TableSchema("db", "t", [Col("id", "int"), Col("v", "int")], ["id"], hasSecondaryUniqueKey: false);
        var table = new StreamApplier.TableContext(schema, null);
        table.Insert(SqlQuoter.Standard, 4096).AddRow([MySqlValue.FromString("1"), MySqlValue.FromString("1")]);
        table.Upsert(SqlQuoter.Standard, 4096).AddRow([MySqlValue.FromString("2"), MySqlValue.FromString("2")]);
        Assert.Equal(0, table.Insert(SqlQuoter.Standard, 4096).PendingRows);
        Assert.Equal(0, table.Upsert(SqlQuoter.Standard, 4096).PendingRows);
    }

    [Fact]
    public void A_schema_made_without_index_information_is_treated_as_having_a_secondary_unique_key()
    {
        Assert.True(new TableSchema("db", "t", [Col("id", "int")], ["id"]).HasSecondaryUniqueKey);
    }
}
