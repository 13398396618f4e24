using System.Diagnostics.Metrics;

namespace Durable.Functions.Telemetry;

/// <summary>
/// Histogram bucket boundaries for durations in seconds, given to the SDK as instrument advice: OpenTelemetry's default
/// boundaries (0 to 10000) suit milliseconds, so a seconds histogram would put almost everything in its first buckets.
/// These are the ones /metrics had before OpenTelemetry (Prometheus' defaults, extended to a minute).
/// </summary>
public static class DurationBuckets
{
    public static InstrumentAdvice<double> Seconds { get; } = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    };
}
