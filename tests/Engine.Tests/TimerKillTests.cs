using Durable.Engine.TestHost;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Xunit.Abstractions;

namespace Durable.Engine.Tests;

/// <summary>
/// A durable timer outlives its host: it is a message in the task hub, not a wait in the process. A host killed
/// while an orchestration waits on a timer is restarted; the timer fires at its time (not lost, and not before it
/// but for the queue's one-second resolution) and the orchestration goes on.
/// </summary>
public sealed class TimerKillTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_durable_timer_fires_after_its_host_was_killed_and_restarted()
    {
        await using var hub = await ChildHub.CreateAsync(output);
        const string id = "timer";
        await hub.Client.ScheduleNewOrchestrationInstanceAsync(HostContract.TimerThenStep, 15, new StartOrchestrationOptions(id));
        var worker = "replica-" + hub.Name;
        var environment = new Dictionary<string, string> { [HostContract.WorkerId] = worker };

        DateTime fireAt;
        await using (var first = await hub.StartHostAsync(environment))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                var created = ChildHub.Events(await hub.Client.GetHistoryAsync(id), "TimerCreated").FirstOrDefault();
                if (created is not null)
                {
                    fireAt = created["FireAt"]!.GetValue<DateTime>().ToUniversalTime();
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, "the orchestration never created its timer");
                await Task.Delay(100);
            }

            first.Kill();
            hub.Log($"killed host {first.Id} while the timer waits for {fireAt:HH:mm:ss.fff}");
        }

        Assert.Empty(hub.Ledger.Runs());
        await using (var second = await hub.StartHostAsync(environment))
        {
            var done = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(90));
            Assert.Equal(HostContract.StepOutput(0), done.ReadOutputAs<string>());
            // Not before its time, within the queue's resolution: the timer is a message hidden for whole seconds.
            Assert.True(done.LastUpdatedAt.UtcDateTime >= fireAt.AddSeconds(-1), $"completed at {done.LastUpdatedAt:o}, before the timer's {fireAt:o}");
            hub.Log($"completed {(done.LastUpdatedAt.UtcDateTime - fireAt).TotalSeconds:F1} s after the timer's time");
        }

        Assert.Equal([HostContract.RunLine(id, 0)], hub.Ledger.Runs());
        Assert.Equal([HostContract.EffectLine(id, 0)], hub.Ledger.Effects());
        Assert.Single(ChildHub.Events(await hub.Client.GetHistoryAsync(id), "TimerFired"));
    }
}
