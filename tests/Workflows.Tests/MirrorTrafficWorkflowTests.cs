using Durable.Functions.Orchestrations;
using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// MoveTables MirrorTraffic through the orchestration on the local cluster: it writes the workflow's mirror rules (one
/// per table and tablet type), refuses a percent outside 0-100 and any mirror once traffic is switched (changing
/// nothing), SwitchTraffic removes the rules as a step its dry run lists, and Cancel leaves none behind; rules of other
/// tables are never touched.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MirrorTrafficWorkflowTests
{
    [Fact]
    public async Task MirrorTraffic_writes_the_rules_before_the_switch_the_switch_removes_them_and_mirroring_after_it_is_refused()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("mirror", "customer");
        await using var _ = bed;
        var id = state.Spec.InstanceId;
        var store = bed.Env.Store;

        // Someone else's rule, which no command of this workflow may touch.
        var foreign = new MirrorRule($"commerce.other_{bed.Suffix}", $"customer.other_{bed.Suffix}", 50);
        await store.UpdateMirrorRulesAsync(r => r.With([foreign]));

        var mirrored = await CommandAsync(bed, id, new WorkflowCommand { Action = "MirrorTraffic", RequestId = "m1", Mirror = new MirrorTrafficOptions { Percent = 10 } });
        Assert.Equal("done", mirrored.State);
        Assert.StartsWith($"MirrorTraffic was successful for workflow customer.{state.Spec.Workflow}", mirrored.Message, StringComparison.Ordinal);
        var rules = (await store.GetMirrorRulesAsync()).Value.Rules;
        Assert.Equal(
            new[] { $"commerce.{table} -> customer.{table} 10", $"commerce.{table}@rdonly -> customer.{table} 10", $"commerce.{table}@replica -> customer.{table} 10", $"{foreign.FromTable} -> {foreign.ToTable} 50" }.Order(StringComparer.Ordinal),
            rules.Select(r => $"{r.FromTable} -> {r.ToTable} {r.Percent}").Order(StringComparer.Ordinal));

        // Status lists the workflow's rules (not the foreign one).
        var status = await new WorkflowViews(bed.Env).StatusAsync(state, default);
        Assert.Equal(3, status["mirror_rules"]!.AsArray().Count);

        // A percent outside 0-100 is refused and changes nothing.
        var revision = (await store.GetMirrorRulesAsync()).ModRevision;
        var bad = await CommandAsync(bed, id, new WorkflowCommand { Action = "MirrorTraffic", RequestId = "m2", Mirror = new MirrorTrafficOptions { Percent = 100.5 } });
        Assert.Equal("rejected", bad.State);
        Assert.Contains("--percent 100.5 is invalid", bad.Message, StringComparison.Ordinal);
        Assert.Equal(revision, (await store.GetMirrorRulesAsync()).ModRevision);

        // The switch's dry run lists the removal; the switch of RDONLY reads removes every rule of the workflow.
        var rdonly = new SwitchOptions { TabletTypes = ["RDONLY"], TimeoutSeconds = 30 };
        var dry = await bed.Env.Operations.DryRunSwitchAsync(state, rdonly, false, default);
        Assert.Contains($"Remove the mirror rules (MirrorTraffic) from tables [{table}] of keyspace commerce to keyspace customer, if any", dry.Lines);
        var switched = await CommandAsync(bed, id, new WorkflowCommand { Action = "SwitchTraffic", RequestId = "s1", Switch = rdonly });
        Assert.Equal("done", switched.State);
        Assert.Equal([foreign], (await store.GetMirrorRulesAsync()).Value.Rules);

        // After a switch, MirrorTraffic is refused (clearly) and changes nothing.
        revision = (await store.GetMirrorRulesAsync()).ModRevision;
        var late = await CommandAsync(bed, id, new WorkflowCommand { Action = "MirrorTraffic", RequestId = "m3", Mirror = new MirrorTrafficOptions { Percent = 5 } });
        Assert.Equal("rejected", late.State);
        Assert.Contains("Cannot mirror traffic", late.Message, StringComparison.Ordinal);
        Assert.Contains("already switched", late.Message, StringComparison.Ordinal);
        Assert.Equal(revision, (await store.GetMirrorRulesAsync()).ModRevision);

        // Rules written by hand meanwhile are gone after Cancel; the foreign rule stays.
        var after = (await bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true))!.ReadCustomStatusAs<WorkflowState>()!;
        await new WorkflowMirrorRules(store).ApplyAsync(after.Spec, after.Tables, new MirrorTrafficOptions { Percent = 1, TabletTypes = ["REPLICA"] }, default);
        Assert.Equal(2, (await store.GetMirrorRulesAsync()).Value.Rules.Count);
        var cancelled = await CommandAsync(bed, id, new WorkflowCommand { Action = "Cancel", RequestId = "c1" });
        Assert.Equal("done", cancelled.State);
        Assert.Equal([foreign], (await store.GetMirrorRulesAsync()).Value.Rules);
        await store.UpdateMirrorRulesAsync(r => r.Without(x => x == foreign));
    }

    [Fact]
    public void The_command_rules_refuse_bad_percents_migrate_and_switched_traffic_with_the_reason()
    {
        var spec = new MoveTablesCreate { Workflow = "wf", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["t"] };
        var state = new WorkflowState { Spec = spec, Phase = Phases.Running, Tables = ["t"] };
        CommandRules.Check(state, Mirror(0));
        CommandRules.Check(state, Mirror(100, "replica,rdonly"));
        Assert.Contains("--percent -1 is invalid", Assert.Throws<WorkflowValidationException>(() => CommandRules.Check(state, Mirror(-1))).Message, StringComparison.Ordinal);
        Assert.Contains("--tablet-types 'replica,bogus' is invalid", Assert.Throws<WorkflowValidationException>(() => CommandRules.Check(state, Mirror(5, "replica,bogus"))).Message, StringComparison.Ordinal);
        Assert.Contains("needs \"mirror\"", Assert.Throws<WorkflowValidationException>(() => CommandRules.Check(state, new WorkflowCommand { Action = "MirrorTraffic" })).Message, StringComparison.Ordinal);
        foreach (var traffic in new[] { new TrafficState { Replica = true }, new TrafficState { Rdonly = true }, new TrafficState { Primary = true, Replica = true, Rdonly = true } })
        {
            var error = Assert.Throws<WorkflowStateException>(() => CommandRules.Check(state with { Traffic = traffic }, Mirror(5)));
            Assert.Contains("Cannot mirror traffic of customer.wf: traffic is already switched", error.Message, StringComparison.Ordinal);
        }

        var migrate = state with { Spec = spec with { Kind = WorkflowKinds.Migrate, MountName = "ext" } };
        Assert.Contains("not available for Migrate", Assert.Throws<WorkflowStateException>(() => CommandRules.Check(migrate, Mirror(5))).Message, StringComparison.Ordinal);

        // The rules a MirrorTraffic writes: one per table and type, primary without a suffix.
        var rules = WorkflowMirrorRules.For(spec, ["a", "b"], new MirrorTrafficOptions { Percent = 2.5, TabletTypes = ["PRIMARY", "REPLICA"] });
        Assert.Equal(["commerce.a@replica", "commerce.b@replica", "commerce.a", "commerce.b"], rules.Select(r => r.FromTable));
        Assert.All(rules, r => Assert.Equal(2.5, r.Percent));
        Assert.True(WorkflowMirrorRules.Owns(spec, ["a"], new MirrorRule("commerce.a@rdonly", "customer.a", 1)));
        Assert.False(WorkflowMirrorRules.Owns(spec, ["a"], new MirrorRule("commerce.a", "other.a", 1)));
        Assert.False(WorkflowMirrorRules.Owns(spec, ["a"], new MirrorRule("commerce.ab", "customer.ab", 1)));
    }

    private static WorkflowCommand Mirror(double percent, string? types = null) => new()
    {
        Action = "MirrorTraffic",
        Mirror = new MirrorTrafficOptions { Percent = percent, TabletTypes = types is null ? [] : types.Split(',') },
    };

    private static async Task<CommandResult> CommandAsync(ClusterBed bed, string id, WorkflowCommand command)
    {
        await bed.Client.RaiseEventAsync(id, MoveTablesOrchestration.CommandEvent, command);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            var state = (await bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (state?.Commands.LastOrDefault(c => c.RequestId == command.RequestId) is { } answer)
            {
                return answer;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{command.Action} ({command.RequestId}) was never answered.");
    }
}
