using System.Text.Json;
using Durable.MySql.Sql;
using Durable.Topology;

namespace Durable.Workflows.Tests;

public class RoutingRulesPlanTests
{
    private static readonly string[] Tables = ["customer", "corder"];

    private static HashSet<string> Pairs(RoutingRules rules) => rules.Rules.Select(r => $"{r.FromTable}->{string.Join(",", r.ToTables)}").ToHashSet();

    [Fact]
    public void After_create_the_rules_are_exactly_the_seeds_sixteen()
    {
        // The walkthrough's GetRoutingRules right after create (order aside).
        var seeds = new[]
        {
            ("customer.customer@rdonly", "commerce.customer"), ("commerce.corder@rdonly", "commerce.corder"), ("customer", "commerce.customer"),
            ("customer.customer@replica", "commerce.customer"), ("corder@replica", "commerce.corder"), ("customer.corder", "commerce.corder"),
            ("commerce.corder@replica", "commerce.corder"), ("customer@rdonly", "commerce.customer"), ("commerce.customer@replica", "commerce.customer"),
            ("corder", "commerce.corder"), ("corder@rdonly", "commerce.corder"), ("customer.corder@rdonly", "commerce.corder"),
            ("customer@replica", "commerce.customer"), ("customer.customer", "commerce.customer"), ("commerce.customer@rdonly", "commerce.customer"),
            ("customer.corder@replica", "commerce.corder"),
        }.Select(p => $"{p.Item1}->{p.Item2}").ToHashSet();
        var rules = RoutingRulesPlan.Apply(RoutingRules.Empty, "commerce", "customer", Tables, new TrafficState());
        Assert.Equal(16, rules.Rules.Count);
        Assert.Equal(seeds, Pairs(rules));
    }

    [Fact]
    public void After_switching_all_traffic_the_rules_are_exactly_the_seeds_sixteen()
    {
        var seeds = new[]
        {
            ("commerce.corder@rdonly", "customer.corder"), ("corder@rdonly", "customer.corder"), ("customer.corder@replica", "customer.corder"),
            ("commerce.corder@replica", "customer.corder"), ("customer.corder@rdonly", "customer.corder"), ("customer@replica", "customer.customer"),
            ("customer.customer@replica", "customer.customer"), ("corder@replica", "customer.corder"), ("commerce.customer@rdonly", "customer.customer"),
            ("customer@rdonly", "customer.customer"), ("customer.customer@rdonly", "customer.customer"), ("commerce.customer@replica", "customer.customer"),
            ("corder", "customer.corder"), ("commerce.corder", "customer.corder"), ("customer", "customer.customer"), ("commerce.customer", "customer.customer"),
        }.Select(p => $"{p.Item1}->{p.Item2}").ToHashSet();
        var created = RoutingRulesPlan.Apply(RoutingRules.Empty, "commerce", "customer", Tables, new TrafficState());
        var switched = RoutingRulesPlan.Apply(created, "commerce", "customer", Tables, new TrafficState { Replica = true, Rdonly = true, Primary = true });
        Assert.Equal(seeds, Pairs(switched));
    }

    [Fact]
    public void Switching_replica_reads_moves_only_the_replica_rules_and_others_rules_stay()
    {
        var other = new RoutingRule("product", ["elsewhere.product"]);
        var start = RoutingRules.Empty.With([other]);
        var created = RoutingRulesPlan.Apply(start, "commerce", "customer", Tables, new TrafficState());
        var replica = RoutingRulesPlan.Apply(created, "commerce", "customer", Tables, new TrafficState { Replica = true });
        Assert.Equal("customer.customer", RoutingRulesPlan.Resolve(replica, "customer", "REPLICA"));
        Assert.Equal("commerce.customer", RoutingRulesPlan.Resolve(replica, "customer", "RDONLY"));
        Assert.Equal("commerce.customer", RoutingRulesPlan.Resolve(replica, "customer"));
        Assert.Contains(replica.Rules, r => r == other);
        var removed = RoutingRulesPlan.Remove(replica, "commerce", "customer", Tables);
        Assert.Equal([other], removed.Rules);
    }

    [Theory]
    [InlineData(false, false, false, "Reads Not Switched. Writes Not Switched")]
    [InlineData(true, true, true, "All Reads Switched. Writes Switched")]
    [InlineData(true, true, false, "All Reads Switched. Writes Not Switched")]
    [InlineData(true, false, false, "Reads partially switched. All Replica Reads Switched. Rdonly not switched. Writes Not Switched")]
    [InlineData(false, true, false, "Reads partially switched. Replica not switched. All Rdonly Reads Switched. Writes Not Switched")]
    [InlineData(false, true, true, "Reads partially switched. Replica not switched. All Rdonly Reads Switched. Writes Switched")]
    [InlineData(false, false, true, "Reads Not Switched. Writes Switched")]
    public void Traffic_state_reads_in_vtctldclient_words(bool replica, bool rdonly, bool primary, string expected) =>
        Assert.Equal(expected, new TrafficState { Replica = replica, Rdonly = rdonly, Primary = primary }.ToString());

