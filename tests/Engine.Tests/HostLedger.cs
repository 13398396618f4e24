using Durable.Engine.TestHost;

namespace Durable.Engine.Tests;

/// <summary>The test hosts' runs and effects files (see the host's Ledger), read by the tests.</summary>
internal sealed class HostLedger(string directory)
{
    /// <summary>Every run of a step, in the order they started: "run &lt;instance&gt; &lt;step&gt;".</summary>
    public IReadOnlyList<string> Runs() => Read(HostContract.RunsFile);

    /// <summary>Every effect inserted, without the worker that inserted it: "effect &lt;instance&gt; &lt;step&gt;".</summary>
    public IReadOnlyList<string> Effects() => Read(HostContract.EffectsFile).Select(l => l[..l.IndexOf(" by ", StringComparison.Ordinal)]).ToList();

    /// <summary>The effects with the worker that inserted each.</summary>
    public IReadOnlyList<string> EffectsWithWorkers() => Read(HostContract.EffectsFile);

    public int RunCount(string instanceId, int step) => Runs().Count(l => l == HostContract.RunLine(instanceId, step));

    /// <summary>Waits until the step has run (started) <paramref name="times"/> times; returns when it saw it.</summary>
    public async Task<DateTime> WaitForRunAsync(string instanceId, int step, int times, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (RunCount(instanceId, step) < times)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"Step {step} of {instanceId} did not run {times} time(s) within {timeout}; runs so far:\n{string.Join('\n', Runs())}");
            }

            await Task.Delay(50);
        }

        return DateTime.UtcNow;
    }

    private IReadOnlyList<string> Read(string name)
    {
        var path = Path.Combine(directory, name);
        for (var attempt = 0; ; attempt++)
        {
            if (!File.Exists(path))
            {
                return [];
            }

            try
            {
                return File.ReadAllLines(path);
            }
            catch (IOException) when (attempt < 500)
            {
                // A host holds the file's lock while it writes a line.
                Thread.Sleep(10);
            }
        }
    }
}
