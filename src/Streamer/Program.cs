// The Streamer: a long-running worker that runs the Running streams found in the target sidecars. Run N replicas;
// each stream is owned by one of them through an etcd lease plus the stream's owner epoch.
using Durable.Composition;
using Durable.Replication;
using Durable.Streamer;
using Durable.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

var builder = Host.CreateApplicationBuilder(args);
// Checked before anything starts: a bad setting fails the process with a message naming it.
var settings = StreamerSettings.From(builder.Configuration);
builder.Services.AddOptions<StreamerSettings>().BindConfiguration(StreamerSettings.Section);
// The engine from the same composition root as the Functions host (one etcd client for leases, server ids and the
// topology); the Streamer's own section names its account and topology, and it throttles on replica lag.
builder.Services.AddSingleton(new ReplicationEngineOptions { SidecarName = settings.Sidecar, Throttle = settings.Throttle ? new ThrottleOptions() : null });
builder.Services.AddSingleton<ITabletResolver>(sp => settings.CreateResolver(sp.GetRequiredService<TopologyStore>()));
builder.Services.AddDurableEngine(settings.ToEngineOptions(builder.Configuration));
builder.Services.AddHostedService<StreamerService>();
var host = builder.Build();
await host.RunAsync();
