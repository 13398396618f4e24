using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Durable.Gateway.Mirroring;

/// <summary>
/// Which eligible statements are mirrored: deterministic, per percent value, by a counter (statement n is taken when
/// floor(n·p/100) steps up), so exactly p% of every run of statements at p% is mirrored, whatever the concurrency, and
/// a test or an operator sees the share the rule says instead of a random walk around it.
/// </summary>
internal sealed class MirrorSampler
{
    private readonly ConcurrentDictionary<double, StrongBox<long>> _counters = new();

    public bool Take(double percent)
    {
        if (percent >= 100)
        {
            return true;
        }

        var counter = _counters.GetOrAdd(percent, static _ => new StrongBox<long>());
        var n = Interlocked.Increment(ref counter.Value);
        return Math.Floor(n * percent / 100) > Math.Floor((n - 1) * percent / 100);
    }
}
