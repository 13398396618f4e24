using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Durable.Functions.Metrics;

/// <summary>
/// Collects every System.Diagnostics.Metrics instrument of the Durable meters (names starting with "Durable") through a
/// <see cref="MeterListener"/> and renders them in the Prometheus text exposition format (version 0.0.4), so /metrics
/// shows the runtime's orchestration and activity counters next to the host's trigger metrics without either side
/// knowing about Prometheus.
/// </summary>
public sealed class PrometheusMetrics : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    // Prometheus' default buckets, in seconds; instruments in milliseconds get the same boundaries times 1000.
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly MeterListener _listener;
    private readonly Func<Meter, bool> _meterFilter;
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _states = new();

    public PrometheusMetrics(Func<Meter, bool>? meterFilter = null)
    {
        _meterFilter = meterFilter ?? IsDurableMeter;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (_meterFilter(instrument.Meter))
                {
                    _states.TryAdd(instrument, new InstrumentState(instrument, BucketsFor(instrument)));
                    listener.EnableMeasurementEvents(instrument);
                }
            },
            MeasurementsCompleted = (instrument, _) => _states.TryRemove(instrument, out InstrumentState? _),
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<short>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<byte>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<decimal>((i, v, tags, _) => Record(i, (double)v, tags));
        _listener.Start();
    }

    public static bool IsDurableMeter(Meter meter) => meter.Name == "Durable" || meter.Name.StartsWith("Durable.", StringComparison.Ordinal);

    /// <summary>Renders the current values of every collected instrument, observable instruments read now.</summary>
    public string Render()
    {
        lock (_renderLock)
        {
            return RenderLocked();
        }
    }

    private readonly Lock _renderLock = new();

    private string RenderLocked()
    {
        foreach (var s in _states.Values.Where(s => s.IsObservable))
        {
            s.ResetObserved();
        }

        _listener.RecordObservableInstruments();
        var sb = new StringBuilder();
        foreach (var state in _states.Values.OrderBy(s => MetricName(s.Instrument), StringComparer.Ordinal))
        {
            state.Render(sb);
        }

        return sb.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_states.TryGetValue(instrument, out var state))
        {
            state.Record(value, tags);
        }
    }

    private static double[]? BucketsFor(Instrument instrument)
    {
        if (!IsHistogram(instrument))
        {
            return null;
        }

        return instrument.Unit == "ms" ? SecondsBuckets.Select(b => b * 1000).ToArray() : SecondsBuckets;
    }

    private static bool IsHistogram(Instrument i) => i.GetType().IsGenericType && i.GetType().GetGenericTypeDefinition() == typeof(Histogram<>);

    /// <summary>Maps an instrument name to a legal Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.</summary>
    public static string MetricName(Instrument instrument) => SanitizeName(instrument.Name);

    public static string SanitizeName(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':' ? c : '_');
        }

        if (sb.Length == 0 || char.IsAsciiDigit(sb[0]))
        {
            sb.Insert(0, '_');
        }

        return sb.ToString();
    }

    public static string EscapeLabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string FormatValue(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    private sealed class InstrumentState(Instrument instrument, double[]? buckets)
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);

        public Instrument Instrument { get; } = instrument;

        public bool IsObservable => Instrument.IsObservable;

        private string Kind =>
            buckets is not null ? "histogram"
            : Instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal) || Instrument.GetType().Name.StartsWith("ObservableCounter", StringComparison.Ordinal) ? "counter"
            : "gauge";

        public void ResetObserved()
        {
            // Observable instruments report absolute values on each callback; series that vanished must not linger.
            _series.Clear();
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags);
            var series = _series.GetOrAdd(labels, _ => new Series(buckets));
            lock (series)
            {
                if (buckets is not null)
                {
                    series.Count++;
                    series.Sum += value;
                    for (var i = 0; i < buckets.Length; i++)
                    {
                        if (value <= buckets[i])
                        {
                            series.BucketCounts![i]++;
                        }
                    }
                }
                else if (Instrument.IsObservable || (Kind == "gauge" && !Instrument.GetType().Name.StartsWith("UpDownCounter", StringComparison.Ordinal)))
                {
                    // Observable callbacks and gauges report the current value, not a delta.
                    series.Value = value;
                }
                else
                {
                    series.Value += value;
                }
            }
        }

        public void Render(StringBuilder sb)
        {
            var name = MetricName(Instrument);
            var kind = Kind;
            if (kind == "counter" && !name.EndsWith("_total", StringComparison.Ordinal))
            {
                name += "_total";
            }

            var help = Instrument.Description ?? Instrument.Name;
            if (!string.IsNullOrEmpty(Instrument.Unit))
            {
                help += $" ({Instrument.Unit})";
            }

            sb.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(kind).Append('\n');
            foreach (var (labels, series) in _series.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                lock (series)
                {
                    if (buckets is null)
                    {
                        sb.Append(name).Append(Braces(labels)).Append(' ').Append(FormatValue(series.Value)).Append('\n');
                        continue;
                    }

                    for (var i = 0; i < buckets.Length; i++)
                    {
                        sb.Append(name).Append("_bucket").Append(Braces(Join(labels, $"le=\"{FormatValue(buckets[i])}\""))).Append(' ')
                          .Append(series.BucketCounts![i].ToString(CultureInfo.InvariantCulture)).Append('\n');
                    }

                    sb.Append(name).Append("_bucket").Append(Braces(Join(labels, "le=\"+Inf\""))).Append(' ').Append(series.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                    sb.Append(name).Append("_sum").Append(Braces(labels)).Append(' ').Append(FormatValue(series.Sum)).Append('\n');
                    sb.Append(name).Append("_count").Append(Braces(labels)).Append(' ').Append(series.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }
            }
        }

        private static string Join(string labels, string extra) => labels.Length == 0 ? extra : labels + "," + extra;

        private static string Braces(string labels) => labels.Length == 0 ? "" : "{" + labels + "}";

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return "";
            }

            var pairs = new List<KeyValuePair<string, object?>>(tags.Length);
            foreach (var t in tags)
            {
                pairs.Add(t);
            }

            pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return string.Join(',', pairs.Select(p =>
                $"{SanitizeName(p.Key)}=\"{EscapeLabelValue(Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? "")}\""));
        }
    }

    private sealed class Series(double[]? buckets)
    {
        public double Value;
        public double Sum;
        public long Count;
        public readonly long[]? BucketCounts = buckets is null ? null : new long[buckets.Length];
    }
}
