using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace Durable.Gateway.Mirroring;

/// <summary>
/// What mirroring did, since the gateway started: statements mirrored (queued for the target), dropped (queue full),
/// the target's errors, and the latency of both sides: the source as the client saw it, the target from the mirror's
/// own connection. Plain counters for /status and /metrics, and the same as durable.gateway.mirror.* meters.
/// </summary>
internal sealed class MirrorMetrics : IDisposable
{
    private readonly Meter _meter = new(GatewayStatus.MeterName + ".Mirror");
    private readonly Counter<long> _mirroredMeter;
    private readonly Counter<long> _droppedMeter;
    private readonly Counter<long> _errorsMeter;
    private readonly Histogram<double> _sourceMeter;
    private readonly Histogram<double> _targetMeter;
    private long _mirrored;
    private long _dropped;
    private long _targetErrors;
    private long _sourceErrors;
    private long _completed;

    public MirrorMetrics()
    {
        _mirroredMeter = _meter.CreateCounter<long>("durable.gateway.mirror.statements", description: "Statements mirrored to a target keyspace");
        _droppedMeter = _meter.CreateCounter<long>("durable.gateway.mirror.dropped", description: "Mirrored statements dropped because the mirror queue was full");
        _errorsMeter = _meter.CreateCounter<long>("durable.gateway.mirror.errors", description: "Mirrored statements the target answered with an error (or that could not be sent)");
        _sourceMeter = _meter.CreateHistogram<double>("durable.gateway.mirror.source_duration", "ms", "Latency of mirrored statements on the source, as the client saw it");
        _targetMeter = _meter.CreateHistogram<double>("durable.gateway.mirror.target_duration", "ms", "Latency of mirrored statements on the target");
    }

    public MirrorLatency Source { get; } = new();

    public MirrorLatency Target { get; } = new();

    public long Mirrored => Interlocked.Read(ref _mirrored);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long TargetErrors => Interlocked.Read(ref _targetErrors);

    public long SourceErrors => Interlocked.Read(ref _sourceErrors);

    /// <summary>Mirrored statements the target has answered (rows read to the end, or an error).</summary>
    public long Completed => Interlocked.Read(ref _completed);

    public void Queued(TimeSpan sourceElapsed, bool sourceFailed)
    {
        Interlocked.Increment(ref _mirrored);
        _mirroredMeter.Add(1);
        Source.Record(sourceElapsed);
        _sourceMeter.Record(sourceElapsed.TotalMilliseconds);
        if (sourceFailed)
        {
            Interlocked.Increment(ref _sourceErrors);
        }
    }

    public void Drop()
    {
        Interlocked.Increment(ref _dropped);
        _droppedMeter.Add(1);
    }

    public void Answered(TimeSpan targetElapsed, bool failed)
    {
        if (failed)
        {
            Interlocked.Increment(ref _targetErrors);
            _errorsMeter.Add(1);
        }
        else
        {
            Target.Record(targetElapsed);
            _targetMeter.Record(targetElapsed.TotalMilliseconds);
        }

        Interlocked.Increment(ref _completed);
    }

    public MirrorStatusView View(int queueDepth, int queueCapacity) => new(
        Mirrored, Dropped, TargetErrors, SourceErrors, Completed, queueDepth, queueCapacity, Source.View(), Target.View());

    /// <summary>The counters in Prometheus text format (the gateway has no OpenTelemetry exporter; these few lines are the scrape).</summary>
    public string Prometheus(int queueDepth)
    {
        var s = Source.View();
        var t = Target.View();
        var text = new StringBuilder();
        void Line(string name, string type, string help, double value)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            text.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        Line("durable_gateway_mirror_statements_total", "counter", "Statements mirrored to a target keyspace.", Mirrored);
        Line("durable_gateway_mirror_dropped_total", "counter", "Mirrored statements dropped because the mirror queue was full.", Dropped);
        Line("durable_gateway_mirror_errors_total", "counter", "Mirrored statements the target answered with an error.", TargetErrors);
        Line("durable_gateway_mirror_source_errors_total", "counter", "Mirrored statements the source answered with an error.", SourceErrors);
        Line("durable_gateway_mirror_queue_depth", "gauge", "Mirrored statements waiting for a mirror connection.", queueDepth);
        Line("durable_gateway_mirror_source_duration_ms_sum", "counter", "Sum of the source latency of mirrored statements (ms).", s.SumMs);
        Line("durable_gateway_mirror_source_duration_ms_count", "counter", "Mirrored statements timed on the source.", s.Count);
        Line("durable_gateway_mirror_target_duration_ms_sum", "counter", "Sum of the target latency of mirrored statements (ms).", t.SumMs);
        Line("durable_gateway_mirror_target_duration_ms_count", "counter", "Mirrored statements timed on the target.", t.Count);
        return text.ToString();
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>The "mirror" part of the gateway's /status.</summary>
internal sealed record MirrorStatusView(
    [property: JsonPropertyName("statements_mirrored")] long Mirrored,
    [property: JsonPropertyName("dropped")] long Dropped,
    [property: JsonPropertyName("target_errors")] long TargetErrors,
    [property: JsonPropertyName("source_errors")] long SourceErrors,
    [property: JsonPropertyName("target_answered")] long Completed,
    [property: JsonPropertyName("queue_depth")] int QueueDepth,
    [property: JsonPropertyName("queue_capacity")] int QueueCapacity,
    [property: JsonPropertyName("source_latency")] MirrorLatencyView SourceLatency,
    [property: JsonPropertyName("target_latency")] MirrorLatencyView TargetLatency);
