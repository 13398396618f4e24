using System.Text.Json.Serialization;

namespace Durable.Gateway.Mirroring;

/// <summary>Latencies of one side of mirrored statements: count, sum and maximum, in milliseconds (lock-free).</summary>
internal sealed class MirrorLatency
{
    private long _count;
    private long _sumMicros;
    private long _maxMicros;

    public void Record(TimeSpan elapsed)
    {
        var micros = (long)(elapsed.TotalMilliseconds * 1000);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, micros);
        long max;
        while (micros > (max = Interlocked.Read(ref _maxMicros)) && Interlocked.CompareExchange(ref _maxMicros, micros, max) != max)
        {
            // another thread raised the maximum meanwhile: compare again
        }
    }

    public MirrorLatencyView View()
    {
        var count = Interlocked.Read(ref _count);
        var sum = Interlocked.Read(ref _sumMicros) / 1000.0;
        return new MirrorLatencyView(count, sum, count == 0 ? 0 : sum / count, Interlocked.Read(ref _maxMicros) / 1000.0);
    }
}

/// <summary>One side's latencies as /status shows them.</summary>
internal sealed record MirrorLatencyView(
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("sum_ms")] double SumMs,
    [property: JsonPropertyName("avg_ms")] double AvgMs,
    [property: JsonPropertyName("max_ms")] double MaxMs);
