using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Durable.Gateway.Mirroring;

/// <summary>
/// Which eligible statements are mirrored: deterministic, per percent value, by a counter (statement n is taken when
/// ⌊n·p/100⌋ steps up, computed in integer millionths), so exactly p% of every run of statements at p% is mirrored, whatever the concurrency, and
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

        // In millionths, in integers: 33.3 % of 3,000 statements is 999, not the 998 a double's 998.999… would floor to.
        var perMillion = (long)Math.Round(percent * 10_000);
        var counter = _counters.GetOrAdd(percent, static _ => new StrongBox<long>());
        var n = Interlocked.Increment(ref counter.Value);
        return n * perMillion / 1_000_000 > (n - 1) * perMillion / 1_000_000;
    }
}
