using Durable.Composition.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Durable.Streamer;

/// <summary>
/// The Streamer's HTTP endpoints: /healthz (the process answers: a liveness probe restarts it when not),
/// /readyz (<see cref="StreamerStatus"/>: 200 when ready, 503 with the reason when not) and /metrics (Prometheus text).
/// </summary>
public static class StreamerEndpoints
{
    public static void MapStreamerEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));
        endpoints.MapGet("/readyz", (StreamerStatus status) =>
        {
            var (ready, reason) = status.Readiness();
            return Results.Text(reason + "\n", statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        endpoints.MapPrometheusMetrics();
    }
}
