using Durable.Composition.Telemetry;
using Durable.Replication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Streamer;

/// <summary>
/// The Streamer's telemetry: its meter ("Durable.Streamer") and the runtime's on /metrics (when the HTTP listener is
/// on), and metrics and apply-batch spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set. docs/metrics.md lists them.
/// </summary>
public static class StreamerTelemetry
{
    public const string ServiceName = "durable-streamer";

    public static IServiceCollection AddStreamerTelemetry(this IServiceCollection services, IConfiguration configuration, StreamerSettings settings)
    {
        // One Streamer per process: its meter needs no scope.
        services.AddSingleton(_ => new StreamerMetrics());
        return services.AddDurableOpenTelemetry(configuration, new TelemetrySetup
        {
            ServiceName = ServiceName,
            InstanceId = settings.ReplicaName,
            Meters = [StreamerMetrics.MeterName],
            ActivitySources = [ReplicationTracing.SourceName],
            AspNetCore = settings.HttpPort > 0,
        });
    }
}
