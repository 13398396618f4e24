using System.Diagnostics;
using System.Globalization;
using Durable.Functions.Orchestrations;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Xunit.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// Copy progress moves within a chunk (issue 18, point 9): a user saw <c>0.0% 0/519229 rows</c> while 300,000 rows
/// were on the target, because status showed what the orchestration published after each chunk round. Here one chunk
/// runs well over 10 s (the target table takes each row slowly), and status and show report more rows copied at
/// least every 5 s while it runs.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CopyProgressTests(ITestOutputHelper output)
{
    private const int Rows = 6000;

    [Fact]
    public async Task Status_and_show_report_rows_copied_at_least_every_5_s_during_a_long_chunk()
    {
        await using var bed = new ClusterBed("progress");
        await bed.InitAsync();
        var table = "pg_" + bed.Suffix;
        bed.DropLater(100, "vt_commerce", table);
        bed.DropLater(200, "vt_customer", table);
        const string definition = "(id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)";
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{table}` {definition}", $"INSERT INTO `{table}` SELECT seq, CONCAT('row ', seq) FROM seq_1_to_{Rows}");
        // The target as the copy would create it, slowed to ~2.3 ms a row (a busy or throttled server): the rows of a
        // chunk that reads in a moment take ~14 s to land.
        await ClusterBed.ExecAsync("dba", 200, "vt_customer", $"CREATE TABLE `{table}` {definition}",
            $"CREATE TRIGGER `slow_{bed.Suffix}` BEFORE INSERT ON `{table}` FOR EACH ROW SET NEW.v = IF(SLEEP(0.002) = 0, NEW.v, NEW.v)");

        bed.StartStreamer();
        await bed.StartWorkerAsync();
        var workflow = "pg_" + bed.Suffix;
        var spec = new MoveTablesCreate { Workflow = workflow, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = [table], RequestedBy = "test" };
        var id = await bed.Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new StartOrchestrationOptions(spec.InstanceId));

        // Sample status and show as the HTTP API serves them, from the copy's start to its end.
        var views = new WorkflowViews(bed.Env);
        var samples = new List<(double At, long Status, long Show)>();
        var clock = Stopwatch.StartNew();
        WorkflowState? state = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            state = (await bed.Client.GetInstanceAsync(id, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (state?.Phase is Phases.Running or Phases.Failed or Phases.Stopped)
            {
                break;
            }

            if (state?.Phase == Phases.Copying && state.Streams.Count > 0)
            {
                var status = await views.StatusAsync(state, default);
                var show = await views.ShowAsync("customer", workflow, state, default);
                var statusRows = status["table_copy_state"]?[table]?["rows_copied"]?.GetValue<long>() ?? Rows; // gone: copied
                var showRows = show!["workflows"]![0]!["shard_streams"]!.AsObject().SelectMany(s => s.Value!["streams"]!.AsArray())
                    .Sum(s => long.Parse(s!["rows_copied"]!.GetValue<string>(), CultureInfo.InvariantCulture));
                samples.Add((clock.Elapsed.TotalSeconds, statusRows, showRows));
                output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s status {statusRows} show {showRows}");
            }

            await Task.Delay(250);
        }

        Assert.True(state?.Phase == Phases.Running, $"the copy did not finish: {state?.Phase} {state?.LastError}");
        Assert.Equal(Rows.ToString(CultureInfo.InvariantCulture), await ClusterBed.ScalarAsync("dba", 200, "vt_customer", $"SELECT COUNT(*) FROM `{table}`"));
        Assert.True(samples.Count > 0 && samples[^1].At - samples[0].At > 10, $"the copy should take over 10 s, took {(samples.Count > 0 ? samples[^1].At - samples[0].At : 0):0.0} s");
        AssertMovesEvery("status", samples.Select(s => (s.At, s.Status)).ToList(), samples[0].At);
        AssertMovesEvery("show", samples.Select(s => (s.At, s.Show)).ToList(), samples[0].At);
    }

    /// <summary>The value rises in several steps, no step more than 5 s after the previous (the first one within 8 s of the copy's start, which opens the snapshot first).</summary>
    private static void AssertMovesEvery(string what, List<(double At, long Rows)> samples, double start)
    {
        var changes = new List<(double At, long Rows)>();
        var last = 0L;
        foreach (var s in samples)
        {
            Assert.True(s.Rows >= last, $"{what} went back from {last} to {s.Rows}");
            if (s.Rows > last)
            {
                changes.Add(s);
            }

            last = s.Rows;
        }

        Assert.True(changes.Count(c => c.Rows < Rows) >= 3, $"{what} showed {changes.Count(c => c.Rows < Rows)} intermediate values during the chunk: {string.Join(", ", changes.Select(c => $"{c.Rows}@{c.At - start:0.0}s"))}");
        Assert.True(changes[0].At - start <= 8, $"{what} first moved {changes[0].At - start:0.0} s after the copy started");
        var gaps = changes.Zip(changes.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.True(gaps.All(g => g <= 5), $"{what} stood still for {gaps.Max():0.0} s: {string.Join(", ", changes.Select(c => $"{c.Rows}@{c.At - start:0.0}s"))}");
    }
}
