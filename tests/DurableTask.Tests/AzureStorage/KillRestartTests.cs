using System.Diagnostics;
using Durable.DurableTask.Client;
using Durable.DurableTask.History;
using Durable.Testing;

namespace Durable.DurableTask.Tests.AzureStorage;

/// <summary>
/// Crash tests: a worker host in a child process is killed at each named fault point of the dispatch path (or with
/// SIGKILL), a fresh host is started, and the orchestration must complete without re-running any activity whose
/// completion was already in the history (the one in flight at the kill may run again).
/// </summary>
[Trait("Category", "Integration")]
public sealed class KillRestartTests
{
    private const int Steps = 6;

    public static TheoryData<string> DispatchFaultPoints => new()
    {
        "durable.orchestration.after-lock@3",
        "durable.orchestration.after-send@3",
        "durable.orchestration.after-commit@3",
        "durable.activity.after-lock@3",
        "durable.activity.after-run@3",
        "durable.activity.after-send@3",
    };

    [Theory]
    [MemberData(nameof(DispatchFaultPoints))]
    public async Task Killed_at_a_dispatch_fault_point_the_orchestration_completes_without_rerunning_completed_activities(string faultPoint)
    {
        await using var hub = new AzureHub(partitions: 1);
        await hub.Service.CreateIfNotExistsAsync();
        var log = Path.Combine(Path.GetTempPath(), $"durable-kill-{hub.HubName}.log");
        try
        {
            var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Chain", Steps, new StartOrchestrationOptions("chain"));

            using (var doomed = TestHostProcess.Start(hub.HubName, log, faultPoint))
            {
                var exited = await doomed.WaitForExitAsync(TimeSpan.FromSeconds(90));
                Assert.True(exited, $"the host never reached {faultPoint}; stderr: {doomed.Stderr}");
                Assert.Contains("fault point", doomed.Stderr);
            }

            var atKill = await hub.Service.GetStateAsync(id);
            var completedAtKill = atKill?.History.OfType<TaskCompletedEvent>().Select(e => e.TaskScheduledId).ToHashSet() ?? [];
            var stepsAtKill = (atKill?.History.OfType<TaskScheduledEvent>() ?? []).ToDictionary(e => e.EventId, e => e.Input);
            var linesAtKill = File.Exists(log) ? File.ReadAllLines(log).Length : 0;

            using (var healthy = TestHostProcess.Start(hub.HubName, log, null))
            {
                var m = await hub.WaitAsync(id, 120);
                Assert.Equal(OrchestrationRuntimeStatus.Completed, m.RuntimeStatus);
                Assert.Equal(Enumerable.Range(0, Steps).Sum(), m.ReadOutputAs<int>());
                await healthy.StopAsync();
            }

            var lines = File.ReadAllLines(log);
            var before = lines.Take(linesAtKill).ToList();
            var after = lines.Skip(linesAtKill).ToList();
            var rerun = after.Where(before.Contains).ToList();

            // Every step ran at least once.
            Assert.Equal(Steps, lines.Distinct().Count());

            // A step whose completion the history held at the kill never ran again; only the one in flight may.
            var completedSteps = completedAtKill.Select(id => $"run chain {stepsAtKill[id]}").ToHashSet();
            var inFlight = before.LastOrDefault();
            foreach (var r in rerun)
            {
                Assert.True(!completedSteps.Contains(r) || r == inFlight,
                    $"{r} ran again after the kill at {faultPoint} although its completion was in the history (completed: {string.Join(", ", completedSteps)}; in flight: {inFlight})");
            }

            // Killed after the activity message was sent but before the history recorded it, two messages of the in-flight
            // step are live after the restart: the one sent before the kill (already taken by the killed host, so it
            // reappears after the 10 s visibility) and the one the replay sends again. Both may run (at-least-once, as in
            // DurableTask.AzureStorage; activities are idempotent); the history keeps the first completion. Elsewhere
            // the in-flight step may run again once.
            var allowedReruns = faultPoint.StartsWith("durable.orchestration.after-send", StringComparison.Ordinal) ? 2 : 1;
            Assert.True(rerun.Count <= allowedReruns && rerun.All(r => r == inFlight),
                $"more than the in-flight activity ran again (allowed {allowedReruns}): {string.Join(", ", rerun)}; in flight: {inFlight}");
            var history = await hub.Client.GetOrchestrationHistoryAsync(id);
            Assert.Equal(Steps, history.OfType<TaskScheduledEvent>().Count());
            Assert.Equal(Steps, history.OfType<TaskCompletedEvent>().Count());
        }
        finally
        {
            File.Delete(log);
        }
    }

