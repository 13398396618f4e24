using System.Net;
using Durable.MySql;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway;

/// <summary>
/// Kestrel's handler for the MySQL listener: one call per client connection. Over the connection limit the client
/// gets ER_CON_COUNT_ERROR (1040 "Too many connections") in place of the greeting, as MySQL answers.
/// </summary>
internal sealed class GatewayConnectionHandler(GatewayServices services, ILogger<GatewayConnectionHandler> logger) : ConnectionHandler
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private static int _nextId;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var id = (uint)Interlocked.Increment(ref _nextId);
        var io = new ClientStreams(connection.Transport);
        await using (io.ConfigureAwait(false))
        {
            if (!services.Status.TryEnter(services.Settings.MaxConnections))
            {
                io.Writer.Sequence = 0;
                io.Writer.WriteError(1040, "08004", "Too many connections");
                await TryFlushAsync(io).ConfigureAwait(false);
                logger.LogWarning("Refused a connection from {Remote}: {Max} connections are open (Gateway:MaxConnections)", connection.RemoteEndPoint, services.Settings.MaxConnections);
                return;
            }

            try
            {
                var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "localhost";
                ClientLogin? login;
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(services.Status.HardStopToken))
                {
                    timeout.CancelAfter(HandshakeTimeout);
                    login = await new ClientHandshake(services.ServerInfo, services.Credentials, services.Certificate)
                        .RunAsync(io, id, remote, timeout.Token).ConfigureAwait(false);
                }

                if (login is null)
                {
                    logger.LogInformation("Refused login on connection {Session} from {Remote}", id, remote);
                    return;
                }

                var session = new ClientSession(services, io, login, id);
                if (await session.AcceptAsync().ConfigureAwait(false))
                {
                    await session.RunAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or MySqlException or OperationCanceledException or ConnectionResetException or System.Security.Authentication.AuthenticationException)
            {
                logger.LogDebug("Connection {Session} ended: {Error}", id, ex.Message);
            }
            finally
            {
                services.Status.Exit();
            }
        }
    }

    private static async Task TryFlushAsync(ClientStreams io)
    {
        try
        {
            await io.Writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }
}
