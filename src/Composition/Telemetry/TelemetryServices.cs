using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Durable.Composition.Telemetry;

/// <summary>
/// The OpenTelemetry wiring the Functions host and the Streamer share: a MeterProvider with the Prometheus scrape
/// exporter (mapped with <see cref="TelemetryEndpoints.MapPrometheusMetrics"/>), .NET runtime and ASP.NET Core
/// instrumentation, and OTLP export of metrics and traces when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads
/// the other OTEL_EXPORTER_OTLP_* settings itself). Without an OTLP endpoint no TracerProvider is built, so the spans
/// of our ActivitySources cost one "no listener" check each.
/// </summary>
public static class TelemetryServices
{
    public static IServiceCollection AddDurableOpenTelemetry(this IServiceCollection services, IConfiguration configuration, TelemetrySetup setup)
    {
        var otlp = !string.IsNullOrWhiteSpace(configuration[TelemetrySetup.OtlpEndpointSetting]);
        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r =>
            {
                // OTEL_SERVICE_NAME, when given, is the operator's choice and wins (the SDK's environment detector reads it).
                if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"]))
                {
                    r.AddService(setup.ServiceName, serviceInstanceId: setup.InstanceId);
                }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter([.. setup.Meters]);
                metrics.AddRuntimeInstrumentation();
                if (setup.AspNetCore)
                {
                    metrics.AddAspNetCoreInstrumentation();
                }

                metrics.AddPrometheusExporter(o =>
                {
                    // Every scrape reads the instruments now: tests scrape right after acting, and a Prometheus server
                    // scrapes seldom enough that the exporter's default 300 ms response cache saves nothing.
                    o.ScrapeResponseCacheDurationMilliseconds = 0;
                    // No otel_scope_* labels on every series: metric names already say which part they come from, and
                    // the series keep the labels they had before OpenTelemetry (docs/metrics.md).
                    o.ScopeInfoEnabled = false;
                });
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            });
        services.ConfigureOpenTelemetryMeterProvider((sp, builder) =>
        {
            // The host's IMeterFactory scopes the meters it makes (ASP.NET Core's, Kestrel's) to itself.
            var own = new HashSet<object>(setup.OwnScopes(sp), ReferenceEqualityComparer.Instance);
            if (sp.GetService<IMeterFactory>() is { } factory)
            {
                own.Add(factory);
            }

            builder.AddView(instrument => BelongsHere(instrument, own) ? null : MetricStreamConfiguration.Drop);
        });
        if (otlp)
        {
            otel.WithTracing(tracing =>
            {
                tracing.AddSource([.. setup.ActivitySources]);
                if (setup.AspNetCore)
                {
                    tracing.AddAspNetCoreInstrumentation();
                }

                tracing.AddOtlpExporter();
            });
        }

        return services;
    }

    /// <summary>Process-wide meters (no scope) and this host's own scoped meters are exported; other hosts' are not.</summary>
    internal static bool BelongsHere(Instrument instrument, IReadOnlySet<object> ownScopes) =>
        instrument.Meter.Scope is null || ownScopes.Contains(instrument.Meter.Scope);
}
