using System.Diagnostics;
using System.Globalization;
using Azure.Data.Tables;
using Durable.Replication;
using Durable.Testing;
using DurableTask.AzureStorage.Partitioning;
using Xunit.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// Two host processes on one task hub share a MoveTables copy; the one that owns the hub's partition (so it runs the
/// orchestration) is killed with kill -9 in the middle of the copy. The other takes the partition over when the dead
/// host's lease lapses, its own and the dead host's activities run (again, where they were in flight), and the
/// workflow finishes with every row equal under a write load.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TwoHostCopyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_hosts_share_a_copy_and_when_the_partition_owner_is_killed_the_other_finishes_it_with_every_row_equal()
    {
        var clock = Stopwatch.StartNew();
        await using var bed = new ClusterBed("twohost");
        await bed.InitAsync();
        var table = "t2_" + bed.Suffix;
        var workflow = "t2w_" + bed.Suffix;
        await CopyCrashHostTests.CreateSeededTableAsync(bed, table);
        bed.StartStreamer();

        var suffix = bed.Suffix.Replace("_", "", StringComparison.Ordinal);
        var hub = "TwoHost" + suffix;
        var work = Path.Combine(Path.GetTempPath(), "durable-twohost-" + suffix);
        var dll = SwitchTrafficCrashHost.PrepareBinaries(Path.Combine(work, "bin"));
        var key = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        // Small chunks make a copy of several activities, so both hosts get some.
        var settings = new Dictionary<string, string> { [MoveTablesEnvironmentOptions.CopyChunkRowsSetting] = "200" };
        await using var load = new CopyCrashLoad(table, CopyCrashHostTests.KeySpace, Random.Shared.Next(), opsPerSecond: 150);
        SwitchTrafficCrashHost? a = null, b = null;
        try
        {
            a = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "a"), hub, bed, key, null, settings);
            b = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "b"), hub, bed, key, null, settings);
            load.Start();
            await load.WaitForOpsAsync(30);
            var (status, created) = await a.PostAsync($"/api/movetables/{CopyCrashHostTests.Target}/{workflow}/create",
                new { source_keyspace = CopyCrashHostTests.Source, tables = new[] { table }, tablet_types = "PRIMARY", vdiff_interval = "off" });
            Assert.True(status == 202, $"create answered {status}: {created}");

            await WaitForCopyUnderWayAsync(bed, workflow, TimeSpan.FromSeconds(90));
            var owner = await PartitionOwnerAsync(hub);
            var (victim, survivor) = owner.EndsWith("-" + a.ProcessId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) ? (a, b) : (b, a);
            Assert.True(owner.EndsWith("-" + victim.ProcessId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
                $"the partition's owner '{owner}' should be one of the two hosts (pids {a.ProcessId}, {b.ProcessId})");
            await victim.KillAsync();
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(10));
            var atKill = Assert.Single(await bed.Env.Engine.ListStreamsAsync(CopyCrashHostTests.Target, "0", workflow));
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s killed the partition owner {owner} mid-copy: {atKill.RowsCopied} rows copied, stream {atKill.State}");
            Assert.Equal(StreamState.Copying, atKill.State);

            var state = await WaitRunningAsync(survivor, workflow, TimeSpan.FromSeconds(180));
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s the surviving host finished the copy: phase {state.Phase}");
            Assert.True(state.Phase == Phases.Running, $"the surviving host should finish the copy: phase {state.Phase}, error {state.LastError}");
            Assert.Contains("reclaimed partition", survivor.Log, StringComparison.Ordinal);

            await Task.Delay(1000);
            await load.StopAsync();
            await CopyCrashHostTests.AssertSameRowsAsync(bed, workflow, table, "two hosts, partition owner killed");
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s target equals source");
            await survivor.StopAsync();
        }
        finally
        {
            foreach (var host in new[] { a, b })
            {
                if (host is not null)
                {
                    await host.DisposeAsync();
                }
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

    /// <summary>Waits until the copy has committed rows and is not done: the moment to kill a host "in the middle".</summary>
    private static async Task WaitForCopyUnderWayAsync(ClusterBed bed, string workflow, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var streams = await bed.Env.Engine.ListStreamsAsync(CopyCrashHostTests.Target, "0", workflow);
            if (streams.Count == 1 && streams[0].State == StreamState.Copying && streams[0].RowsCopied > 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the copy never got under way: {string.Join("; ", streams.Select(s => $"{s.State} {s.RowsCopied}"))}");
            await Task.Delay(100);
        }
    }

    /// <summary>The worker id that holds the hub's only partition (from the hub's Partitions table).</summary>
    private static async Task<string> PartitionOwnerAsync(string hub)
    {
        var table = new TableClient(LocalCluster.Current.AzureStorageConnectionString, hub + "Partitions");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await foreach (var lease in table.QueryAsync<TablePartitionLease>())
            {
                if (!string.IsNullOrEmpty(lease.CurrentOwner))
                {
                    return lease.CurrentOwner;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"no host owns a partition of {hub}");
            await Task.Delay(500);
        }
    }

    private static async Task<WorkflowState> WaitRunningAsync(SwitchTrafficCrashHost host, string workflow, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await host.StateAsync(CopyCrashHostTests.Target, workflow);
            }
            catch (HttpRequestException)
            {
                // the host is still starting its answer
            }

            if (last is not null && last.Phase is Phases.Running or Phases.Stopped or Phases.Failed)
            {
                return last;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"the surviving host did not finish the copy within {timeout.TotalSeconds:0} s: phase {last?.Phase}, error {last?.LastError}\n{SwitchTrafficCrashHost.Tail(host.Log)}");
    }
}
