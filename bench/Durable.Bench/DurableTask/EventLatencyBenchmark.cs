using System.Diagnostics;
using System.Globalization;

namespace Durable.Bench.DurableTask;

/// <summary>
/// durable-event [POSTS=20] [HOSTS=1]: how long an HTTP-posted command takes to reach the orchestration's next activity.
/// A probe host (<see cref="ProbeHost"/>: the Functions host with product default durable settings, on a private hub)
/// runs an orchestration that waits for an event, calls an activity that records when it started, and waits again.
/// Each post is <c>POST /runtime/webhooks/durabletask/instances/{id}/raiseEvent/Go</c>, sent after the instance is
/// waiting and the hub has been idle for 1-2 s (its queue polls backed off, as for a command typed by an operator); the
/// latency is from just before the POST is sent to the activity's start. With HOSTS=2 a second host joins the hub
/// and, once the partitions are balanced, the posts go to the host that does not own the instance's partition.
/// Prints median, p99 and every latency to stderr, and 1000/median (per second, higher is better) as the last line.
/// </summary>
public static class EventLatencyBenchmark
{
    /// <summary>The first post is not counted: it pays the JIT of the paths the rest take (the anchor likewise skips its first trips).</summary>
    private const int WarmUp = 1;

    public static async Task<int> RunAsync(string[] args)
    {
        var posts = DurableBenchmarks.Count(args, 20);
        var hosts = DurableBenchmarks.Count(args, 1, index: 1);
        if (hosts > 2)
        {
            throw new ArgumentException($"HOSTS is {hosts}; valid: 1 or 2.");
        }

        await using var bed = await ProbeBed.CreateAsync("BenchEvent");
        try
        {
            var (owner, target, owners) = await StartHostsAsync(bed, hosts);
            var instanceId = InstanceOwnedBy(owners, ProbeBed.WorkerId(owner));
            await bed.StartOrchestrationAsync(target, ProbeHost.EventProbe, instanceId, WarmUp + posts);
            var (latencies, answers) = await PostEventsAsync(bed, owner, target, instanceId, posts);
            Report(bed, owner, target, instanceId, hosts, latencies, answers);
            Console.WriteLine((1000 / BenchHub.Median(latencies)).ToString("F3", CultureInfo.InvariantCulture));
            return 0;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException)
        {
            Console.Error.WriteLine($"durable-event: {e.Message}\n{bed.Tails()}");
            return 1;
        }
    }

    /// <summary>
    /// One host: it owns every partition and takes the posts. Two hosts: the first takes every partition, the second
    /// joins, and once the leases are split and settled the posts go to the second while the instance is placed on
    /// a partition of the first.
    /// </summary>
    private static async Task<(ProbeHostProcess Owner, ProbeHostProcess Target, Dictionary<int, string> Owners)> StartHostsAsync(ProbeBed bed, int hosts)
    {
        var first = await bed.StartHostAsync("host-a");
        var owners = await BenchHub.WaitForOwnersAsync(bed.Hub, TimeSpan.FromSeconds(90), o => o.Values.All(w => w == ProbeBed.WorkerId(first)));
        if (hosts == 1)
        {
            return (first, first, owners);
        }

        var second = await bed.StartHostAsync("host-b");
        owners = await BenchHub.WaitForOwnersAsync(bed.Hub, TimeSpan.FromSeconds(180),
            o => o.Values.Contains(ProbeBed.WorkerId(first)) && o.Values.Contains(ProbeBed.WorkerId(second)));
        return (first, second, owners);
    }

    /// <summary>An instance id the hub places on a partition <paramref name="workerId"/> owns.</summary>
    private static string InstanceOwnedBy(Dictionary<int, string> owners, string workerId)
    {
        while (true)
        {
            var id = "event" + Guid.NewGuid().ToString("N")[..12];
            if (owners.GetValueOrDefault(BenchHub.PartitionOf(id)) == workerId)
            {
                return id;
            }
        }
    }

    private static async Task<(List<double> Latencies, List<double> Answers)> PostEventsAsync(
        ProbeBed bed, ProbeHostProcess owner, ProbeHostProcess target, string instanceId, int posts)
    {
        var latencies = new List<double>();
        var answers = new List<double>();
        // Fixed seed: every run idles the same gaps before its posts.
        var gaps = new Random(42);
        for (var i = 0; i < WarmUp + posts; i++)
        {
            var custom = await bed.WaitForCustomStatusAsync(target, instanceId, $"waiting {i} ", TimeSpan.FromSeconds(60));
            CheckOwner(custom, owner);
            await Task.Delay(TimeSpan.FromMilliseconds(1000 + gaps.Next(1000)));

            var sent = Stopwatch.GetTimestamp();
            var answered = await bed.RaiseAsync(target, instanceId, i);
            var ran = await bed.Log.WaitForAsync(r => r.InstanceId == instanceId && r.Tag == $"event {i}", TimeSpan.FromSeconds(60), $"event {i}");
            if (i >= WarmUp)
            {
                latencies.Add(ProbeLog.MsBetween(sent, ran.Timestamp));
                answers.Add(answered);
            }
        }

        return (latencies, answers);
    }

    /// <summary>The orchestration's episodes must run on the host the benchmark believes owns its partition (its custom status names the process).</summary>
    private static void CheckOwner(string customStatus, ProbeHostProcess owner)
    {
        var pid = customStatus[(customStatus.LastIndexOf(' ') + 1)..];
        if (pid != owner.ProcessId.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"The orchestration runs in process {pid}, not on {owner.Name} (pid {owner.ProcessId}) that owns its partition: the partitions moved during the run.");
        }
    }

    private static void Report(ProbeBed bed, ProbeHostProcess owner, ProbeHostProcess target, string instanceId, int hosts,
        List<double> latencies, List<double> answers)
    {
        var ranOn = bed.Log.Read().Where(r => r.InstanceId == instanceId).Skip(WarmUp)
            .GroupBy(r => r.ProcessId == owner.ProcessId ? "owner" : "other host").Select(g => $"{g.Key} {g.Count()}");
        Console.Error.WriteLine(
            $"{hosts} host(s), posted to {(owner == target ? "the partition owner" : "the host not owning the partition")}, {latencies.Count} posts " +
            $"({WarmUp} more not counted): median {BenchHub.Ms(BenchHub.Median(latencies))} ms, p99 {BenchHub.Ms(BenchHub.Percentile(latencies, 99))} ms, " +
            $"min {BenchHub.Ms(latencies.Min())} ms; POST answered in median {BenchHub.Ms(BenchHub.Median(answers))} ms; " +
            $"activity ran on: {string.Join(", ", ranOn)}; all (ms): {string.Join(" ", latencies.Select(BenchHub.Ms))}");
    }
}
