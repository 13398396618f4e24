using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace Durable.Functions.Runner;

/// <summary>
/// Whether this runner should get traffic: ready once the durable worker has started on the task hub (so a request that
/// schedules an orchestration is picked up), not ready again as soon as shutdown begins (so a load balancer drains it
/// while in-flight work finishes or is handed back). Liveness is separate: the process answers.
/// </summary>
public sealed class RunnerReadiness
{
    private volatile string _reason = "starting: the durable worker has not started yet";
    private volatile bool _ready;

    public (bool Ready, string Reason) Current => (_ready, _reason);

    internal void WorkerStarted(string hub)
    {
        _reason = $"ready: durable worker running on task hub {hub}";
        _ready = true;
    }

    internal void Stopping()
    {
        _ready = false;
        _reason = "stopping: draining in-flight work";
    }

    /// <summary>
    /// <c>/healthz</c> (200 while the process answers) and <c>/readyz</c> (200 when ready, 503 with the reason when not),
    /// outside /api and without keys, as probes expect.
    /// </summary>
    public static void Map(WebApplication app)
    {
        var readiness = app.Services.GetRequiredService<RunnerReadiness>();
        app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(readiness.Stopping);
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", () =>
        {
            var (ready, reason) = readiness.Current;
            return Results.Text(reason + "\n", statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
    }
}