    public static TheoryData<string> PackedFanOutFaultPoints => new()
    {
        "durable.orchestration.after-send@1",
        "durable.activity.after-run@6",
        "durable.activity.after-send@3",
    };

    /// <summary>
    /// A fan-out of 128 travels as 16 work-item messages of 8 activities, whose replies are sent in groups; killed in
    /// the middle, the message of a partly finished pack carries only the activities whose reply was not yet sent.
    /// The test host runs at most 4 activities at once (half a pack) and frees a slot only once its part is finished
    /// (reply sent and the message rewritten or deleted), so only activities among the last 4 started before the kill
    /// may run again; the first half of a pack, finished before the kill, must not.
    /// </summary>
    [Theory]
    [MemberData(nameof(PackedFanOutFaultPoints))]
    public async Task Killed_during_a_packed_fan_out_only_activities_in_flight_run_again(string faultPoint)
    {
        const int n = 128;
        await using var hub = new AzureHub(partitions: 1);
        await hub.Service.CreateIfNotExistsAsync();
        var log = Path.Combine(Path.GetTempPath(), $"durable-kill-fan-{hub.HubName}.log");
        try
        {
            var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("FanOut", n, new StartOrchestrationOptions("fan"));
            using (var doomed = TestHostProcess.Start(hub.HubName, log, faultPoint))
            {
                var exited = await doomed.WaitForExitAsync(TimeSpan.FromSeconds(90));
                Assert.True(exited, $"the host never reached {faultPoint}; stderr: {doomed.Stderr}");
                Assert.Contains("fault point", doomed.Stderr);
            }

            var atKill = await hub.Service.GetStateAsync(id);
            var scheduled = (atKill?.History.OfType<TaskScheduledEvent>() ?? []).ToDictionary(e => e.EventId, e => e.Input);
            var completedAtKill = (atKill?.History.OfType<TaskCompletedEvent>() ?? []).Select(e => $"run fan {scheduled[e.TaskScheduledId]}").ToHashSet();
            var before = File.Exists(log) ? File.ReadAllLines(log).ToList() : [];

            using (var healthy = TestHostProcess.Start(hub.HubName, log, null))
            {
                var m = await hub.WaitAsync(id, 120);
                Assert.Equal(OrchestrationRuntimeStatus.Completed, m.RuntimeStatus);
                Assert.Equal(Enumerable.Range(0, n).Sum(), m.ReadOutputAs<int>());
                await healthy.StopAsync();
            }

            var after = File.ReadAllLines(log).Skip(before.Count).ToList();
            Assert.Equal(n, before.Concat(after).Distinct().Count());
            var inFlight = before.TakeLast(4).ToHashSet();
            foreach (var rerun in after.Where(before.Contains))
            {
                Assert.True(inFlight.Contains(rerun) || !completedAtKill.Contains(rerun),
                    $"{rerun} ran again after the kill at {faultPoint} although its completion was in the history and it was not among the last activities started ({string.Join(", ", inFlight)})");
                if (faultPoint.StartsWith("durable.activity.", StringComparison.Ordinal))
                {
                    // The fan-out was committed before: a finished activity's reply was durable and its pack rewritten.
                    Assert.True(inFlight.Contains(rerun),
                        $"{rerun} ran again after the kill at {faultPoint}, but its pack should no longer have carried it (in flight: {string.Join(", ", inFlight)})");
                }
            }

            var history = await hub.Client.GetOrchestrationHistoryAsync(id);
            Assert.Equal(n, history.OfType<TaskCompletedEvent>().Select(e => e.TaskScheduledId).Distinct().Count());
        }
        finally
        {
            File.Delete(log);
        }
    }

