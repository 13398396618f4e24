using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Gateway.Mirroring;

/// <summary>
/// The gateway's HTTP view of mirroring: GET /status (JSON: the gateway's counts and the mirror's) and GET /metrics
/// (Prometheus text of the mirror's counters), on the HTTP port beside /healthz and /readyz.
/// </summary>
internal static class MirrorEndpoints
{
    public static void MapMirrorStatus(this IEndpointRouteBuilder app)
    {
        var mirror = app.ServiceProvider.GetRequiredService<TrafficMirror>();
        var status = app.ServiceProvider.GetRequiredService<GatewayStatus>();
        app.MapGet("/status", () => Results.Json(new
        {
            ready = status.Ready,
            connections = status.Connections,
            statements = status.StatementsTotal,
            held = status.HeldTotal,
            mirror = mirror.Metrics.View(mirror.QueueDepth, mirror.QueueCapacity),
        }));
        app.MapGet("/metrics", () => Results.Text(mirror.Metrics.Prometheus(mirror.QueueDepth), "text/plain; version=0.0.4"));
    }
}
