// The Streamer: a long-running worker that runs the Running streams found in the target sidecars. Run N replicas;
// each stream is owned by one of them through an etcd lease plus the stream's owner epoch. With Streamer:HttpPort
// (default 9464, 0: none) it also serves /healthz, /readyz and /metrics.
using Durable.Composition;
using Durable.Replication;
using Durable.Streamer;
using Durable.Topology;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// The web builder reads the settings from the same sources (appsettings.json beside the program, environment, command
// line) as the plain host builder used when the listener is off; neither watches its content root (UnwatchedContentRoot).
// Checked before anything starts: a bad setting fails the process with a message naming it.
var web = WebApplication.CreateBuilder(UnwatchedContentRoot.WebOptions(args));
var settings = StreamerSettings.From(web.Configuration);
if (settings.HttpPort > 0)
{
    // Every interface: probes and scrapers come from outside the pod or machine.
    web.WebHost.UseKestrel(k => k.ListenAnyIP(settings.HttpPort));
    // Probes and scrapes come every few seconds: ASP.NET Core's per-request Information lines would drown the Streamer's own.
    web.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
    AddStreamer(web, settings);
    var app = web.Build();
    app.MapStreamerEndpoints();
    await app.RunAsync();
}
else
{
    var builder = Host.CreateApplicationBuilder(UnwatchedContentRoot.HostSettings(args));
    AddStreamer(builder, StreamerSettings.From(builder.Configuration));
    await builder.Build().RunAsync();
}

static void AddStreamer(IHostApplicationBuilder builder, StreamerSettings settings)
{
    builder.Services.AddOptions<StreamerSettings>().BindConfiguration(StreamerSettings.Section);
    // The engine from the same composition root as the Functions host (one etcd client for leases, server ids and the
    // topology); the Streamer's own section names its account and topology, and it throttles on replica lag.
    builder.Services.AddSingleton(new ReplicationEngineOptions { SidecarName = settings.Sidecar, Throttle = settings.Throttle ? new ThrottleOptions() : null });
    builder.Services.AddSingleton<ITabletResolver>(sp => settings.CreateResolver(sp.GetRequiredService<TopologyStore>()));
    builder.Services.AddDurableEngine(settings.ToEngineOptions(builder.Configuration));
    builder.Services.AddSingleton(new StreamerStatus { MaxScanAge = settings.ReadinessMaxScanAge });
    builder.Services.AddStreamerTelemetry(builder.Configuration, settings);
    builder.Services.AddHostedService<StreamerService>();
    // Always on, unlike a Functions plan that may scale to zero: it ends the switches whose host died.
    builder.Services.AddInterruptedCommandRecovery();
}