    [Fact]
    public void Switch_types_default_to_all_with_reads_before_writes()
    {
        Assert.Equal(["RDONLY", "REPLICA", "PRIMARY"], TrafficState.ParseSwitchTypes(null));
        Assert.Equal(["REPLICA", "PRIMARY"], TrafficState.ParseSwitchTypes("primary,replica"));
        var e = Assert.Throws<WorkflowValidationException>(() => TrafficState.ParseSwitchTypes("primary,master"));
        Assert.Contains("'primary,master'", e.Message);
    }
}

public class SpecValidationTests
{
    private static MoveTablesCreate Valid() => new()
    {
        Workflow = "commerce2customer", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer", "corder"],
    };

    [Fact]
    public void The_seeds_create_is_valid_and_its_instance_id_comes_from_target_and_workflow()
    {
        Valid().Validate();
        Assert.Equal("movetables:customer.commerce2customer", Valid().InstanceId);
    }

    [Theory]
    [InlineData("customer`; DROP TABLE corder; --")]
    [InlineData("a.b")]
    [InlineData("t' OR '1'='1")]
    [InlineData("")]
    public void Table_names_crafted_to_break_sql_are_refused_naming_the_value(string table)
    {
        var e = Assert.Throws<WorkflowValidationException>(() => (Valid() with { Tables = [table] }).Validate());
        Assert.Contains($"'{table}'", e.Message);
    }

    [Fact]
    public void Bad_flags_get_clear_errors()
    {
        Assert.Contains("--tables", Assert.Throws<WorkflowValidationException>(() => (Valid() with { Tables = [], AllTables = false }).Validate()).Message);
        Assert.Contains("'SOMETIMES'", Assert.Throws<WorkflowValidationException>(() => (Valid() with { ShardedAutoIncrementHandling = "SOMETIMES" }).Validate()).Message);
        Assert.Contains("'SOMETIMES'", Assert.Throws<WorkflowValidationException>(() => (Valid() with { OnDdl = "SOMETIMES" }).Validate()).Message);
        Assert.Contains("'x_reverse'", Assert.Throws<WorkflowValidationException>(() => (Valid() with { Workflow = "x_reverse" }).Validate()).Message);
        Assert.Contains("'bad ks'", Assert.Throws<WorkflowValidationException>(() => (Valid() with { TargetKeyspace = "bad ks" }).Validate()).Message);
        Assert.Contains("both 'commerce'", Assert.Throws<WorkflowValidationException>(() => (Valid() with { TargetKeyspace = "commerce" }).Validate()).Message);
        Assert.Contains("--tablet-types", Assert.Throws<WorkflowValidationException>(() => (Valid() with { TabletTypes = "in_order:REPLICA,MASTER" }).Validate()).Message);
        Assert.Contains("approvers", Assert.Throws<WorkflowValidationException>(() => (Valid() with { Approvals = new ApprovalPolicy { Required = true } }).Validate()).Message);
        Assert.Contains("url", Assert.Throws<WorkflowValidationException>(() => (Valid() with { CutoverHooks = [new CutoverHook()] }).Validate()).Message);
    }

    [Fact]
    public void Vdiff_interval_is_a_duration_or_off_and_not_an_option_of_migrate()
    {
        (Valid() with { VDiffInterval = "30m" }).Validate();
        (Valid() with { VDiffInterval = "off" }).Validate();
        Assert.Contains("'soon'", Assert.Throws<WorkflowValidationException>(() => (Valid() with { VDiffInterval = "soon" }).Validate()).Message);
        Assert.Contains("not an option of Migrate", Assert.Throws<WorkflowValidationException>(() =>
            (Valid() with { VDiffInterval = "1h", Kind = WorkflowKinds.Migrate, MountName = "ext1" }).Validate()).Message);
        // Unset, it is not written, so a create from before the option has the same JSON (idempotent create compares it).
        Assert.DoesNotContain("vdiff_interval", JsonSerializer.Serialize(Valid()));
        Assert.Contains("\"vdiff_interval\":\"30m\"", JsonSerializer.Serialize(Valid() with { VDiffInterval = "30m" }));
    }

    [Fact]
    public void Spec_round_trips_through_json_with_the_seeds_flag_names()
    {
        var json = JsonSerializer.Serialize(Valid() with { DeferSecondaryKeys = true, SourceTimeZone = "US/Pacific" });
        Assert.Contains("\"defer_secondary_keys\":true", json);
        Assert.Contains("\"source_time_zone\":\"US/Pacific\"", json);
        Assert.Equal("US/Pacific", JsonSerializer.Deserialize<MoveTablesCreate>(json)!.SourceTimeZone);
    }
}

