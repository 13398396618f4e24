using Durable.Topology.Etcd;

namespace Durable.Topology.Tests;

public class VSchemaValidationTests
{
    private const string Good = """
        {"sharded": true,
         "vindexes": {"hash": {"type": "hash"}, "xx": {"type": "xxhash"}},
         "tables": {
           "customer": {"column_vindexes": [{"column": "customer_id", "name": "hash"}],
                        "auto_increment": {"column": "customer_id", "sequence": "customer_seq"}},
           "corder": {"column_vindexes": [{"columns": ["customer_id"], "name": "xx"}]}},
         "require_explicit_routing": false}
        """;

    [Fact]
    public void Parses_vitess_json_and_keeps_unknown_fields()
    {
        var doc = VSchemaDocument.Parse(Good);
        Assert.True(doc.Sharded);
        Assert.Equal("hash", doc.Vindexes["hash"].Type);
        Assert.Equal(["customer_id"], doc.Tables["corder"].ColumnVindexes[0].Columns);
        Assert.Equal("customer_seq", doc.Tables["customer"].AutoIncrement!.Sequence);
        Assert.Contains("require_explicit_routing", doc.ToJson());
        var (vindex, columns) = doc.PrimaryVindex("customer");
        Assert.Equal("hash", vindex.Type);
        Assert.Equal(["customer_id"], columns);
    }

    [Theory]
    [InlineData("{\"sharded\": true,", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("{\"sharded\":true,\"vindexes\":{\"v\":{\"type\":\"hashy\"}},\"tables\":{}}", "unknown type 'hashy'")]
    [InlineData("{\"sharded\":true,\"vindexes\":{},\"tables\":{\"t\":{\"column_vindexes\":[{\"column\":\"id\",\"name\":\"nope\"}]}}}", "uses vindex 'nope', which is not defined")]
    [InlineData("{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"t\":{}}}", "table 't' in a sharded keyspace needs a column vindex")]
    [InlineData("{\"sharded\":\"yes\"}", "'sharded' must be true or false")]
    [InlineData("{\"sharded\":false,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"t\":{\"column_vindexes\":[{\"column\":\"id\",\"name\":\"hash\"}]}}}", "not sharded")]
    [InlineData("{\"sharded\":true,\"vindexes\":{\"hash\":{\"type\":\"hash\"}},\"tables\":{\"t\":{\"column_vindexes\":[{\"name\":\"hash\"}]}}}", "names no column")]
    public void Rejects_bad_vschemas_naming_the_problem(string json, string expected)
    {
        var error = Assert.Throws<TopologyValidationException>(() => VSchemaDocument.Parse(json));
        Assert.Contains(expected, error.Message);
    }
}

public class RoutingRulesTests
{
    [Fact]
    public void Round_trips_with_proto_names_and_accepts_camel_case_input()
    {
        var rules = RoutingRules.Parse("""{"rules":[{"fromTable":"commerce.customer@replica","toTables":["customer.customer"]}]}""");
        Assert.Equal("""{"rules":[{"from_table":"commerce.customer@replica","to_tables":["customer.customer"]}]}""", rules.ToJson());
        Assert.Empty(RoutingRules.Parse("{}").Rules);
        Assert.Equal("{\n  \"rules\": []\n}", RoutingRules.Empty.ToJson(indented: true).ReplaceLineEndings("\n"));
        Assert.Contains("commerce.café+1", RoutingRules.Parse("""{"rules":[{"from_table":"t","to_tables":["commerce.café+1"]}]}""").ToJson());
    }

    [Fact]
    public void Prints_the_rules_of_the_seed_exactly_as_vtctldclient_GetRoutingRules_does()
    {
        // testdata: the GetRoutingRules output after SwitchTraffic shown in the MoveTables user guide seed.
        var seed = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "testdata", "routing_rules_after_switch.json")).TrimEnd();
        var rules = RoutingRules.Parse(seed);
        Assert.Equal(16, rules.Rules.Count);
        Assert.Equal(seed.ReplaceLineEndings("\n"), rules.ToJson(indented: true).ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("{\"rules\":[{\"from_table\":\"t\",\"to_tables\":[\"customer.t\"]},{\"from_table\":\"t\",\"to_tables\":[\"customer.t\"]}]}", "appears in more than one rule")]
    [InlineData("{\"rules\":[{\"from_table\":\"t@master\",\"to_tables\":[\"customer.t\"]}]}", "suffix '@master'")]
    [InlineData("{\"rules\":[{\"from_table\":\"t\",\"to_tables\":[\"t\"]}]}", "must be qualified")]
    [InlineData("{\"rules\":[{\"from_table\":\"t\",\"to_tables\":[]}]}", "non-empty \"to_tables\"")]
    [InlineData("{\"rules\":[{\"to_tables\":[\"a.t\"]}]}", "no \"from_table\"")]
    [InlineData("{\"rules\":", "not valid JSON")]
    [InlineData("{\"rules\":[{\"from_table\":\"t\",\"to_tables\":[\"ghost.t\"]}]}", "keyspace 'ghost', which does not exist")]
    public void Rejects_bad_rules_naming_the_problem(string json, string expected)
    {
        var error = Assert.Throws<TopologyValidationException>(() => RoutingRules.Parse(json, ks => ks != "ghost"));
        Assert.Contains(expected, error.Message);
    }
}

