using System.Diagnostics;
using System.Diagnostics.Metrics;
using Durable.Functions.Telemetry;

namespace Durable.Functions.Metrics;

/// <summary>
/// The host's own instruments (meter "Durable.Functions"): invocations per function and trigger, their duration,
/// queue-trigger latency (enqueue to start), poison messages and timer occurrences. Exported with the engine's meter
/// through OpenTelemetry (Telemetry/FunctionsTelemetry); the Prometheus names are in docs/metrics.md.
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
        Duration = _meter.CreateHistogram("durable_function_duration_seconds", unit: "s", description: "Function execution time.", tags: null, advice: DurationBuckets.Seconds);
        QueueLatency = _meter.CreateHistogram("durable_queue_trigger_latency_seconds", unit: "s", description: "Time from a message's insertion into a trigger queue to the start of its processing.", tags: null, advice: DurationBuckets.Seconds);
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

    /// <summary>
    /// Counts a finished invocation and records its span. The span is made here, at the end, with the invocation's
    /// start time, because the trigger listeners report invocations only once they end; it is a child of whatever was
    /// current (for HTTP triggers, ASP.NET Core's request span), and work done inside the function is its sibling.
    /// </summary>
    public void RecordInvocation(string function, string trigger, string outcome, TimeSpan elapsed)
    {
        Invocations.Add(1, new("function", function), new("trigger", trigger), new("outcome", outcome));
        Duration.Record(elapsed.TotalSeconds, new("function", function), new("trigger", trigger));
        RecordSpan(function, trigger, outcome, elapsed);
    }

    private static void RecordSpan(string function, string trigger, string outcome, TimeSpan elapsed)
    {
        var source = DurableActivitySources.Functions;
        if (!source.HasListeners())
        {
            return;
        }

        var end = DateTimeOffset.UtcNow;
        using var span = source.StartActivity($"function {function}", trigger == "http" ? ActivityKind.Internal : ActivityKind.Consumer,
            Activity.Current?.Context ?? default, startTime: end - elapsed);
        if (span is null)
        {
            return;
        }

        span.SetTag("faas.name", function);
        span.SetTag("faas.trigger", trigger);
        span.SetTag("durable.outcome", outcome);
        if (outcome == "failed")
        {
            span.SetStatus(ActivityStatusCode.Error);
        }

        span.SetEndTime(end.UtcDateTime);
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>Identifies one host's meters; meters without a scope (the durable runtime's) are shared by every host.</summary>
public sealed class MetricsScope;
