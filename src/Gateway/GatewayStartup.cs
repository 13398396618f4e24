using Durable.MySql;
using Durable.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway;

/// <summary>
/// Before the listeners open: waits until the topology is loaded (rules, keyspaces, tablets, active holds), learns
/// the backends' server version for the greeting, and arms the drain on SIGTERM. Once the server is up it logs the
/// one line that says the gateway is ready.
/// </summary>
internal sealed class GatewayStartup(
    GatewayServices services,
    GatewayEndpoints endpoints,
    Func<CancellationToken, Task> loadTopology,
    IHostApplicationLifetime lifetime,
    ILogger<GatewayStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await loadTopology(cancellationToken).ConfigureAwait(false);
        await LearnServerVersionAsync(cancellationToken).ConfigureAwait(false);
        services.Status.TopologyLoaded = true;
        lifetime.ApplicationStopping.Register(() =>
        {
            logger.LogInformation("gateway {Name} draining: new connections refused, open transactions get {Seconds} s", services.Settings.ResolvedName, services.Settings.DrainSeconds);
            services.Status.BeginDrain(TimeSpan.FromSeconds(services.Settings.DrainSeconds));
        });
        lifetime.ApplicationStarted.Register(() =>
            logger.LogInformation("gateway {Name} listening on {MySqlPort} (mysql) and {HttpPort} (http)", services.Settings.ResolvedName, endpoints.MySqlPort, endpoints.HttpPort));
    }

    private async Task LearnServerVersionAsync(CancellationToken ct)
    {
        var snapshot = services.Topology.Current;
        var keyspace = services.Settings.DefaultKeyspace is { Length: > 0 } k ? KeyspaceTarget.Parse(k).Keyspace : snapshot.Keyspaces.Keys.Order(StringComparer.Ordinal).FirstOrDefault();
        if (keyspace is null)
        {
            return;
        }

        try
        {
            var endpoint = await services.Picker.PickAsync(new KeyspaceTarget(keyspace, Durable.Topology.TabletType.Primary), ct).ConfigureAwait(false);
            var connection = await services.Pool.RentAsync(endpoint, foundRows: true, ct).ConfigureAwait(false);
            services.ServerInfo = new GatewayServerInfo(GatewayServerInfo.FromBackend(connection.Connection.ServerVersion));
            await services.Pool.ReturnAsync(connection).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is GatewaySqlException or MySqlException)
        {
            logger.LogWarning("Could not reach keyspace {Keyspace}'s primary to learn the server version: {Error}", keyspace, ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => services.Pool.DisposeAsync().AsTask();
}
