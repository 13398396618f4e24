using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Topology;

namespace Durable.Workflows.Tests;

[Trait("Category", "Integration")]
public sealed class WriteGuardIntegrationTests
{
    [Fact]
    public async Task Guards_refuse_every_write_of_other_accounts_with_the_workflow_name_and_let_the_engine_through()
    {
        await using var bed = new ClusterBed("guard");
        var table = "g_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"CREATE TABLE `{table}` (id INT PRIMARY KEY, v INT)", $"INSERT INTO `{table}` VALUES (1, 1)");
        bed.DropLater(200, "vt_customer", table);
        var workflow = "w_" + bed.Suffix;
        await using (var engine = await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 200, "vt_customer")))
        {
            await bed.Env.Operations.Guards.InstallAsync(engine, "vt_customer", "customer", workflow, "commerce", GuardSide.Target, [table], TimeSpan.FromSeconds(5), default);
            // Installing again is a no-op (a redelivered activity).
            await bed.Env.Operations.Guards.InstallAsync(engine, "vt_customer", "customer", workflow, "commerce", GuardSide.Target, [table], TimeSpan.FromSeconds(5), default);
            Assert.True(await WriteGuards.IsGuardedAsync(engine, "vt_customer", "customer", workflow, GuardSide.Target, table, default));
        }

        foreach (var (role, sql) in new[] { ("app", $"INSERT INTO `{table}` VALUES (2, 2)"), ("app", $"UPDATE `{table}` SET v = 5"), ("app", $"DELETE FROM `{table}`"), ("dba", $"INSERT INTO `{table}` VALUES (3, 3)") })
        {
            var e = await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync(role, 200, "vt_customer", sql));
            Assert.Contains($"workflow customer.{workflow}; write to commerce", e.Message);
        }

        await ClusterBed.ExecAsync("filtered", 200, "vt_customer", $"INSERT INTO `{table}` VALUES (4, 4)", $"UPDATE `{table}` SET v = 9 WHERE id = 4");
        Assert.Equal("2", await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT COUNT(*) FROM `{table}`"));

        await using (var engine = await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 200, "vt_customer")))
        {
            await WriteGuards.RemoveAsync(engine, "vt_customer", "customer", workflow, GuardSide.Target, [table], TimeSpan.FromSeconds(5), default);
            Assert.False(await WriteGuards.IsGuardedAsync(engine, "vt_customer", "customer", workflow, GuardSide.Target, table, default));
        }

        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{table}` VALUES (5, 5)");
    }
}

[Trait("Category", "Integration")]
public sealed class PreflightIntegrationTests
{
    [Fact]
    public async Task Each_bad_input_is_refused_with_a_clear_message_and_nothing_changes()
    {
        await using var bed = new ClusterBed("pre");
        await bed.InitAsync();
        var ok = "ok_" + bed.Suffix;
        var nopk = "nopk_" + bed.Suffix;
        var full = "full_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{ok}` (id INT PRIMARY KEY)", $"CREATE TABLE `{nopk}` (v INT)", $"CREATE TABLE `{full}` (id INT PRIMARY KEY)");
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"CREATE TABLE `{full}` (id INT PRIMARY KEY)", $"INSERT INTO `{full}` VALUES (1)");
        foreach (var t in new[] { ok, nopk, full })
        {
            bed.DropLater(100, "vt_commerce", t);
        }

        bed.DropLater(200, "vt_customer", full);
        var rulesBefore = (await bed.Env.Store.GetRoutingRulesAsync()).ModRevision;
        var ops = bed.Env.Operations;
        var spec = new MoveTablesCreate { Workflow = "w_" + bed.Suffix, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [ok] };

        Assert.Empty((await ops.PreflightAsync(spec, default)).Problems);
        Assert.Contains("Keyspace 'nowhere' (--target-keyspace) does not exist", Assert.Single((await ops.PreflightAsync(spec with { TargetKeyspace = "nowhere" }, default)).Problems));
        Assert.Contains(((await ops.PreflightAsync(spec with { Tables = ["missing_" + bed.Suffix] }, default)).Problems), p => p.Contains($"Table 'missing_{bed.Suffix}' does not exist in source keyspace commerce"));
        Assert.Contains(((await ops.PreflightAsync(spec with { Tables = [nopk] }, default)).Problems), p => p.Contains("has no primary key"));
        Assert.Contains(((await ops.PreflightAsync(spec with { Tables = [full] }, default)).Problems), p => p.Contains("already holds rows"));
        Assert.Contains("'x`; DROP TABLE t'", Assert.Single((await ops.PreflightAsync(spec with { Tables = ["x`; DROP TABLE t"] }, default)).Problems));

        await bed.Env.Registry.RegisterAsync(new WorkflowRecord("other", "customer", "commerce", [ok], "movetables:customer.other", false, DateTimeOffset.UtcNow), default);
        Assert.Contains(((await ops.PreflightAsync(spec, default)).Problems), p => p.Contains($"already move in workflow customer.other"));
        await Assert.ThrowsAsync<WorkflowStateException>(() => bed.Env.Registry.RegisterAsync(new WorkflowRecord("other", "customer", "commerce", [ok], "movetables:customer.someone-else", false, DateTimeOffset.UtcNow), default));

        Assert.Equal(rulesBefore, (await bed.Env.Store.GetRoutingRulesAsync()).ModRevision);
        Assert.Null(await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_customer' AND TABLE_NAME = '{ok}'"));
    }
}