public class RecordTests
{
    [Fact]
    public void Tablet_aliases_are_canonical_and_parsed_from_the_last_dash()
    {
        Assert.Equal("zone1-0000000100", TabletRecord.MakeAlias("zone1", 100));
        Assert.Equal("zone1-0000000100", TabletRecord.CanonicalAlias("zone1-100"));
        Assert.Equal(("us-east", 7L), TabletRecord.ParseAlias("us-east-7"));
        Assert.Contains("zone1", Assert.Throws<TopologyValidationException>(() => TabletRecord.ParseAlias("zone1")).Message);
    }

    [Theory]
    [InlineData("secret:DURABLE_FILTERED_PASSWORD", true)]
    [InlineData("env:MY_PASSWORD", true)]
    [InlineData("hunter2", false)]
    [InlineData("secret:", false)]
    [InlineData("vault:x", false)]
    public void Credential_references_never_accept_a_literal_password(string reference, bool valid)
    {
        if (valid)
        {
            CredentialReference.Validate(reference, "t");
        }
        else
        {
            var error = Assert.Throws<TopologyValidationException>(() => CredentialReference.Validate(reference, "t"));
            Assert.Contains("secret:NAME or env:NAME", error.Message);
            Assert.DoesNotContain("hunter2", error.Message); // a pasted password is never echoed
        }
    }

    [Fact]
    public void Credential_reference_resolves_from_secrets_then_environment()
    {
        Assert.Equal("s3cret", CredentialReference.Resolve("secret:X_PW", new Dictionary<string, string> { ["X_PW"] = "s3cret" }));
        var missing = Assert.Throws<TopologyException>(() => CredentialReference.Resolve("env:DURABLE_TEST_SURELY_UNSET_VAR"));
        Assert.Contains("DURABLE_TEST_SURELY_UNSET_VAR", missing.Message);
    }

    [Fact]
    public void Endpoint_lists_are_checked()
    {
        Assert.Equal(2, EtcdOptions.ParseEndpoints("http://a:1, https://b:2").Count);
        Assert.Contains("ftp://x", Assert.Throws<ArgumentException>(() => EtcdOptions.ParseEndpoints("ftp://x")).Message);
        Assert.Throws<ArgumentException>(() => EtcdOptions.ParseEndpoints(" , "));
    }

    [Fact]
    public void Prefix_end_increments_the_last_byte_that_can_be()
    {
        Assert.Equal("/a0"u8.ToArray(), EtcdConnection.PrefixEnd("/a/"u8.ToArray()));
        Assert.Equal(new byte[] { 0x62 }, EtcdConnection.PrefixEnd([0x61, 0xFF]));
        Assert.Equal(new byte[] { 0 }, EtcdConnection.PrefixEnd([0xFF]));
    }
}

public class TabletPickerTests
{
    private static TabletRecord Tablet(long uid, string type, string cell = "zone1") =>
        new(TabletRecord.MakeAlias(cell, uid), cell, uid, "commerce", "0", type, "127.0.0.1", 1000 + (int)uid, "vt_commerce", "u", "secret:P");

    private static readonly TabletRecord[] Shard =
    [
        Tablet(100, "PRIMARY"), Tablet(101, "REPLICA"), Tablet(102, "RDONLY"), Tablet(103, "REPLICA", "zone2"),
    ];

    [Theory]
    [InlineData("in_order:REPLICA,PRIMARY", true, "REPLICA,PRIMARY")]
    [InlineData("RDONLY", false, "RDONLY")]
    [InlineData("replica,primary", false, "REPLICA,PRIMARY")]
    [InlineData("IN_ORDER:rdonly, replica", true, "RDONLY,REPLICA")]
    public void Parses_tablet_type_specs(string spec, bool inOrder, string types)
    {
        var parsed = TabletTypeSpec.Parse(spec);
        Assert.Equal(inOrder, parsed.InOrder);
        Assert.Equal(types, string.Join(',', parsed.Types.Select(TabletTypes.Name)));
    }

