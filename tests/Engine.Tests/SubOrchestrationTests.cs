using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Durable.Engine.Tests;

/// <summary>
/// Sub-orchestrations on the engine: a sub-orchestration reads its caller from <c>context.Parent</c> (name and
/// instance id; the framework's shim is told the parent by the engine's dispatch middleware), in every episode, at
/// every depth; a top-level orchestration has none. Results and failures travel back to the caller.
/// </summary>
public sealed class SubOrchestrationTests
{
    private static string Describe(ParentOrchestrationInstance? parent) => parent is null ? "none" : $"{parent.Name.Name}/{parent.InstanceId}";

    private static void Register(DurableTaskRegistry r) => r
        .AddOrchestratorFunc<object?, string>("Root", async (ctx, _) =>
        {
            var named = await ctx.CallSubOrchestratorAsync<string>("Child", null, new SubOrchestrationOptions { InstanceId = ctx.InstanceId + "-child" });
            // Without a chosen id the child gets a generated one; it still knows its caller.
            var generated = await ctx.CallSubOrchestratorAsync<string>("Grandchild");
            return $"root sees {Describe(ctx.Parent)}; {named}; generated sees {generated}";
        })
        .AddOrchestratorFunc<object?, string>("Child", async (ctx, _) =>
        {
            var first = Describe(ctx.Parent);
            // A later episode replays from history: the parent must still be there.
            await ctx.CallActivityAsync("Noop");
            var later = Describe(ctx.Parent);
            var grand = await ctx.CallSubOrchestratorAsync<string>("Grandchild", null, new SubOrchestrationOptions { InstanceId = ctx.InstanceId + "-grand" });
            return $"child {ctx.InstanceId} sees {first} then {later}; grandchild sees {grand}";
        })
        .AddOrchestratorFunc<object?, string>("Grandchild", (ctx, _) => Task.FromResult(Describe(ctx.Parent)))
        .AddOrchestratorFunc<int, string>("CatchesChild", async (ctx, x) =>
        {
            var value = await ctx.CallSubOrchestratorAsync<int>("AddOne", x);
            try
            {
                await ctx.CallSubOrchestratorAsync("FailingChild");
                return "no failure";
            }
            catch (TaskFailedException e)
            {
                return $"{value}; caught: {e.FailureDetails.ErrorMessage}";
            }
        })
        .AddOrchestratorFunc<int, int>("AddOne", (_, x) => Task.FromResult(x + 1))
        .AddOrchestratorFunc<object?, int>("FailingChild", (_, _) => Task.FromException<int>(new InvalidOperationException("child broke")))
        .AddActivityFunc<object?>("Noop", (_, _) => Task.CompletedTask);

    [Fact]
    public async Task A_sub_orchestration_reads_its_parent_name_and_instance_id_in_every_episode_and_at_every_depth()
    {
        await using var hub = await InProcessHub.StartAsync(Register);
        var m = await hub.RunAsync("Root", instanceId: "p1");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, m.RuntimeStatus);
        Assert.Equal(
            "root sees none; child p1-child sees Root/p1 then Root/p1; grandchild sees Child/p1-child; generated sees Root/p1",
            m.ReadOutputAs<string>());
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await hub.Client.GetInstanceAsync("p1-child-grand"))!.RuntimeStatus);

        // Failures travel up: the caller catches the child's failure with its message.
        var caught = await hub.RunAsync("CatchesChild", 41);
        Assert.True(caught.RuntimeStatus == OrchestrationRuntimeStatus.Completed,
            $"{caught.RuntimeStatus}: {caught.SerializedOutput} {caught.FailureDetails?.ErrorType} {caught.FailureDetails?.ErrorMessage}");
        Assert.Equal("42; caught: child broke", caught.ReadOutputAs<string>());
    }
}
