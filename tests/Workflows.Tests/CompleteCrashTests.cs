using Xunit.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// The host really killed at every <c>complete.*</c> fault point of <see cref="SwitchFaultPoints"/> while it completes a
/// switched workflow (one workflow per point): a live process (the test's recovery sweep, as the Streamer runs it)
/// runs Complete to its end from its journal within the recovery bound, without the host; the next host's redelivered
/// activity changes nothing and the workflow shows Completed; the source table, guards, streams, rules and records are
/// gone and the target keeps every row.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CompleteCrashTests(ITestOutputHelper output)
{
    private const string Source = "commerce";
    private const string Target = "customer";

    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(30 + 15);

    [Fact]
    public async Task A_host_killed_at_each_complete_fault_point_is_finished_by_a_live_process_within_the_bound()
    {
        var points = SwitchFaultPoints.All.Where(p => p.Commands.Contains("Complete")).Select(p => p.Name).ToList();
        Assert.NotEmpty(points);
        await using var bed = new ClusterBed("cmpl");
        await bed.InitAsync();
        var tables = points.Select((_, i) => $"t{i}_{bed.Suffix}").ToList();
        foreach (var table in tables)
        {
            await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
                $"CREATE TABLE `{table}` (id BIGINT NOT NULL, v VARCHAR(64) NOT NULL, PRIMARY KEY (id))",
                $"INSERT INTO `{table}` (id, v) VALUES " + string.Join(",", Enumerable.Range(1, 100).Select(i => $"({i}, 'seed{i}')")));
            bed.DropLater(100, "vt_commerce", table);
            bed.DropLater(200, "vt_customer", table);
        }

        bed.StartStreamer();
        await using var recovery = RecoverySweep.Start(bed);
        var suffix = bed.Suffix.Replace("_", "", StringComparison.Ordinal);
        var hub = "Cmpl" + suffix;
        var work = Path.Combine(Path.GetTempPath(), "durable-cmpl-" + suffix);
        var dll = SwitchTrafficCrashHost.PrepareBinaries(Path.Combine(work, "bin"));
        var key = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        SwitchTrafficCrashHost? host = null;
        try
        {
            // Every workflow created, copied and switched by one host armed with the first point (Complete is not run yet).
            host = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "root"), hub, bed, key, points[0]);
            for (var i = 0; i < tables.Count; i++)
            {
                var (status, created) = await host.PostAsync($"/api/movetables/{Target}/w{i}_{bed.Suffix}/create",
                    new { source_keyspace = Source, tables = new[] { tables[i] }, tablet_types = "PRIMARY", vdiff_interval = "off" });
                Assert.True(status == 202, $"create answered {status}: {created}");
            }

            for (var i = 0; i < tables.Count; i++)
            {
                await WaitStateAsync(host, $"w{i}_{bed.Suffix}", s => s.Phase == Phases.Running, "copy done", TimeSpan.FromSeconds(180));
                var switched = await CommandAsync(host, $"w{i}_{bed.Suffix}", "switchtraffic", TimeSpan.FromSeconds(120));
                Assert.True(switched.Traffic.Primary, $"w{i}: {switched.LastError}");
            }

            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s {tables.Count} workflows switched");
            for (var i = 0; i < points.Count; i++)
            {
                var point = points[i];
                var workflow = $"w{i}_{bed.Suffix}";
                var (code, accepted) = await host.PostAsync($"/api/movetables/{Target}/{workflow}/complete", new { });
                Assert.True(code == 202, $"complete answered {code}: {accepted}");
                var requestId = accepted.GetProperty("request_id").GetString()!;
                Assert.True(await host.TryWaitForExitAsync(TimeSpan.FromSeconds(120)), $"the host did not die at {point}:\n{SwitchTrafficCrashHost.Tail(host.Log)}");
                Assert.True(host.ExitCode == 137 && host.Log.Contains($"fault point '{point}' reached", StringComparison.Ordinal),
                    $"the host should die by SIGKILL at {point}, exit code {host.ExitCode}:\n{SwitchTrafficCrashHost.Tail(host.Log)}");
                await host.DisposeAsync();
                var killed = System.Diagnostics.Stopwatch.StartNew();

                // No host runs: the sweep runs Complete to its end from its journal once the dead host's lease lapses.
                while (await bed.Env.Registry.GetCleanupJournalAsync(Target, workflow, default) is { } journal)
                {
                    Assert.True(killed.Elapsed < RecoveryBound, $"{point}: the Complete journal of {journal.Holder} was not ended within {RecoveryBound.TotalSeconds} s");
                    await Task.Delay(100);
                }

                output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s killed at {point}; Complete finished by the sweep {killed.Elapsed.TotalSeconds:0.0} s after the kill");
                await AssertCompletedAsync(bed, tables[i], workflow, point);

                // The next host gets the dead host's activity again: Complete runs once more, idempotently (it passes
                // every point once, so the host is armed for the next point's second hit), changes nothing, and the
                // workflow shows Completed.
                host = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "root"), hub, bed, key, i + 1 < points.Count ? points[i + 1] + "@2" : null);
                var state = await WaitStateAsync(host, workflow, s => s.Commands.Any(c => c.RequestId == requestId) && s.IsFinished, "Complete's result", TimeSpan.FromSeconds(150));
                Assert.True(state.Phase == Phases.Completed, $"{point}: phase {state.Phase}, error {state.LastError}");
                await AssertCompletedAsync(bed, tables[i], workflow, point + " and the redelivery");
            }

            await host.StopAsync();
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }

            await SwitchTrafficCrashHost.DeleteHubAsync(hub);
            try
            {
                Directory.Delete(work, true);
            }
            catch (IOException)
            {
                // a leftover temp folder is harmless
            }
        }
    }

    /// <summary>Everything Complete removes is gone, and the target kept every row.</summary>
    private static async Task AssertCompletedAsync(ClusterBed bed, string table, string workflow, string point)
    {
        Assert.Null(await ClusterBed.ScalarAsync("dba", 100, "vt_commerce",
            $"SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = '{table}'"));
        Assert.Equal("100", await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT COUNT(*) FROM `{table}`"));
        Assert.Equal("0", await ClusterBed.ScalarAsync("dba", 200, "vt_customer",
            $"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'vt_customer' AND EVENT_OBJECT_TABLE = '{table}'"));
        Assert.DoesNotContain((await bed.Env.Store.GetRoutingRulesAsync()).Value.Rules, r => r.FromTable.Contains(table, StringComparison.Ordinal));
        Assert.Empty(await bed.Env.Engine.ListStreamsAsync(Target, "0", workflow));
        Assert.Empty(await bed.Env.Engine.ListStreamsAsync(Source, "0", workflow + "_reverse"));
        Assert.True(await bed.Env.Registry.GetAsync(Target, workflow) is null, $"after {point} the workflow record should be gone");
    }

    private static async Task<WorkflowState> CommandAsync(SwitchTrafficCrashHost host, string workflow, string action, TimeSpan timeout)
    {
        var (code, body) = await host.PostAsync($"/api/movetables/{Target}/{workflow}/{action}", new { @switch = new { timeout_seconds = 30 } });
        Assert.True(code == 202, $"{action} answered {code}: {body}");
        var id = body.GetProperty("request_id").GetString()!;
        return await WaitStateAsync(host, workflow, s => s.Phase != Phases.Switching && s.Commands.Any(c => c.RequestId == id), $"{action}'s result", timeout);
    }

    private static async Task<WorkflowState> WaitStateAsync(SwitchTrafficCrashHost host, string workflow, Func<WorkflowState, bool> until, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (host.HasExited)
            {
                Assert.Fail($"the host exited ({host.ExitCode}) while waiting for {what} of {workflow}:\n{SwitchTrafficCrashHost.Tail(host.Log)}");
            }

            last = await host.StateAsync(Target, workflow);
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"Never reached: {what} of {workflow}. Phase {last?.Phase}, traffic {last?.TrafficStateText}, error {last?.LastError}\n{SwitchTrafficCrashHost.Tail(host.Log)}");
    }
}