    [Theory]
    [InlineData("in_order:REPLICA,LEADER", "'LEADER'")]
    [InlineData("", "names no type")]
    public void Rejects_bad_specs(string spec, string expected) =>
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => TabletTypeSpec.Parse(spec)).Message);

    [Fact]
    public async Task In_order_prefers_a_healthy_replica_then_falls_back_to_the_primary()
    {
        var picker = new TabletPicker(null!, new FakeProbe());
        var picked = await picker.PickAsync(Shard, "commerce", "0", TabletTypeSpec.Parse("in_order:REPLICA,PRIMARY"), ["zone1"], default);
        Assert.Equal(101, picked.Uid);

        var replicaBroken = new TabletPicker(null!, new FakeProbe { [101] = new TabletHealth(true, false, null, "IO thread stopped") });
        Assert.Equal(100, (await replicaBroken.PickAsync(Shard, "commerce", "0", TabletTypeSpec.Parse("in_order:REPLICA,PRIMARY"), ["zone1"], default)).Uid);
    }

    [Fact]
    public async Task Lagging_and_unreachable_tablets_are_passed_over_with_reasons()
    {
        var probe = new FakeProbe
        {
            [101] = new TabletHealth(true, true, 120),
            [103] = TabletHealth.Unreachable("connection refused"),
        };
        var picker = new TabletPicker(null!, probe);
        var error = await Assert.ThrowsAsync<NoHealthyTabletException>(() =>
            picker.PickAsync(Shard, "commerce", "0", TabletTypeSpec.Parse("REPLICA"), null, default));
        Assert.Contains("zone1-0000000101 REPLICA: replication lag 120s exceeds 30s", error.Message);
        Assert.Contains("zone2-0000000103 REPLICA: unreachable (connection refused)", error.Message);
    }

    [Fact]
    public async Task Cells_limit_the_candidates_and_a_missing_type_lists_what_exists()
    {
        var picker = new TabletPicker(null!, new FakeProbe());
        Assert.Equal(103, (await picker.PickAsync(Shard, "commerce", "0", TabletTypeSpec.Parse("REPLICA"), ["zone2"], default)).Uid);
        var error = await Assert.ThrowsAsync<NoHealthyTabletException>(() =>
            picker.PickAsync(Shard, "commerce", "0", TabletTypeSpec.Parse("RDONLY"), ["zone2"], default));
        Assert.Contains("No RDONLY tablet of commerce/0 in cells zone2", error.Message);
        Assert.Contains("zone1-0000000102 RDONLY", error.Message);
    }

    [Fact]
    public async Task A_primary_is_not_judged_by_replication_and_a_slow_probe_times_out()
    {
        var probe = new FakeProbe { [100] = new TabletHealth(true, false), Delay = { [101] = TimeSpan.FromSeconds(10) } };
        var picker = new TabletPicker(null!, probe, new TabletPickerOptions { ProbeTimeout = TimeSpan.FromMilliseconds(200) });
        Assert.Equal(100, (await picker.PickAsync(Shard, "commerce", "0", TabletTypeSpec.Parse("PRIMARY"), null, default)).Uid);
        var error = await Assert.ThrowsAsync<NoHealthyTabletException>(() =>
            picker.PickAsync(Shard, "commerce", "0", TabletTypeSpec.Parse("REPLICA"), ["zone1"], default));
        Assert.Contains("no answer within 0.2s", error.Message);
    }

    [Fact]
    public void Unordered_specs_mix_all_types_in_one_shuffled_group()
    {
        var groups = TabletPicker.CandidateGroups(Shard, TabletTypeSpec.Parse("replica,rdonly"), null);
        Assert.Single(groups);
        Assert.Equal([101L, 102L, 103L], groups[0].Select(t => t.Uid).Order().ToArray());
        var ordered = TabletPicker.CandidateGroups(Shard, TabletTypeSpec.Parse("in_order:RDONLY,REPLICA,PRIMARY"), ["zone1"]);
        Assert.Equal(["RDONLY", "REPLICA", "PRIMARY"], ordered.Select(g => g[0].Type).ToArray());
    }

    private sealed class FakeProbe : Dictionary<long, TabletHealth>, ITabletHealthProbe
    {
        public Dictionary<long, TimeSpan> Delay { get; } = [];

        public async Task<TabletHealth> ProbeAsync(TabletRecord tablet, CancellationToken ct)
        {
            if (Delay.TryGetValue(tablet.Uid, out var delay))
            {
                await Task.Delay(delay, ct);
            }

            return TryGetValue(tablet.Uid, out var health) ? health : new TabletHealth(true, tablet.TabletType == TabletType.Primary ? null : true, 0);
        }
    }
}
