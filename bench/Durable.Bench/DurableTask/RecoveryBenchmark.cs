using System.Diagnostics;
using System.Globalization;

namespace Durable.Bench.DurableTask;

/// <summary>
/// durable-recovery: what a kill -9 of the host costs, with the product's default durable settings. A probe host
/// (<see cref="ProbeHost"/>) on a private hub runs two instances: one inside a long activity, one waiting for an
/// event. The host is SIGKILLed at a random point 1-6 s into the activity (its message's invisibility is renewed
/// every few seconds, so where the kill lands in that cycle matters) and a new host process is started at once, as a
/// supervisor would. Measured from the kill: (1) until the activity starts again on the new host (goal 30 s: the
/// work-item invisibility, 20 s, plus a poll); (2) until the waiting instance, sent its event as soon as the new host
/// listens, runs its next activity (goal 60 s: the dead host's partition lease, 30 s, must expire first).
/// Prints both to stderr and, as the last line, min(30 s / (1), 60 s / (2)): at least 1 when both goals are met.
/// With the argument <c>same-worker</c> both hosts get one WEBSITE_INSTANCE_ID (a replica restarted under a stable
/// name) instead of the default per-process worker id.
/// </summary>
public static class RecoveryBenchmark
{
    private static readonly TimeSpan ActivityGoal = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ResumeGoal = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        var replicaId = args is ["same-worker"] ? "benchreplica" + Guid.NewGuid().ToString("N")[..8] : null;
        await using var bed = await ProbeBed.CreateAsync("BenchRecovery");
        try
        {
            var suffix = Guid.NewGuid().ToString("N")[..12];
            var blocked = "block" + suffix;
            var waiting = "wait" + suffix;
            var first = await bed.StartHostAsync("host-1", replicaId);
            var activityStarted = await StartInstancesAsync(bed, first, blocked, waiting);
            var (killedAt, intoActivity) = await KillInsideActivityAsync(first, activityStarted);
            var (second, raisedAt) = await RestartAndPostEventAsync(bed, replicaId, waiting);
            var listening = ProbeLog.MsBetween(killedAt, raisedAt);

            var rerun = await bed.Log.WaitForAsync(r => r.InstanceId == blocked && r.Tag == "block" && r.ProcessId == second.ProcessId,
                TimeSpan.FromMinutes(3), "the activity's second run");
            var resumed = await bed.Log.WaitForAsync(r => r.InstanceId == waiting && r.Tag == "event 0", TimeSpan.FromMinutes(3), "the waiting instance's activity");

            var rerunMs = ProbeLog.MsBetween(killedAt, rerun.Timestamp);
            var resumedMs = ProbeLog.MsBetween(killedAt, resumed.Timestamp);
            Console.Error.WriteLine(
                $"{(replicaId is null ? "per-process worker ids" : "one worker id for both hosts")}: kill -9 {intoActivity.TotalSeconds:F1} s into the activity; " +
                $"new host listening after {listening / 1000:F1} s; activity ran again after {rerunMs / 1000:F1} s (goal {ActivityGoal.TotalSeconds:0} s); " +
                $"waiting instance resumed after {resumedMs / 1000:F1} s (goal {ResumeGoal.TotalSeconds:0} s; " +
                $"{ProbeLog.MsBetween(raisedAt, resumed.Timestamp) / 1000:F1} s after its event was posted)");
            var score = Math.Min(ActivityGoal.TotalMilliseconds / rerunMs, ResumeGoal.TotalMilliseconds / resumedMs);
            Console.WriteLine(score.ToString("F2", CultureInfo.InvariantCulture));
            return 0;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException)
        {
            Console.Error.WriteLine($"durable-recovery: {e.Message}\n{bed.Tails()}");
            return 1;
        }
    }

    /// <summary>Starts the blocking and the waiting instance; returns once the activity runs and the other instance waits.</summary>
    private static async Task<ProbeRecord> StartInstancesAsync(ProbeBed bed, ProbeHostProcess host, string blocked, string waiting)
    {
        await bed.StartOrchestrationAsync(host, ProbeHost.BlockProbe, blocked, (int)TimeSpan.FromHours(1).TotalSeconds);
        await bed.StartOrchestrationAsync(host, ProbeHost.EventProbe, waiting, 1);
        var started = await bed.Log.WaitForAsync(r => r.InstanceId == blocked && r.Tag == "block", TimeSpan.FromMinutes(2), "the blocking activity's first run");
        await bed.WaitForCustomStatusAsync(host, waiting, "waiting 0 ", TimeSpan.FromMinutes(2));
        return started;
    }

    /// <summary>
    /// SIGKILLs the host at a random point 1-6 s into the activity: the framework renews a running activity's message
    /// invisibility every few seconds, so where the kill lands in that cycle decides how long the message stays hidden.
    /// </summary>
    private static async Task<(long KilledAt, TimeSpan IntoActivity)> KillInsideActivityAsync(ProbeHostProcess host, ProbeRecord activityStarted)
    {
        var wait = TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(5000)) - Stopwatch.GetElapsedTime(activityStarted.Timestamp);
        await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
        var into = Stopwatch.GetElapsedTime(activityStarted.Timestamp);
        var killedAt = Stopwatch.GetTimestamp();
        await host.KillAsync();
        return (killedAt, into);
    }

    /// <summary>Starts a new host at once, as a supervisor would, and posts the waiting instance's event to it as soon as it listens.</summary>
    private static async Task<(ProbeHostProcess Host, long RaisedAt)> RestartAndPostEventAsync(ProbeBed bed, string? replicaId, string waiting)
    {
        var host = await bed.StartHostAsync("host-2", replicaId);
        var raisedAt = Stopwatch.GetTimestamp();
        await bed.RaiseAsync(host, waiting, 0);
        return (host, raisedAt);
    }
}
