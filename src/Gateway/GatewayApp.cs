using Durable.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway;

/// <summary>The routing side a gateway runs with: the router, the followed topology, backend picking and cutover holds, and how to load the topology before accepting connections.</summary>
public sealed record GatewayRouting(
    IStatementRouter Router,
    IGatewayTopology Topology,
    IBackendPicker Picker,
    ITrafficHolds Holds,
    Func<CancellationToken, Task> LoadTopology);

/// <summary>
/// Builds the gateway's web application: Kestrel with the MySQL listener (a connection handler) and the HTTP listener
/// (/healthz, /readyz), the session services, and the drain. Program.cs is the composition root that supplies the
/// routing side; tests build it with their own.
/// </summary>
public static class GatewayApp
{
    public static WebApplication Build(GatewaySettings settings, GatewayRouting routing, string[]? args = null)
    {
        // The content root is the gateway's own directory and the host's configuration files are not watched: the
        // default (the working directory, watched recursively for appsettings changes) woke a watcher thread on every
        // write under it, e.g. a local cluster's server logs. The gateway reads its settings once (Program.cs).
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [.. args ?? [], "--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        var endpoints = new GatewayEndpoints();
        if (settings.InlineIo)
        {
            // Kestrel's half of Gateway:InlineIo (Program.cs sets the runtime's before any socket exists).
            builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        }

        builder.WebHost.UseKestrel(kestrel =>
        {
            var ip = settings.BindIp;
            void Listen(int port, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> configure)
            {
                if (ip is null)
                {
                    kestrel.ListenAnyIP(port, configure);
                }
                else
                {
                    kestrel.Listen(ip, port, configure);
                }
            }

            Listen(settings.MySqlPort, listen =>
            {
                endpoints.MySql = listen;
                listen.UseConnectionHandler<GatewayConnectionHandler>();
            });
            if (settings.HttpPort > 0)
            {
                Listen(settings.HttpPort, listen => endpoints.Http = listen);
            }
        });
        // Sessions inside a transaction get DrainSeconds to finish; the host waits a little longer before it aborts them.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(settings.DrainSeconds + 5));
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(endpoints);
        builder.Services.AddSingleton(routing.Router);
        builder.Services.AddSingleton(routing.Topology);
        builder.Services.AddSingleton(routing.Picker);
        builder.Services.AddSingleton(routing.Holds);
        builder.Services.AddSingleton<BackendPool>();
        builder.Services.AddSingleton<ISequenceSource, Sequences.GatewaySequenceSource>();
        builder.Services.AddSingleton<QueryLog>();
        builder.Services.AddSingleton<GatewayStatus>();
        builder.Services.AddSingleton<Mirroring.TrafficMirror>();
        builder.Services.AddSingleton<GatewayServices>();
        builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<GatewayStartup>(sp, routing.LoadTopology));
        var app = builder.Build();
        var status = app.Services.GetRequiredService<GatewayStatus>();
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", () => status.Ready
            ? Results.Text("ready")
            : Results.Text(status.Draining ? "draining" : "loading topology", statusCode: StatusCodes.Status503ServiceUnavailable));
        Mirroring.MirrorEndpoints.MapMirrorStatus(app);
        return app;
    }

    /// <summary>The bound ports of a built (and started) gateway.</summary>
    public static GatewayEndpoints Endpoints(this WebApplication app) => app.Services.GetRequiredService<GatewayEndpoints>();
}
