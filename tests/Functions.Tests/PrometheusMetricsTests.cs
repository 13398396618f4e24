using System.Diagnostics.Metrics;
using Durable.Functions.Metrics;

namespace Durable.Functions.Tests;

public class PrometheusMetricsTests
{
    [Fact]
    public void Renders_counters_histograms_and_gauges_in_text_format()
    {
        var meterName = "Durable.Test." + Guid.NewGuid().ToString("N");
        using var exporter = new PrometheusMetrics(m => m.Name == meterName);
        using var meter = new Meter(meterName);
        var counter = meter.CreateCounter<long>("durable_test_orchestrations", description: "Orchestrations \\ started\nnow");
        var histogram = meter.CreateHistogram<double>("durable.test.latency", unit: "s");
        var updown = meter.CreateUpDownCounter<int>("durable_test_in_flight");
        var observed = 41;
        meter.CreateObservableGauge("durable_test_queue_length", () => new Measurement<int>(observed, new KeyValuePair<string, object?>("queue", "a\"b")));

        counter.Add(2, new KeyValuePair<string, object?>("status", "Completed"), new KeyValuePair<string, object?>("name", "MoveTables"));
        counter.Add(3, new KeyValuePair<string, object?>("name", "MoveTables"), new KeyValuePair<string, object?>("status", "Completed"));
        counter.Add(1, new KeyValuePair<string, object?>("name", "MoveTables"), new KeyValuePair<string, object?>("status", "Failed"));
        histogram.Record(0.02);
        histogram.Record(3);
        updown.Add(5);
        updown.Add(-2);
        observed = 42;

        var text = exporter.Render();
        Assert.Contains("# HELP durable_test_orchestrations_total Orchestrations \\\\ started\\nnow\n", text);
        Assert.Contains("# TYPE durable_test_orchestrations_total counter\n", text);
        // Tags are sorted, so the same set in another order is the same series.
        Assert.Contains("durable_test_orchestrations_total{name=\"MoveTables\",status=\"Completed\"} 5\n", text);
        Assert.Contains("durable_test_orchestrations_total{name=\"MoveTables\",status=\"Failed\"} 1\n", text);
        Assert.Contains("# TYPE durable_test_latency histogram\n", text);
        Assert.Contains("durable_test_latency_bucket{le=\"0.01\"} 0\n", text);
        Assert.Contains("durable_test_latency_bucket{le=\"0.025\"} 1\n", text);
        Assert.Contains("durable_test_latency_bucket{le=\"5\"} 2\n", text);
        Assert.Contains("durable_test_latency_bucket{le=\"+Inf\"} 2\n", text);
        Assert.Contains("durable_test_latency_sum 3.02\n", text);
        Assert.Contains("durable_test_latency_count 2\n", text);
        Assert.Contains("# TYPE durable_test_in_flight gauge\n", text);
        Assert.Contains("durable_test_in_flight 3\n", text);
        Assert.Contains("durable_test_queue_length{queue=\"a\\\"b\"} 42\n", text);
        Assert.EndsWith("\n", text);
    }

    [Fact]
    public void Ignores_meters_outside_the_filter()
    {
        using var exporter = new PrometheusMetrics(m => m.Name == "Durable.Only");
        using var meter = new Meter("Other." + Guid.NewGuid().ToString("N"));
        meter.CreateCounter<long>("other_counter").Add(1);
        Assert.DoesNotContain("other_counter", exporter.Render());
    }

    [Theory]
    [InlineData("durable.activities-run", "durable_activities_run")]
    [InlineData("9lives", "_9lives")]
    [InlineData("ok_name:sub", "ok_name:sub")]
    public void Names_are_sanitised(string name, string expected) => Assert.Equal(expected, PrometheusMetrics.SanitizeName(name));
}
