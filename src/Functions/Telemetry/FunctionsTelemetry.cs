using Durable.Composition.Telemetry;
using Durable.Functions.Engine;
using Durable.Functions.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Durable.Functions.Telemetry;

/// <summary>
/// The Functions host's telemetry: its meters ("Durable.Functions", "Durable.Engine", scoped to this host by its
/// <see cref="MetricsScope"/>), ASP.NET Core and runtime metrics on /metrics, and metrics and spans over OTLP when
/// OTEL_EXPORTER_OTLP_ENDPOINT is set. docs/metrics.md lists what is exported.
/// </summary>
public static class FunctionsTelemetry
{
    public const string ServiceName = "durable-functions";

    public static IServiceCollection AddDurableTelemetry(this IServiceCollection services, IConfiguration configuration, string? replicaId = null)
    {
        services.TryAddSingleton<MetricsScope>();
        services.TryAddSingleton<FunctionsMetrics>();
        return services.AddDurableOpenTelemetry(configuration, new TelemetrySetup
        {
            ServiceName = ServiceName,
            InstanceId = replicaId,
            Meters = [FunctionsMetrics.MeterName, EngineMetrics.MeterName],
            ActivitySources = DurableActivitySources.Names,
            OwnScopes = sp => [sp.GetRequiredService<MetricsScope>()],
        });
    }

    /// <summary>GET /metrics: the Prometheus text of this host's meters.</summary>
    public static IEndpointConventionBuilder MapDurableMetrics(this IEndpointRouteBuilder endpoints) => endpoints.MapPrometheusMetrics();
}
