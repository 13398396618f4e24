// The Streamer: a long-running worker that runs the Running streams found in the target sidecars. Run N replicas;
// each stream is owned by one of them through an etcd lease plus the stream's owner epoch.
using Durable.Replication;
using Durable.Streamer;
using Durable.Topology;
using Microsoft.Extensions.DependencyInjection;

var builder = Host.CreateApplicationBuilder(args);
var settings = StreamerSettings.From(builder.Configuration);
builder.Services.AddSingleton(settings);
builder.Services.AddHostedService<StreamerService>();
var host = builder.Build();
await host.RunAsync();

namespace Durable.Streamer
{
    using Microsoft.Extensions.Logging;

    /// <summary>Hosts the <see cref="StreamerSupervisor"/> for the lifetime of the process.</summary>
    public sealed class StreamerService(StreamerSettings settings, ILoggerFactory loggers) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var etcd = settings.CreateEtcd();
            var store = new TopologyStore(etcd, new TopologyOptions { Root = settings.TopologyRoot });
            var engineAccount = new ReplicationCredentials(settings.User, settings.Password);
            var secretsFile = settings.SecretsFile ?? Environment.GetEnvironmentVariable("DURABLE_SECRETS_FILE");
            var connector = new TabletConnector(settings.CreateResolver(store), engineAccount) { Accounts = new TabletAccounts(engineAccount, secretsFile: secretsFile) };
            var engine = new ReplicationEngine(connector, new EtcdServerIdSource(store), new ReplicationEngineOptions
            {
                SidecarName = settings.Sidecar,
                Throttle = settings.Throttle ? new ThrottleOptions() : null,
            });
            var options = new StreamerOptions
            {
                ReplicaName = settings.ReplicaName ?? $"{Environment.MachineName}-{Environment.ProcessId}",
                PollInterval = TimeSpan.FromMilliseconds(settings.PollIntervalMs),
                OwnershipTtl = TimeSpan.FromSeconds(settings.OwnershipTtlSeconds),
                OwnershipRoot = store.Options.GlobalRoot,
            };
            await using var supervisor = new StreamerSupervisor(engine, etcd, options, loggers.CreateLogger("Durable.Streamer"));
            await supervisor.RunAsync(stoppingToken);
        }
    }
}
