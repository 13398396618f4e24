using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Durable.Functions.Orchestrations;
using Durable.Testing;
using Durable.VDiff;

namespace Durable.Workflows.Tests;

/// <summary>
/// VDiff in the lifecycle on the real cluster: the workflow's own VDiff (real engine, real alignment, the Streamer
/// running the streams) is clean after the copy; a row corrupted on the target makes the next VDiff find it and the gate
/// refuses SwitchTraffic at once; after a repair an operator's clean VDiff (run outside the workflow) lets the switch
/// proceed; the reverse workflow is then verified and Complete goes through.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VDiffLifecycleIntegrationTests
{
    private static async Task<WorkflowState> WaitAsync(ClusterBed bed, string id, Func<WorkflowState, bool> until, string what, int seconds = 120)
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

            await Task.Delay(200);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, error {last?.LastError}, vdiff {JsonSerializer.Serialize(last?.VDiff)}, audit: {string.Join(" | ", last?.Audit.TakeLast(6).Select(a => a.Action + ":" + a.Outcome + ":" + a.Detail) ?? [])}");
    }

    [Fact]
    public async Task A_target_mismatch_holds_switch_until_repaired_then_switch_and_complete_proceed()
    {
        await using var bed = new ClusterBed("vdlife");
        await bed.InitAsync();
        var table = "vdl_" + bed.Suffix;
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
            $"CREATE TABLE `{table}` (id INT PRIMARY KEY, name VARCHAR(40), n BIGINT)",
            $"INSERT INTO `{table}` SELECT seq, CONCAT('name', seq), seq FROM seq_1_to_500");
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(100, "vt_commerce", $"_{table}_old");
        bed.DropLater(200, "vt_customer", table);
        bed.StartStreamer();

        // The bed's engine serves both the MoveTables operations and the VDiff service to the activities.
        var vdiff = new VDiffService(bed.Env.Engine);
        await bed.StartWorkerAsync(registry =>
        {
            MoveTablesOrchestration.Register(registry);
            VDiffOrchestration.Register(registry);
        });
        {
            var workflow = "vdl_" + bed.Suffix;
            var spec = new MoveTablesCreate { Workflow = workflow, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [table], RequestedBy = "test" };
            var id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name,
                new WorkflowState { Spec = spec, VDiff = new VDiffGate { IntervalSeconds = 5 } }, new StartOrchestrationOptions(spec.InstanceId));

            var clean = await WaitAsync(bed, id, s => s.VDiff?.Last is not null, "first VDiff after the copy");
            Assert.True(clean.VDiff!.Last!.IsClean, clean.VDiff.Last.Describe());
            Assert.Equal(500, clean.VDiff.Last.RowsCompared);

            // Corruption on the target (through the engine's account, which the write guards let through).
            await ClusterBed.ExecAsync("filtered", 200, "vt_customer", $"UPDATE `{table}` SET name = 'corrupt' WHERE id = 42");
            // The next scheduled VDiff (5 s interval) finds it; a switch sent now is held and re-verified, still dirty.
            await WaitAsync(bed, id, s => s.VDiff?.Last?.HasMismatch == true, "a scheduled VDiff finds the corruption");
            // Slow the schedule down so the repair below does not run beside a scheduled VDiff.
            await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "VDiffSchedule", RequestId = "i1", RequestedBy = "test", VDiffInterval = "1h" });
            await WaitAsync(bed, id, s => s.Commands.Any(c => c.RequestId == "i1") && s.VDiff!.Running is null, "interval 1h");
            await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", RequestedBy = "test" });
            var held = await WaitAsync(bed, id, s => s.Commands.Any(c => c.RequestId == "s1"), "switch refused by a dirty VDiff");
            var refusal = held.Commands.Single(c => c.RequestId == "s1");
            Assert.True(refusal.State == "rejected", refusal.Message);
            Assert.Contains("1 mismatched", refusal.Message);
            Assert.False(held.Traffic.Primary);

            // Repair (as `VDiff create --repair` does), then an operator's VDiff (outside the workflow) comes back clean
            // and the command sent again passes the gate: operator-run VDiffs count as the scheduled ones do.
            var (uuid, _) = await vdiff.CreateAsync(workflow, "customer", new VDiffOptions { Repair = true });
            Assert.Equal(VDiffStates.Completed, await vdiff.RunShardAsync(uuid, workflow, "customer", "0", default));
            Assert.Equal("name42", await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT name FROM `{table}` WHERE id = 42"));
            var (check, _) = await vdiff.CreateAsync(workflow, "customer", new VDiffOptions());
            Assert.Equal(VDiffStates.Completed, await vdiff.RunShardAsync(check, workflow, "customer", "0", default));
            await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s2", RequestedBy = "test" });
            var switched = await WaitAsync(bed, id, s => s.Commands.Any(c => c.RequestId == "s2"), "switch after the repair");
            var result = switched.Commands.Last(c => c.RequestId == "s2");
            Assert.True(result.State == "done", result.Message);
            Assert.True(switched.Traffic.Primary);

            // After the write switch the reverse workflow is verified; Complete goes through on that clean VDiff.
            var reverse = await WaitAsync(bed, id, s => s.VDiff?.Last?.Workflow == workflow + "_reverse", "VDiff of the reverse workflow");
            Assert.True(reverse.VDiff!.Last!.IsClean, reverse.VDiff.Last.Describe());
            Assert.Equal("commerce", reverse.VDiff.Last.Keyspace);
            await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, new WorkflowCommand { Action = "Complete", RequestId = "x1", RequestedBy = "test" });
            var done = await WaitAsync(bed, id, s => s.Commands.Any(c => c.RequestId == "x1"), "complete");
            Assert.True(done.Phase == Phases.Completed, done.Commands.Last().Message);
        }
    }
}
