using System.Diagnostics.Metrics;

namespace Durable.Functions.Metrics;

/// <summary>
/// The host's own instruments (meter "Durable.Functions"): invocations per function and trigger, their duration,
/// queue-trigger latency (enqueue to start), poison messages and timer occurrences. The durable runtime's meters
/// (orchestrations, activities) are collected by the same listener.
/// </summary>
public sealed class FunctionsMetrics : IDisposable
{
    public const string MeterName = "Durable.Functions";

    private readonly Meter _meter;

    public FunctionsMetrics(MetricsScope scope)
    {
        // Scoped to this host so two hosts in one process (tests) each export only their own trigger metrics.
        _meter = new Meter(new MeterOptions(MeterName) { Scope = scope });
        Invocations = _meter.CreateCounter<long>("durable_function_invocations", description: "Function invocations by function, trigger and outcome (succeeded, failed, cancelled).");
        Duration = _meter.CreateHistogram<double>("durable_function_duration_seconds", unit: "s", description: "Function execution time.");
        QueueLatency = _meter.CreateHistogram<double>("durable_queue_trigger_latency_seconds", unit: "s", description: "Time from a message's insertion into a trigger queue to the start of its processing.");
        PoisonMessages = _meter.CreateCounter<long>("durable_queue_poison_messages", description: "Messages moved to <queue>-poison after maxDequeueCount failed attempts or undecodable text.");
        TimerOccurrences = _meter.CreateCounter<long>("durable_timer_occurrences", description: "Timer occurrences seen by this replica, by outcome: fired here, or claimed by another replica.");
        HttpRequests = _meter.CreateCounter<long>("durable_http_requests", description: "HTTP trigger and management API requests by function and status code.");
    }

    public Counter<long> Invocations { get; }

    public Histogram<double> Duration { get; }

    public Histogram<double> QueueLatency { get; }

    public Counter<long> PoisonMessages { get; }

    public Counter<long> TimerOccurrences { get; }

    public Counter<long> HttpRequests { get; }

    public void RecordInvocation(string function, string trigger, string outcome, TimeSpan elapsed)
    {
        Invocations.Add(1, new("function", function), new("trigger", trigger), new("outcome", outcome));
        Duration.Record(elapsed.TotalSeconds, new("function", function), new("trigger", trigger));
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>Identifies one host's meters; meters without a scope (the durable runtime's) are shared by every host.</summary>
public sealed class MetricsScope;