[Trait("Category", "Integration")]
public sealed class WalkthroughIntegrationTests
{
    private static async Task<WorkflowState> WaitAsync(ClusterBed bed, string id, Func<WorkflowState, bool> until, string what, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, error {last?.LastError}, last commands: {string.Join(" | ", last?.Commands.TakeLast(3).Select(c => c.Action + ":" + c.State + ":" + c.Message) ?? [])}");
    }

    private static async Task<CommandResult> CommandAsync(ClusterBed bed, string id, WorkflowCommand command)
    {
        await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, command);
        var state = await WaitAsync(bed, id, s => s.Commands.Any(c => c.RequestId == command.RequestId && c.State != "waiting for approval"), command.Action);
        return state.Commands.Last(c => c.RequestId == command.RequestId);
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(what);
            }

            await Task.Delay(100);
        }
    }

    private static HashSet<string> Pairs(IEnumerable<RoutingRule> rules) => rules.Select(r => $"{r.FromTable}->{string.Join(",", r.ToTables)}").ToHashSet();

    [Fact]
    public async Task The_seeds_walkthrough_create_switch_reverse_switch_complete()
    {
        await using var bed = new ClusterBed("walk");
        await bed.InitAsync();
        var customer = "customer_" + bed.Suffix;
        var corder = "corder_" + bed.Suffix;
        string[] tables = [customer, corder];
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{customer}` (customer_id BIGINT NOT NULL AUTO_INCREMENT, email VARBINARY(128), PRIMARY KEY (customer_id))",
            $"CREATE TABLE `{corder}` (order_id BIGINT NOT NULL AUTO_INCREMENT, customer_id BIGINT, sku VARBINARY(128), price BIGINT, PRIMARY KEY (order_id))",
            $"INSERT INTO `{customer}` (customer_id, email) VALUES (1,'alice@domain.com'),(2,'bob@domain.com'),(3,'charlie@domain.com'),(4,'dan@domain.com'),(5,'eve@domain.com')",
            $"INSERT INTO `{corder}` (order_id, customer_id, sku, price) VALUES (1,1,'SKU-1001',100),(2,2,'SKU-1002',30),(3,3,'SKU-1002',30),(4,4,'SKU-1002',30),(5,5,'SKU-1002',30)");
        foreach (var t in tables)
        {
            bed.DropLater(100, "vt_commerce", t);
            bed.DropLater(100, "vt_commerce", $"_{t}_old");
            bed.DropLater(200, "vt_customer", t);
        }

        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var workflow = "c2c_" + bed.Suffix;
        var spec = new MoveTablesCreate { Workflow = workflow, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = tables, RequestedBy = "test" };
        var id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));

        // create → copy → replicating, rules as the seeds show them after create
        var running = await WaitAsync(bed, id, s => s.Phase == Phases.Running, "running");
        Assert.True(running.CopyDone, CommandRules.Progress(running));
        Assert.Equal(5, running.Copy.Single(t => t.Table == customer).RowsCopied);
        var rules = (await bed.Env.Store.GetRoutingRulesAsync()).Value;
        Assert.Equal(Pairs(RoutingRulesPlan.RulesFor("commerce", "customer", tables, new TrafficState())), Pairs(rules.Rules));
        Assert.Equal("5", await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT COUNT(*) FROM `{corder}`"));

        // a write to the target before the switch fails naming the workflow
        var early = await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{customer}` (email) VALUES ('early@x')"));
        Assert.Contains($"workflow customer.{workflow}", early.Message);

        // writes on the source replicate
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{customer}` (customer_id, email) VALUES (6, 'frank@domain.com')");
        await EventuallyAsync(async () => await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT email FROM `{customer}` WHERE customer_id = 6") == "frank@domain.com", "row 6 replicated");

        // SwitchTraffic
        var switched = await CommandAsync(bed, id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "test" });
        Assert.True(switched.State == "done", switched.Message);
        Assert.Contains("Current State: All Reads Switched. Writes Switched", switched.Message);
        rules = (await bed.Env.Store.GetRoutingRulesAsync()).Value;
        Assert.Equal(Pairs(RoutingRulesPlan.RulesFor("commerce", "customer", tables, new TrafficState { Replica = true, Rdonly = true, Primary = true })), Pairs(rules.Rules));

        // a write to the source after the switch fails naming the workflow; the target takes writes, carried back
        var late = await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{customer}` (email) VALUES ('late@x')"));
        Assert.Contains($"workflow customer.{workflow}; write to customer", late.Message);
        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{customer}` (customer_id, email) VALUES (7, 'grace@domain.com')");
        await EventuallyAsync(async () => await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT email FROM `{customer}` WHERE customer_id = 7") == "grace@domain.com", "row 7 carried back by the reverse workflow");
        Assert.Contains(await bed.Env.Registry.ListAsync("commerce"), w => w.Workflow == workflow + "_reverse");

        var cancel = await CommandAsync(bed, id, new WorkflowCommand { Action = "Cancel", RequestId = "c1" });
        Assert.Equal("rejected", cancel.State);

        // ReverseTraffic, then switch again
        var reversed = await CommandAsync(bed, id, new WorkflowCommand { Action = "ReverseTraffic", RequestId = "r1" });
        Assert.True(reversed.State == "done", reversed.Message);
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{customer}` (customer_id, email) VALUES (8, 'heidi@domain.com')");
        await EventuallyAsync(async () => await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT email FROM `{customer}` WHERE customer_id = 8") == "heidi@domain.com", "row 8 replicated forward again");
        await Assert.ThrowsAsync<MySqlException>(() => ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{customer}` (email) VALUES ('guarded-again@x')"));

        var again = await CommandAsync(bed, id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s2" });
        Assert.True(again.State == "done", again.Message);

        // data equal at the end
        foreach (var t in tables)
        {
            var key = t == customer ? "customer_id" : "order_id";
            var src = await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', {key}, {(t == customer ? "email" : "customer_id, sku, price")}))), 0)) FROM `{t}`");
            var dst = await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', {key}, {(t == customer ? "email" : "customer_id, sku, price")}))), 0)) FROM `{t}`");
            Assert.Equal(src, dst);
        }

        // Complete: source tables gone, no rules, no workflows in either keyspace
        var complete = await CommandAsync(bed, id, new WorkflowCommand { Action = "Complete", RequestId = "x1" });
        Assert.True(complete.State == "done", complete.Message);
        Assert.Equal($"Successfully completed the {workflow} workflow in the customer keyspace", complete.Message);
        Assert.Null(await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = '{customer}'"));
        Assert.Empty((await bed.Env.Store.GetRoutingRulesAsync()).Value.Rules);
        Assert.Empty(await bed.Env.Registry.ListAsync("customer"));
        Assert.Empty(await bed.Env.Registry.ListAsync("commerce"));
        Assert.Empty(await bed.Env.Engine.ListStreamsAsync("customer", "0", workflow));
        Assert.Empty(await bed.Env.Engine.ListStreamsAsync("commerce", "0", workflow + "_reverse"));
        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{customer}` (customer_id, email) VALUES (9, 'ivan@domain.com')");
    }
}
