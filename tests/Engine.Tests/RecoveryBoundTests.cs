using Durable.Engine.TestHost;
using Durable.Functions.Runner;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Xunit.Abstractions;

namespace Durable.Engine.Tests;

/// <summary>
/// The recovery times the product promises with its built-in settings (host.json's defaults,
/// <see cref="DurableTaskSettings"/>, through <c>TaskHubSettings.ToAzureStorage</c>): a killed host's in-flight
/// activity runs again within 30 s and its orchestrations resume within 60 s. Hosts are processes killed with
/// SIGKILL; the restarted one is a new worker (machine-pid, as the product names a process), so it must wait for
/// the dead one's partition leases to expire. The bounds carry headroom for a loaded machine; the measured times are
/// in the test output.
/// </summary>
public abstract class RecoveryBoundTests(ITestOutputHelper output)
{
    /// <summary>The promise for an in-flight activity (30 s) with threefold headroom.</summary>
    protected static readonly TimeSpan ActivityBound = TimeSpan.FromSeconds(30 * 3);

    /// <summary>The promise for an orchestration (60 s) with two and a half times headroom.</summary>
    protected static readonly TimeSpan OrchestrationBound = TimeSpan.FromSeconds(60 * 2.5);

    protected ITestOutputHelper Output { get; } = output;

    protected static string Defaults()
    {
        var d = new DurableTaskSettings();
        return $"defaults: {d.PartitionCount} partitions, work-item visibility {d.WorkItemQueueVisibilityTimeout.TotalSeconds} s, " +
               $"control visibility {d.ControlQueueVisibilityTimeout.TotalSeconds} s, lease {d.LeaseInterval.TotalSeconds} s " +
               $"(renew {d.LeaseRenewInterval.TotalSeconds} s, acquire {d.LeaseAcquireInterval.TotalSeconds} s), polling {d.MaxQueuePollingInterval.TotalSeconds} s";
    }
}

public sealed class ActivityRecoveryBoundTests(ITestOutputHelper output) : RecoveryBoundTests(output)
{
    [Fact]
    public async Task After_a_kill_inside_an_activity_a_restarted_host_runs_it_again_within_the_promised_time()
    {
        await using var hub = await ChildHub.CreateAsync(Output, HostContract.ProductSettings);
        hub.Log(Defaults());
        const string id = "killed-in-step";
        await hub.Client.ScheduleNewOrchestrationInstanceAsync(HostContract.Chain, 3, new StartOrchestrationOptions(id));

        var first = await hub.StartHostAsync(new Dictionary<string, string> { [HostContract.SlowStep] = "1" });
        await hub.Ledger.WaitForRunAsync(id, 1, 1, TimeSpan.FromSeconds(120));
        first.Kill();
        var killedAt = DateTime.UtcNow;
        hub.Log($"killed host {first.Id} ({first.WorkerId}) inside step 1");

        var second = await hub.StartHostAsync();
        Assert.NotEqual(first.WorkerId, second.WorkerId);
        var rerun = await hub.Ledger.WaitForRunAsync(id, 1, 2, ActivityBound + TimeSpan.FromSeconds(30)) - killedAt;
        hub.Log($"step 1 ran again {rerun.TotalSeconds:F1} s after the kill");
        Assert.True(rerun < ActivityBound, $"the killed step ran again after {rerun.TotalSeconds:F1} s, over {ActivityBound.TotalSeconds} s");

        var done = await hub.WaitForCompletionAsync(id, OrchestrationBound + TimeSpan.FromSeconds(60));
        hub.Log($"completed {(DateTime.UtcNow - killedAt).TotalSeconds:F1} s after the kill");
        Assert.Equal(HostContract.ChainOutput(3), done.ReadOutputAs<string>());
        Assert.Equal(Enumerable.Range(0, 3).Select(s => HostContract.EffectLine(id, s)), hub.Ledger.Effects());
    }
}

public sealed class OrchestrationRecoveryBoundTests(ITestOutputHelper output) : RecoveryBoundTests(output)
{
    [Fact]
    public async Task After_a_kill_a_waiting_orchestration_resumes_on_a_restarted_host_within_the_promised_time()
    {
        await using var hub = await ChildHub.CreateAsync(Output, HostContract.ProductSettings);
        hub.Log(Defaults());
        const string id = "waiting";
        await hub.Client.ScheduleNewOrchestrationInstanceAsync(HostContract.AwaitThenStep, 5, new StartOrchestrationOptions(id));

        var first = await hub.StartHostAsync();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            Assert.Equal(OrchestrationRuntimeStatus.Running, (await hub.Client.WaitForInstanceStartAsync(id, cancellation: cts.Token)).RuntimeStatus);
        }

        // The dead host owned every partition: the instance's messages wait until the new worker takes its lease.
        first.Kill();
        var killedAt = DateTime.UtcNow;
        hub.Log($"killed host {first.Id} ({first.WorkerId}) while the orchestration waits");
        var second = await hub.StartHostAsync();
        Assert.NotEqual(first.WorkerId, second.WorkerId);
        await hub.Client.RaiseEventAsync(id, HostContract.GoEvent, "now");

        var resumed = await hub.Ledger.WaitForRunAsync(id, 5, 1, OrchestrationBound + TimeSpan.FromSeconds(30)) - killedAt;
        hub.Log($"the orchestration resumed (ran its step) {resumed.TotalSeconds:F1} s after the kill");
        Assert.True(resumed < OrchestrationBound, $"the orchestration resumed after {resumed.TotalSeconds:F1} s, over {OrchestrationBound.TotalSeconds} s");
        var done = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(60));
        Assert.Equal(HostContract.StepOutput(5), done.ReadOutputAs<string>());
        Assert.Equal([HostContract.EffectLine(id, 5)], hub.Ledger.Effects());
    }
}
