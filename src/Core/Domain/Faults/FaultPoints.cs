using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Durable.Core.Faults;

/// <summary>
/// Named fault points for deterministic crash tests. Code that must survive a crash at a given step calls
/// <see cref="Hit"/> with a stable name (for example <c>copy.chunk.after-commit</c>); when the environment variable
/// <c>DURABLE_FAULT_POINTS</c> lists that name, the process kills itself with SIGKILL, exactly as an operator's
/// <c>kill -9</c> would: no finally blocks, no flushing, no graceful shutdown. A test then restarts the process and
/// checks recovery.
/// </summary>
/// <remarks>
/// Syntax of the variable: a comma-separated list of <c>name</c> or <c>name@N</c> entries; <c>name@N</c> fires on the
/// N-th time the point is reached in this process (1-based), so a test can crash in the middle of a loop. An entry
/// ending in <c>:stop</c> (<c>name:stop</c>, <c>name@N:stop</c>) pauses the process with SIGSTOP instead, as a long GC
/// pause or a frozen VM would: the test resumes it with SIGCONT and checks that it did nothing it no longer owned.
/// Names are compared case-sensitively. An unset or empty variable makes every call a cheap no-op.
/// </remarks>
public static class FaultPoints
{
    public const string EnvironmentVariable = "DURABLE_FAULT_POINTS";

    private static readonly Lazy<FaultPlan> Plan = new(() => FaultPlan.Parse(Environment.GetEnvironmentVariable(EnvironmentVariable)));

    /// <summary>Every point name the code reached in this process, so tests can list the points of a path.</summary>
    public static IReadOnlyCollection<string> Reached => Plan.Value.Reached;

    /// <summary>Marks a named point; kills the process when the configured plan says so.</summary>
    public static void Hit(string name)
    {
        var plan = Plan.Value;
        if (plan.ShouldFire(name))
        {
            if (plan.Pauses(name))
            {
                StopSelf(name);
            }
            else
            {
                KillSelf(name);
            }
        }
    }

    private static void StopSelf(string name)
    {
        Console.Error.WriteLine($"fault point '{name}' reached: stopping process {Environment.ProcessId} (SIGSTOP)");
        // Returns once someone sends SIGCONT; the code after the point then runs on as if nothing had happened.
        _ = Kill(Environment.ProcessId, SigStop);
        Console.Error.WriteLine($"fault point '{name}': process {Environment.ProcessId} resumed (SIGCONT)");
    }

    private const int SigStop = 19; // Linux

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static void KillSelf(string name)
    {
        // Tell the test harness which point fired before dying; stderr is unbuffered.
        Console.Error.WriteLine($"fault point '{name}' reached: killing process {Environment.ProcessId} (SIGKILL)");
        Process.GetCurrentProcess().Kill();
        // Kill() is asynchronous on some platforms; never return into the code after the fault point.
        Thread.Sleep(Timeout.Infinite);
    }
}

/// <summary>The parsed value of <c>DURABLE_FAULT_POINTS</c>: which points fire and on which hit.</summary>
public sealed class FaultPlan
{
    private readonly Dictionary<string, int> _fireOnHit;
    private readonly HashSet<string> _pause;
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);

    private FaultPlan(Dictionary<string, int> fireOnHit, HashSet<string> pause)
    {
        _fireOnHit = fireOnHit;
        _pause = pause;
    }

    public IReadOnlyCollection<string> Reached => _hits.Keys.ToArray();

    public bool IsEmpty => _fireOnHit.Count == 0;

    /// <summary>Parses the variable's value; a malformed entry is an error naming it, so a typo never silently disarms a test.</summary>
    public static FaultPlan Parse(string? value)
    {
        var plan = new Dictionary<string, int>(StringComparer.Ordinal);
        var pause = new HashSet<string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(value))
        {
            return new FaultPlan(plan, pause);
        }

        foreach (var entry in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var stops = entry.EndsWith(":stop", StringComparison.Ordinal);
            var raw = stops ? entry[..^":stop".Length] : entry;
            var at = raw.IndexOf('@');
            var name = at < 0 ? raw : raw[..at];
            var hit = 1;
            if (at >= 0 && (!int.TryParse(raw[(at + 1)..], out hit) || hit < 1))
            {
                throw new FormatException(
                    $"{FaultPoints.EnvironmentVariable} entry '{raw}' is malformed: expected 'name' or 'name@N' with N a whole number >= 1.");
            }

            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            {
                throw new FormatException(
                    $"{FaultPoints.EnvironmentVariable} entry '{raw}' has an invalid point name: use letters, digits, '.', '-' and '_'.");
            }

            plan[name] = hit;
            if (stops)
            {
                pause.Add(name);
            }
        }

        return new FaultPlan(plan, pause);
    }

    /// <summary>Whether <paramref name="name"/> pauses the process (<c>:stop</c>) rather than killing it.</summary>
    public bool Pauses(string name) => _pause.Contains(name);

    /// <summary>Counts a hit of <paramref name="name"/> and says whether this hit is the one that must crash.</summary>
    public bool ShouldFire(string name)
    {
        var count = _hits.AddOrUpdate(name, 1, static (_, n) => n + 1);
        return _fireOnHit.TryGetValue(name, out var fireOn) && count == fireOn;
    }
}
