using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Durable.Composition.Telemetry;

/// <summary>The Prometheus scrape endpoint of a process set up with <see cref="TelemetryServices.AddDurableOpenTelemetry"/>.</summary>
public static class TelemetryEndpoints
{
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Maps GET /metrics (Prometheus text, or OpenMetrics when the scraper asks for it). The providers are built here,
    /// before the host starts: instruments do not replay what was recorded before a listener existed, and hosted
    /// services registered ahead of OpenTelemetry's would otherwise start measuring first.
    /// </summary>
    public static IEndpointConventionBuilder MapPrometheusMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.ServiceProvider.GetService<MeterProvider>();
        endpoints.ServiceProvider.GetService<TracerProvider>();
        return endpoints.MapPrometheusScrapingEndpoint(MetricsPath);
    }
}