    /// <summary>
    /// A host stopped gracefully in the middle of a packed fan-out finishes what runs and gives the prefetched rest back
    /// (its packs rewritten to the unfinished activities, visible at once): another host finishes the fan-out and no
    /// activity runs twice.
    /// </summary>
    [Fact]
    public async Task A_host_stopped_during_a_packed_fan_out_hands_over_the_unfinished_activities()
    {
        const int n = 64;
        await using var hub = new AzureHub(partitions: 1);
        await hub.Service.CreateIfNotExistsAsync();
        var log = Path.Combine(Path.GetTempPath(), $"durable-stop-fan-{hub.HubName}.log");
        try
        {
            var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("FanOut", n, new StartOrchestrationOptions("fan"));
            using (var first = TestHostProcess.Start(hub.HubName, log, null))
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while ((!File.Exists(log) || File.ReadAllLines(log).Length < 8) && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(50);
                }

                await first.StopAsync();
            }

            var ranOnFirst = File.ReadAllLines(log).Length;
            Assert.InRange(ranOnFirst, 8, n - 1);
            using (var second = TestHostProcess.Start(hub.HubName, log, null))
            {
                var m = await hub.WaitAsync(id, 120);
                Assert.Equal(Enumerable.Range(0, n).Sum(), m.ReadOutputAs<int>());
                await second.StopAsync();
            }

            var lines = File.ReadAllLines(log);
            Assert.Equal(n, lines.Length);
            Assert.Equal(n, lines.Distinct().Count());
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public async Task A_durable_timer_survives_a_host_restart()
    {
        await using var hub = new AzureHub(partitions: 1);
        await hub.Service.CreateIfNotExistsAsync();
        var log = Path.Combine(Path.GetTempPath(), $"durable-timer-{hub.HubName}.log");
        try
        {
            var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Timer", 20, new StartOrchestrationOptions("timer"));
            DateTime fireAt;
            using (var first = TestHostProcess.Start(hub.HubName, log, null))
            {
                await AzureHubIntegrationTests.WaitForHistory(hub, id, h => h.OfType<TimerCreatedEvent>().Any());
                fireAt = (await hub.Service.GetStateAsync(id))!.History.OfType<TimerCreatedEvent>().Single().FireAt;
                first.Kill();
            }

            Assert.False(File.Exists(log));
            using var second = TestHostProcess.Start(hub.HubName, log, null);
            var m = await hub.WaitAsync(id, 120);
            Assert.Equal("fired", m.ReadOutputAs<string>());
            Assert.True(m.LastUpdatedAt.UtcDateTime >= fireAt, $"completed at {m.LastUpdatedAt:o}, before the timer's {fireAt:o}");
            Assert.Single(File.ReadAllLines(log));
            await second.StopAsync();
        }
        finally
        {
            File.Delete(log);
        }
    }
}

/// <summary>The test host (tests/DurableTask.TestHost) as a child process.</summary>
internal sealed class TestHostProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _stderr = new();

    private TestHostProcess(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static TestHostProcess Start(string hub, string log, string? faultPoints)
    {
        var testDir = AppContext.BaseDirectory; // .../tests/DurableTask.Tests/bin/<Config>/net10.0/
        var config = new DirectoryInfo(testDir.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var dll = Path.Combine(LocalCluster.RepositoryRoot(), "tests", "DurableTask.TestHost", "bin", config, "net10.0", "Durable.DurableTask.TestHost.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The test host is not built: {dll}. Build tests/DurableTask.Tests (it builds the host).");
        }

        var psi = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.Environment["AzureWebJobsStorage"] = LocalCluster.Current.AzureStorageConnectionString;
        psi.Environment["DURABLE_TESTHOST_HUB"] = hub;
        psi.Environment["DURABLE_TESTHOST_LOG"] = log;
        psi.Environment["DURABLE_FAULT_POINTS"] = faultPoints ?? string.Empty;
        return new TestHostProcess(Process.Start(psi)!);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Graceful stop: closing stdin makes the host stop its worker and release its leases.</summary>
    public async Task StopAsync()
    {
        _process.StandardInput.Close();
        if (!await WaitForExitAsync(TimeSpan.FromSeconds(30)))
        {
            Kill();
        }
    }

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