public class WriteGuardStatementTests
{
    [Fact]
    public void Trigger_statements_quote_every_value_and_exempt_only_the_engine_account()
    {
        var guards = new WriteGuards(["durable_filtered"]);
        var message = WriteGuards.Message("customer", "w", GuardSide.Target, "commerce", "customer");
        var sql = guards.CreateStatements(SqlQuoter.Standard, "vt_x", "customer", "w", GuardSide.Target, "o'brien", "it's " + message);
        Assert.Equal(3, sql.Count);
        Assert.All(sql, s => Assert.True(Durable.Replication.GuardDdl.IsGuardDdl(s), s)); // marked: no stream stops on it or runs it
        Assert.All(sql, s => Assert.Contains("/* durable:guard customer w Target 6f27627269656e */", s));
        Assert.All(sql, s => Assert.Contains("ON `vt_x`.`o'brien`", s));
        Assert.All(sql, s => Assert.Contains("NOT IN ('durable_filtered')", s));
        Assert.All(sql, s => Assert.Contains("'it\\'s Durable write guard", s));
        Assert.Contains("BEFORE INSERT", sql[0]);
        Assert.Contains("BEFORE UPDATE", sql[1]);
        Assert.Contains("BEFORE DELETE", sql[2]);
    }

    [Fact]
    public void Messages_name_the_workflow_and_fit_mariadbs_limit()
    {
        var m = WriteGuards.Message("customer", "commerce2customer", GuardSide.Source, "commerce", "customer");
        Assert.Equal("Durable write guard: commerce.customer was moved by workflow customer.commerce2customer; write to customer.customer", m);
        var longOne = WriteGuards.Message(new string('k', 64), new string('w', 58), GuardSide.Target, new string('s', 64), new string('t', 64));
        Assert.True(longOne.Length <= WriteGuards.MaxMessageLength);
        Assert.True(WriteGuards.TriggerName(new string('k', 64), new string('w', 58), GuardSide.Target, new string('t', 64), "i").Length <= 64);
        Assert.NotEqual(WriteGuards.TriggerName("k", "w", GuardSide.Target, "t", "i"), WriteGuards.TriggerName("k", "w", GuardSide.Source, "t", "i"));
    }
}

public class ApprovalTests
{
    private static readonly byte[] AliceKey = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] MalloryKey = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();
    private const string Instance = "movetables:customer.commerce2customer";

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static readonly DateTimeOffset Now = new(2026, 11, 22, 1, 0, 0, TimeSpan.Zero);

    private static ApprovalVerifier Verifier(INonceStore? nonces = null) =>
        new(new ConfiguredApproverKeys(new Dictionary<string, byte[]> { ["alice"] = AliceKey, ["mallory"] = MalloryKey }), nonces ?? new InMemoryNonceStore(), new FixedTime(Now));

    /// <summary>Checks <paramref name="a"/> while SwitchTraffic (request <paramref name="pendingId"/>) waits in traffic generation 0.</summary>
    private static Task<ApprovalVerdict> Check(ApprovalVerifier v, SignedApproval a, string[] approvers, string pendingId = "s1@t0") =>
        v.VerifyAsync(new VerifyApprovalRequest(Instance, approvers, a, "SwitchTraffic", 0, pendingId), default);

    [Fact]
    public async Task A_valid_approval_counts_once_and_its_replay_is_refused()
    {
        var v = Verifier();
        var a = SignedApproval.Sign(AliceKey, Instance, "SwitchTraffic", 0, "alice", "n-1", Now.AddMinutes(10));
        var first = await Check(v, a, ["alice"]);
        Assert.True(first.Accepted, first.Reason);
        Assert.Equal("SwitchTraffic", first.Action);
        // The same check for the same pending command (a redelivered activity) is the same decision.
        Assert.True((await Check(v, a, ["alice"])).Accepted);
        var replay = await Check(v, a, ["alice"], "s2@t1");
        Assert.False(replay.Accepted);
        Assert.Contains("already used", replay.Reason);
    }

    [Fact]
    public async Task Non_approvers_bad_signatures_expired_and_misbound_approvals_are_refused()
    {
        var v = Verifier();
        string[] approvers = ["alice"];
        var fromMallory = SignedApproval.Sign(MalloryKey, Instance, "SwitchTraffic", 0, "mallory", "n-2", Now.AddMinutes(10));
        Assert.Contains("not an approver", (await Check(v, fromMallory, approvers)).Reason);

        var forged = SignedApproval.Sign(MalloryKey, Instance, "SwitchTraffic", 0, "alice", "n-3", Now.AddMinutes(10));
        Assert.StartsWith("bad signature", (await Check(v, forged, approvers)).Reason);

        var tampered = SignedApproval.Sign(AliceKey, Instance, "SwitchTraffic", 0, "alice", "n-4", Now.AddMinutes(10)) with { Action = "Complete" };
        Assert.StartsWith("bad signature", (await Check(v, tampered, approvers)).Reason);

        var expired = SignedApproval.Sign(AliceKey, Instance, "SwitchTraffic", 0, "alice", "n-5", Now.AddSeconds(-1));
        Assert.Contains("expired", (await Check(v, expired, approvers)).Reason);

        var otherInstance = SignedApproval.Sign(AliceKey, "movetables:customer.other", "SwitchTraffic", 0, "alice", "n-6", Now.AddMinutes(10));
        Assert.Contains("not 'movetables:customer.commerce2customer'", (await Check(v, otherInstance, approvers)).Reason);

        var notHex = SignedApproval.Sign(AliceKey, Instance, "SwitchTraffic", 0, "alice", "n-7", Now.AddMinutes(10)) with { Signature = "zz" };
        Assert.Contains("not hex", (await Check(v, notHex, approvers)).Reason);

        // A refused approval does not burn the nonce: the real one with the same nonce still counts.
        var real = SignedApproval.Sign(AliceKey, Instance, "SwitchTraffic", 0, "alice", "n-3", Now.AddMinutes(10));
        Assert.True((await Check(v, real, approvers)).Accepted);
    }

    [Fact]
    public void Approver_keys_parse_from_configuration_without_echoing_keys()
    {
        var keys = ConfiguredApproverKeys.Parse("alice=" + Convert.ToBase64String(AliceKey) + ";bob=" + Convert.ToBase64String(MalloryKey));
        Assert.Equal(AliceKey, keys.KeyOf("alice"));
        Assert.Null(keys.KeyOf("carol"));
        var e = Assert.Throws<WorkflowValidationException>(() => ConfiguredApproverKeys.Parse("alice=not*base64*secret"));
        Assert.DoesNotContain("secret", e.Message);
    }
}

