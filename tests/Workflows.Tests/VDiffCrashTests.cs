using System.Text.Json;
using System.Text.RegularExpressions;
using Durable.Replication;
using Durable.Testing;
using Durable.VDiff;
using Xunit.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// kill -9 of the host in the middle of a VDiff, at every <c>vdiff.*</c> fault point: a private Functions host
/// (<see cref="SwitchTrafficCrashHost"/>, its own Azurite task hub) runs a VDiff created over HTTP and SIGKILLs itself
/// at the point; a fresh host process takes the orchestration over when the dead one's in-flight activity is delivered
/// again, and the same VDiff uuid finishes with exactly the per-table totals of an uninterrupted run on the same
/// quiesced data (which has one updated, one deleted and one extra row per table, so the totals are not trivially
/// zero). The stream the alignment parks is left running, as before the VDiff.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class VDiffCrashTests(ITestOutputHelper output)
{
    private const int Rows = 1500;
    private const int ChunkRows = 150;

    /// <summary>Each point with the hit it fires on: mid-table, or at the second table's alignment, so the kill leaves work half done.</summary>
    public static TheoryData<string, int, bool> Points() => new()
    {
        { "vdiff.align-stopped", 2, false },
        { "vdiff.align-snapshots", 2, false },
        { "vdiff.chunk-compared", 4, false },
        { "vdiff.chunk-checkpointed", 14, false },
        { "vdiff.repair-range-copied", 2, true },
    };

    [Fact]
    public void Every_vdiff_fault_point_in_the_code_has_a_crash_case()
    {
        var dir = Path.Combine(LocalCluster.RepositoryRoot(), "src", "Core", "VDiff");
        var inCode = Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => FaultPointHit().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .Distinct().Order(StringComparer.Ordinal).ToList();
        var tested = Points().Select(row => (string)row[0]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(inCode, tested);
    }

    [Theory]
    [MemberData(nameof(Points))]
    public async Task A_host_killed_at_a_vdiff_fault_point_finishes_the_same_vdiff_with_the_totals_of_an_uninterrupted_run(string point, int hit, bool repair)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var bed = new ClusterBed("vdcrash");
        await bed.InitAsync();
        var workflow = "vdc_" + bed.Suffix;
        string[] tables = ["a_" + bed.Suffix, "b_" + bed.Suffix];
        foreach (var table in tables)
        {
            bed.DropLater(100, "vt_commerce", table);
            bed.DropLater(200, "vt_customer", table);
            await ClusterBed.ExecAsync("dba", 100, "vt_commerce",
                $"CREATE TABLE `{table}` (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) COLLATE utf8mb4_general_ci, n BIGINT)",
                $"INSERT INTO `{table}` SELECT seq, CONCAT('name', seq), seq * 7 FROM seq_1_to_{Rows}");
        }

        // The workflow's stream, copied here; no Streamer runs it: each alignment runs it to its snapshot's position.
        var engine = bed.Env.Engine;
        var streamId = await engine.CreateStreamAsync(new StreamSpec
        {
            Workflow = workflow, SourceKeyspace = "commerce", SourceShard = "0", TargetKeyspace = "customer", TargetShard = "0", TargetDb = "vt_customer",
            Filter = new StreamFilter(tables.Select(t => new TableRule(t)).ToList()),
        });
        while (!(await engine.CopyChunkAsync("customer", "0", streamId, "vdiff-crash-test", new CopyBudget { MaxRows = 2000 })).Done)
        {
        }

        // Deliberate differences in each table, far from each other so they fall into different chunks.
        foreach (var table in tables)
        {
            await ClusterBed.ExecAsync("dba", 200, "vt_customer",
                $"UPDATE `{table}` SET name = 'changed' WHERE id = 77",
                $"DELETE FROM `{table}` WHERE id = 733",
                $"INSERT INTO `{table}` VALUES ({Rows + 500}, 'only on the target', 1)");
        }

        var options = new VDiffOptions { ChunkRows = ChunkRows, TabletTypes = "PRIMARY" };
        var service = new VDiffService(engine);
        var (straight, _) = await service.CreateAsync(workflow, "customer", options);
        Assert.Equal(VDiffStates.Completed, await service.RunShardAsync(straight, workflow, "customer", "0", default));
        var expected = Totals((await service.ShowAsync(workflow, "customer", straight, false))!);
        Assert.All(tables, t => Assert.Equal($"{t}: compared {Rows + 1}, matching {Rows - 2}, mismatched 1, extra source 1, extra target 1, state completed", expected[t]));
        output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s uninterrupted run done");

        var suffix = bed.Suffix.Replace("_", "", StringComparison.Ordinal);
        var hub = "VDiffCrash" + suffix;
        var work = Path.Combine(Path.GetTempPath(), "durable-vdiffcrash-" + suffix);
        var dll = SwitchTrafficCrashHost.PrepareBinaries(Path.Combine(work, "bin"));
        var key = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        SwitchTrafficCrashHost? host = null;
        try
        {
            host = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "root"), hub, bed, key, $"{point}@{hit}");
            var (status, created) = await host.PostAsync($"/api/vdiff/customer/{workflow}/create",
                new { chunk_rows = ChunkRows, tablet_types = "PRIMARY", repair });
            Assert.True(status == 202, $"create answered {status}: {created}");
            var uuid = created.GetProperty("UUID").GetString()!;
            await host.WaitForExitAsync(TimeSpan.FromSeconds(90));
            Assert.True(host.ExitCode == 137, $"the host should die by SIGKILL at {point}@{hit} (exit 137), exit code {host.ExitCode}:\n{SwitchTrafficCrashHost.Tail(host.Log)}");
            Assert.Contains($"fault point '{point}' reached", host.Log);
            await host.DisposeAsync();
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s killed at {point}@{hit}");
            var mid = (await service.ShowAsync(workflow, "customer", uuid, false))!;
            Assert.NotEqual(VDiffStates.Completed, mid.State);

            // A fresh host without the fault point: the orchestration goes on when the dead host's activity comes back.
            host = await SwitchTrafficCrashHost.StartAsync(dll, Path.Combine(work, "root"), hub, bed, key, null);
            var report = await WaitCompletedAsync(host, workflow, uuid, TimeSpan.FromSeconds(150));
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s finished after the kill: {report.GetProperty("State").GetString()}");
            var fromHost = (await service.ShowAsync(workflow, "customer", uuid, false))!;
            Assert.Equal(expected, Totals(fromHost));
            Assert.Equal(fromHost.RowsCompared, report.GetProperty("RowsCompared").GetInt64());

            // The alignment parks the stream only while it aligns: after the crash and the resumed run it runs again.
            var stream = (await engine.ListStreamsAsync("customer", "0", workflow)).Single();
            Assert.True(stream.State == StreamState.Running, $"stream left {stream.State} ({stream.Message}) after a kill at {point}");
            Assert.Null(stream.StopPosition);

            if (repair)
            {
                // The repair interrupted half-way was finished by the next host: a new VDiff is clean.
                var (again, _) = await service.CreateAsync(workflow, "customer", options);
                Assert.Equal(VDiffStates.Completed, await service.RunShardAsync(again, workflow, "customer", "0", default));
                var clean = (await service.ShowAsync(workflow, "customer", again, false))!;
                Assert.False(clean.HasMismatch, clean.ToJson());
                Assert.Equal(2 * Rows, clean.RowsCompared);
            }
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }

            try
            {
                Directory.Delete(work, true);
            }
            catch (IOException)
            {
            }
        }

        output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s {point} done");
    }

    private static Dictionary<string, string> Totals(VDiffReport report) =>
        report.TableSummary.ToDictionary(
            t => t.Key,
            t => $"{t.Key}: compared {t.Value.RowsCompared}, matching {t.Value.MatchingRows}, mismatched {t.Value.MismatchedRows}, " +
                 $"extra source {t.Value.ExtraRowsSource}, extra target {t.Value.ExtraRowsTarget}, state {t.Value.State}");

    private static async Task<JsonElement> WaitCompletedAsync(SwitchTrafficCrashHost host, string workflow, string uuid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            using var response = await host.Http.GetAsync($"{host.BaseUrl}/api/vdiff/customer/{workflow}/show/{uuid}");
            last = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                var report = JsonDocument.Parse(last).RootElement.Clone();
                var state = report.GetProperty("State").GetString();
                if (state == VDiffStates.Completed)
                {
                    return report;
                }

                Assert.True(state != VDiffStates.Error, $"VDiff {uuid} failed after the restart: {last}\n{Interesting(host.Log)}");
            }

            await Task.Delay(500);
        }

        // What the orchestrations say (the VDiff and its shard child) explains a run that never came back.
        var instance = Uri.EscapeDataString($"vdiff:customer.{workflow}:{uuid}");
        var parent = await host.Http.GetStringAsync($"{host.BaseUrl}/runtime/webhooks/durabletask/instances/{instance}?showHistory=true");
        var child = await host.Http.GetStringAsync($"{host.BaseUrl}/runtime/webhooks/durabletask/instances/{instance}%3A0?showHistory=true");
        throw new TimeoutException($"VDiff {uuid} did not complete within {timeout.TotalSeconds:0} s after the restart: {last}\nVDiff: {parent}\nshard: {child}\n{Interesting(host.Log)}");
    }

    /// <summary>The host log without the per-request lines of the polling (what explains a stuck or failed VDiff).</summary>
    private static string Interesting(string log) => SwitchTrafficCrashHost.Tail(string.Join("\n", log.Split('\n')
        .Where(l => !l.Contains("Microsoft.AspNetCore", StringComparison.Ordinal) && !l.Contains("endpoint 'HTTP", StringComparison.Ordinal)
                    && !l.Contains("Request finished", StringComparison.Ordinal) && !l.Contains("Request starting", StringComparison.Ordinal)
                    && !l.Contains("Setting HTTP status", StringComparison.Ordinal) && !l.Contains("Writing value of type", StringComparison.Ordinal))), 80);

    [GeneratedRegex(@"FaultPoints\.Hit\(""(vdiff\.[a-z0-9.-]+)""\)")]
    private static partial Regex FaultPointHit();
}
