using Durable.Functions.Orchestrations;
using Durable.Replication;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Durable.Workflows.Tests;

/// <summary>
/// A MoveTables created with <c>--on-ddl STOP</c> switches, reverses and switches again like any other (issue 18,
/// point 7): the guards each switch installs and lifts are binlogged on both sides, and neither the forward streams
/// (reading the source) nor the reverse ones (reading the target) stop on them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class OnDdlWorkflowTests
{
    private static async Task<CommandResult> CommandAsync(ClusterBed bed, string id, string action, string requestId)
    {
        await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = action, RequestId = requestId, RequestedBy = "test" });
        var state = await bed.WaitStateAsync(id, s => s.Commands.Any(c => c.RequestId == requestId && c.State != "waiting for approval"), action);
        return state.Commands.Last(c => c.RequestId == requestId);
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(100);
        }
    }

    private static async Task<string> StreamsAsync(ClusterBed bed, string keyspace, string workflow) =>
        string.Join(", ", (await bed.Env.Engine.ListStreamsAsync(keyspace, "0", workflow)).Select(s => $"{s.State}:{s.Message}"));

    [Fact]
    public async Task A_workflow_with_on_ddl_stop_switches_reverses_and_switches_again_and_a_users_ddl_still_stops_it()
    {
        await using var bed = new ClusterBed("onddl");
        await bed.InitAsync();
        var table = "od_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{table}` (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20))",
            $"INSERT INTO `{table}` VALUES (1, 'one'), (2, 'two')");
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(200, "vt_customer", table);
        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var workflow = "od_" + bed.Suffix;
        var spec = new MoveTablesCreate { Workflow = workflow, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [table], OnDdl = "STOP", RequestedBy = "test" };
        var id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));
        await bed.WaitStateAsync(id, s => s.Phase == Phases.Running, "running");
        Assert.All(await bed.Env.Engine.ListStreamsAsync("customer", "0", workflow), s => Assert.Equal(OnDdl.Stop, s.OnDdl));

        var switched = await CommandAsync(bed, id, "SwitchTraffic", "s1");
        Assert.True(switched.State == "done", $"{switched.Message}; forward streams: {await StreamsAsync(bed, "customer", workflow)}");
        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{table}` VALUES (3, 'three')");
        await EventuallyAsync(async () => await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT v FROM `{table}` WHERE id = 3") == "three",
            "row 3 carried back by the reverse stream");

        var reversed = await CommandAsync(bed, id, "ReverseTraffic", "r1");
        Assert.True(reversed.State == "done", $"{reversed.Message}; reverse streams: {await StreamsAsync(bed, "commerce", workflow + "_reverse")}");
        await ClusterBed.ExecAsync("app", 100, "vt_commerce", $"INSERT INTO `{table}` VALUES (4, 'four')");
        await EventuallyAsync(async () => await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT v FROM `{table}` WHERE id = 4") == "four",
            "row 4 replicated forward again");

        var again = await CommandAsync(bed, id, "SwitchTraffic", "s2");
        Assert.True(again.State == "done", $"{again.Message}; forward streams: {await StreamsAsync(bed, "customer", workflow)}");
        await ClusterBed.ExecAsync("app", 200, "vt_customer", $"INSERT INTO `{table}` VALUES (5, 'five')");
        await EventuallyAsync(async () => await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", $"SELECT v FROM `{table}` WHERE id = 5") == "five",
            "row 5 carried back after the second switch");
        Assert.All(await bed.Env.Engine.ListStreamsAsync("commerce", "0", workflow + "_reverse"), s => Assert.Equal(StreamState.Running, s.State));

        // A user's schema change on the side writes go to still stops the (reverse) stream, as on_ddl=STOP asks.
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"ALTER TABLE `{table}` ADD COLUMN extra INT NOT NULL DEFAULT 7");
        await EventuallyAsync(async () => (await bed.Env.Engine.ListStreamsAsync("commerce", "0", workflow + "_reverse")).All(s => s.State == StreamState.Stopped && s.Message.StartsWith("Stopped at DDL ALTER TABLE", StringComparison.Ordinal)),
            "the reverse stream stopped at the user's ALTER");
    }
}