public class CommandRulesTests
{
    private static WorkflowState Running(TrafficState? traffic = null) => new()
    {
        Spec = new MoveTablesCreate { Workflow = "w", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer"] },
        Tables = ["customer"],
        Phase = Phases.Running,
        Copy = [new TableProgress("customer", 5, 5, true)],
        Traffic = traffic ?? new TrafficState(),
        ReverseStreams = traffic?.Primary == true ? [new StreamRef("commerce", "0", 1, "0")] : [],
    };

    private static WorkflowCommand Cmd(string action, SwitchOptions? s = null) => new() { Action = action, RequestId = "r", Switch = s };

    [Fact]
    public void Each_command_is_refused_in_the_states_the_seeds_forbid()
    {
        var copying = Running() with { Phase = Phases.Copying, Copy = [new TableProgress("customer", 2, 5, false)] };
        Assert.Contains("copy has not finished", Assert.Throws<WorkflowStateException>(() => CommandRules.Check(copying, Cmd("SwitchTraffic"))).Message);
        Assert.Contains("not all traffic is switched", Assert.Throws<WorkflowStateException>(() => CommandRules.Check(Running(), Cmd("Complete"))).Message);
        Assert.Contains("no RDONLY,REPLICA,PRIMARY traffic has been switched", Assert.Throws<WorkflowStateException>(() => CommandRules.Check(Running(), Cmd("ReverseTraffic"))).Message);
        var switched = Running(new TrafficState { Replica = true, Rdonly = true, Primary = true });
        Assert.Contains("writes are switched", Assert.Throws<WorkflowStateException>(() => CommandRules.Check(switched, Cmd("cancel"))).Message);
        Assert.Contains("already switched", Assert.Throws<WorkflowStateException>(() => CommandRules.Check(switched, Cmd("SwitchTraffic"))).Message);
        Assert.Contains("'Explode'", Assert.Throws<WorkflowValidationException>(() => CommandRules.Check(Running(), Cmd("Explode"))).Message);
        Assert.Contains("--max-replication-lag-allowed", Assert.Throws<WorkflowValidationException>(() =>
            CommandRules.Check(Running(), Cmd("SwitchTraffic", new SwitchOptions { MaxReplicationLagAllowedSeconds = -1 }))).Message);

        CommandRules.Check(Running(), Cmd("SwitchTraffic"));
        CommandRules.Check(Running(), Cmd("Cancel"));
        CommandRules.Check(switched, Cmd("ReverseTraffic"));
        CommandRules.Check(switched, Cmd("Complete"));
    }
}
