using System.Diagnostics;
using System.Globalization;
using Durable.Functions.Runner;
using Microsoft.DurableTask;

namespace Durable.Bench.DurableTask;

/// <summary>
/// durable-probe-host: the Functions host as src/Functions/Program.cs builds it (<see cref="LocalRunner"/>: host.json
/// and settings, the durable engine as a hosted service, the management API under /runtime/webhooks/durabletask,
/// function keys), serving the benchmark's probe orchestrations instead of the app's MoveTables/VDiff functions, which
/// need a cluster. This is the path the Functions tests use to start hosts with extra functions (TestHost); the
/// product gets no benchmark code. durable-event and durable-recovery start it as a separate process and post to it
/// over HTTP, as an operator or durablectl does.
/// </summary>
/// <remarks>
/// Settings as the real host reads them (environment): AzureWebJobsScriptRoot (host.json with the hub name),
/// AzureWebJobsStorage, DURABLE_HOST_KEY, and <see cref="ProbeLog.Setting"/> (the file activities record to).
/// </remarks>
public static class ProbeHost
{
    public const string EventProbe = "EventProbe";
    public const string BlockProbe = "BlockProbe";
    public const string EventName = "Go";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = LocalRunner.CreateBuilder(args);
        var log = new ProbeLog(builder.Configuration[ProbeLog.Setting]
                               ?? throw new InvalidOperationException($"{ProbeLog.Setting} is not set (the file the probe activities record to)."));
        builder.Services.AddOrchestrations(registry => Register(registry, log));
        var app = LocalRunner.Build(builder);
        await app.RunAsync();
        return 0;
    }

    private static void Register(DurableTaskRegistry registry, ProbeLog log)
    {
        registry.AddOrchestratorFunc<int, int>(EventProbe, WaitAndRecordAsync);
        registry.AddOrchestratorFunc<int, int>(BlockProbe, async (ctx, seconds) => await ctx.CallActivityAsync<int>("Block", seconds));
        registry.AddActivityFunc<string, int>("Record", (ctx, tag) =>
        {
            log.Append(ctx.InstanceId, tag);
            return 0;
        });
        registry.AddActivityFunc<int, int>("Block", (ctx, seconds) => BlockOnFirstRunAsync(log, ctx.InstanceId, seconds));
    }

    /// <summary>
    /// Waits for <paramref name="count"/> events one after another; after each, one activity records that it ran with the
    /// event's payload as its tag. The custom status says which event it waits for and which host process runs the
    /// orchestration (the owner of its partition), so the benchmark knows when to post and can check it posted to the
    /// other host.
    /// </summary>
    private static async Task<int> WaitAndRecordAsync(TaskOrchestrationContext ctx, int count)
    {
        for (var i = 0; i < count; i++)
        {
            ctx.SetCustomStatus($"waiting {i} on {Environment.ProcessId}");
            var seq = await ctx.WaitForExternalEvent<int>(EventName);
            await ctx.CallActivityAsync<int>("Record", $"event {seq}");
        }

        ctx.SetCustomStatus("done");
        return count;
    }

    /// <summary>
    /// Records that it started, then on its first run only blocks for <paramref name="seconds"/> (the host is killed in
    /// that time); a run after the first returns at once so the orchestration can finish.
    /// </summary>
    private static async Task<int> BlockOnFirstRunAsync(ProbeLog log, string instanceId, int seconds)
    {
        var first = log.Read().All(r => r.InstanceId != instanceId || r.Tag != "block");
        log.Append(instanceId, "block");
        if (first)
        {
            await Task.Delay(TimeSpan.FromSeconds(seconds));
        }

        return 0;
    }
}

/// <summary>One line of the probe log: when (monotonic clock), which process, which instance, what.</summary>
public sealed record ProbeRecord(long Timestamp, int ProcessId, string InstanceId, string Tag);

/// <summary>
/// The file probe activities append to and the benchmark reads. Times are <see cref="Stopwatch.GetTimestamp"/>: on
/// Linux the machine's monotonic clock (CLOCK_MONOTONIC), the same in every process, so the benchmark subtracts its own
/// timestamps from the host's. Each record is one short append (atomic with O_APPEND), so several hosts can share the
/// file.
/// </summary>
public sealed class ProbeLog(string path)
{
    public const string Setting = "DURABLE_PROBE_LOG";

    private readonly Lock _gate = new();

    public string Path { get; } = path;

    public void Append(string instanceId, string tag)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{Stopwatch.GetTimestamp()} {Environment.ProcessId} {instanceId} {tag}\n");
        lock (_gate)
        {
            File.AppendAllText(Path, line);
        }
    }

    public List<ProbeRecord> Read()
    {
        if (!File.Exists(Path))
        {
            return [];
        }

        var records = new List<ProbeRecord>();
        var text = File.ReadAllText(Path);
        // A line another process is writing may be seen half-way (no newline yet): it is read complete next time.
        foreach (var line in text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', 4);
            if (parts.Length == 4 && long.TryParse(parts[0], CultureInfo.InvariantCulture, out var ts) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var pid))
            {
                records.Add(new ProbeRecord(ts, pid, parts[2], parts[3]));
            }
        }

        return records;
    }

    /// <summary>Polls the file until a record matches (the record carries its own time, so the poll interval does not enter the measurement).</summary>
    public async Task<ProbeRecord> WaitForAsync(Func<ProbeRecord, bool> match, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (Read().FirstOrDefault(match) is { } found)
            {
                return found;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"No probe record for {what} within {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Milliseconds between two <see cref="Stopwatch.GetTimestamp"/> values, of this or another process.</summary>
    public static double MsBetween(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;
}
