using System.Diagnostics.Metrics;
using Durable.Composition.Telemetry;
using Durable.Functions.Metrics;
using Durable.Functions.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>
/// /metrics through OpenTelemetry's Prometheus exporter as the host and the Streamer set it up: names (unit and _total
/// suffixes, docs/metrics.md), label escaping, histogram buckets from the instruments' advice, and per-host scoping of
/// same-named meters in one process.
/// </summary>
public class PrometheusMetricsTests
{
    [Fact]
    public async Task Renders_counters_histograms_and_gauges_in_text_format()
    {
        var meterName = "Durable.Test." + Guid.NewGuid().ToString("N");
        var scope = new MetricsScope();
        await using var app = await StartAsync(meterName, scope);
        using var meter = new Meter(new MeterOptions(meterName) { Scope = scope });
        var counter = meter.CreateCounter<long>("durable_test_orchestrations", description: "Orchestrations \\ started\nnow");
        var histogram = meter.CreateHistogram("durable.test.latency", unit: "s", description: null, tags: null, advice: DurationBuckets.Seconds);
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

        var text = await app.GetTestClient().GetStringAsync("/metrics");
        Assert.Contains("# HELP durable_test_orchestrations_total Orchestrations \\\\ started\\nnow\n", text);
        Assert.Contains("# TYPE durable_test_orchestrations_total counter\n", text);
        // Tags are sorted, so the same set in another order is the same series.
        Assert.Contains("durable_test_orchestrations_total{name=\"MoveTables\",status=\"Completed\"} 5\n", text);
        Assert.Contains("durable_test_orchestrations_total{name=\"MoveTables\",status=\"Failed\"} 1\n", text);
        // The unit "s" becomes the suffix _seconds; a series without labels is written with empty braces.
        Assert.Contains("# TYPE durable_test_latency_seconds histogram\n", text);
        Assert.Contains("durable_test_latency_seconds_bucket{le=\"0.01\"} 0\n", text);
        Assert.Contains("durable_test_latency_seconds_bucket{le=\"0.025\"} 1\n", text);
        Assert.Contains("durable_test_latency_seconds_bucket{le=\"5\"} 2\n", text);
        Assert.Contains("durable_test_latency_seconds_bucket{le=\"+Inf\"} 2\n", text);
        Assert.Contains("durable_test_latency_seconds_sum{} 3.02\n", text);
        Assert.Contains("durable_test_latency_seconds_count{} 2\n", text);
        Assert.Contains("# TYPE durable_test_in_flight gauge\n", text);
        Assert.Contains("durable_test_in_flight{} 3\n", text);
        Assert.Contains("durable_test_queue_length{queue=\"a\\\"b\"} 42\n", text);
        Assert.EndsWith("\n", text);
    }

    [Fact]
    public async Task Ignores_meters_it_was_not_given()
    {
        await using var app = await StartAsync("Durable.Only." + Guid.NewGuid().ToString("N"), new MetricsScope());
        using var meter = new Meter("Other." + Guid.NewGuid().ToString("N"));
        meter.CreateCounter<long>("other_counter").Add(1);
        Assert.DoesNotContain("other_counter", await app.GetTestClient().GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Two_hosts_in_one_process_each_export_only_their_own_scoped_meters()
    {
        var meterName = "Durable.Test." + Guid.NewGuid().ToString("N");
        var (scopeA, scopeB) = (new MetricsScope(), new MetricsScope());
        await using var a = await StartAsync(meterName, scopeA);
        await using var b = await StartAsync(meterName, scopeB);
        using var meterA = new Meter(new MeterOptions(meterName) { Scope = scopeA });
        using var meterB = new Meter(new MeterOptions(meterName) { Scope = scopeB });
        using var shared = new Meter(meterName);
        meterA.CreateCounter<long>("durable_test_calls").Add(1);
        meterB.CreateCounter<long>("durable_test_calls").Add(7);
        shared.CreateCounter<long>("durable_test_process_wide").Add(3);

        var textA = await a.GetTestClient().GetStringAsync("/metrics");
        var textB = await b.GetTestClient().GetStringAsync("/metrics");
        Assert.Contains("durable_test_calls_total{} 1\n", textA);
        Assert.Contains("durable_test_calls_total{} 7\n", textB);
        // A meter without a scope is the process's: both hosts export it.
        Assert.Contains("durable_test_process_wide_total{} 3\n", textA);
        Assert.Contains("durable_test_process_wide_total{} 3\n", textB);
    }

    private static async Task<WebApplication> StartAsync(string meterName, MetricsScope scope)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddDurableOpenTelemetry(new ConfigurationBuilder().Build(), new TelemetrySetup
        {
            ServiceName = "test",
            Meters = [meterName],
            OwnScopes = _ => [scope],
            AspNetCore = false,
        });
        var app = builder.Build();
        app.MapPrometheusMetrics();
        await app.StartAsync();
        return app;
    }
}
