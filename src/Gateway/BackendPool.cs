using System.Collections.Concurrent;
using Durable.MySql;
using Durable.MySql.Protocol;
using Durable.Routing;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway;

/// <summary>
/// Open connections to the tablets, per <see cref="BackendEndpoint"/>, logged in with the gateway's backend account
/// and the tablet's database as default. A connection comes back clean or marked <see cref="BackendConnection.Dirty"/>;
/// a dirty one is reset (COM_RESET_CONNECTION: rollback, session variables, temporary tables, locks, prepared
/// statements) before another session gets it. One idle longer than <see cref="PingAfterIdle"/> is pinged first.
/// </summary>
internal sealed class BackendPool(GatewaySettings settings, ILogger<BackendPool> logger) : IAsyncDisposable
{
    private static readonly TimeSpan PingAfterIdle = TimeSpan.FromSeconds(30);
    // Keyed by the tablet and CLIENT_FOUND_ROWS: the flag is set at login and changes what UPDATE answers, so a
    // connection serves only sessions whose client asked the same.
    private readonly ConcurrentDictionary<(BackendEndpoint Endpoint, bool FoundRows), ConcurrentStack<BackendConnection>> _idle = new();
    private int _open;

    public int OpenConnections => Volatile.Read(ref _open);

    public async ValueTask<BackendConnection> RentAsync(BackendEndpoint endpoint, bool foundRows, CancellationToken ct)
    {
        if (_idle.TryGetValue((endpoint, foundRows), out var stack))
        {
            while (stack.TryPop(out var idle))
            {
                if (await TryMakeReadyAsync(idle, ct).ConfigureAwait(false))
                {
                    return idle;
                }

                await CloseAsync(idle).ConfigureAwait(false);
            }
        }

        return await OpenAsync(endpoint, foundRows, ct).ConfigureAwait(false);
    }

    public async ValueTask ReturnAsync(BackendConnection connection)
    {
        if (!connection.IsUsable || connection.Connection.IsBroken())
        {
            await CloseAsync(connection).ConfigureAwait(false);
            return;
        }

        connection.Dirty |= connection.AppliedSets > 0 || connection.Reserved != SessionEffects.None || connection.InTransaction || connection.Prepared.Count > 0;
        connection.AppliedSets = 0;
        connection.Reserved = SessionEffects.None;
        connection.IdleSince = DateTime.UtcNow;
        _idle.GetOrAdd((connection.Endpoint, connection.FoundRows), _ => new ConcurrentStack<BackendConnection>()).Push(connection);
    }

    private async ValueTask<bool> TryMakeReadyAsync(BackendConnection connection, CancellationToken ct)
    {
        if (!connection.IsUsable)
        {
            return false;
        }

        try
        {
            if (connection.Dirty)
            {
                await connection.Connection.ResetAsync(ct).ConfigureAwait(false);
                connection.Prepared.Clear();
                await EnableMultiStatementsAsync(connection.Connection, ct).ConfigureAwait(false);
                connection.Dirty = false;
            }
            else if (DateTime.UtcNow - connection.IdleSince > PingAfterIdle)
            {
                await connection.Connection.PingAsync(ct).ConfigureAwait(false);
            }

            return true;
        }
        catch (MySqlException ex)
        {
            logger.LogInformation("Dropping a pooled connection to {Alias}: {Error}", connection.Endpoint.Alias, ex.Message);
            return false;
        }
    }

    private async ValueTask<BackendConnection> OpenAsync(BackendEndpoint endpoint, bool foundRows, CancellationToken ct)
    {
        var options = new MySqlConnectionOptions
        {
            Host = endpoint.Host,
            Port = endpoint.Port,
            User = settings.BackendUser,
            Password = settings.BackendPassword,
            Database = endpoint.DbName,
            SslMode = SslMode.Disabled,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            CommandTimeout = TimeSpan.FromSeconds(30),
            FoundRows = foundRows,
        };
        MySqlConnection connection;
        try
        {
            connection = await MySqlConnection.OpenAsync(options, ct).ConfigureAwait(false);
        }
        catch (MySqlException ex)
        {
            throw new GatewaySqlException(GatewaySqlException.Unknown, "HY000",
                $"The gateway cannot reach tablet {endpoint.Alias} ({endpoint.Keyspace}/{endpoint.Shard} {endpoint.Type}) at {endpoint.Host}:{endpoint.Port}: {ex.Message}");
        }

        try
        {
            await EnableMultiStatementsAsync(connection, ct).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        Interlocked.Increment(ref _open);
        return new BackendConnection(endpoint, connection, foundRows);
    }

    /// <summary>
    /// COM_SET_OPTION MULTI_STATEMENTS_ON: the project's client does not ask for CLIENT_MULTI_STATEMENTS at login,
    /// and the gateway relays a client's multi-statement text as it is. The answer is an EOF (or OK) packet.
    /// </summary>
    private static async Task EnableMultiStatementsAsync(MySqlConnection connection, CancellationToken ct)
    {
        var payload = new PayloadWriter(8);
        payload.WriteByte(0x1B);
        payload.WriteUInt16(0);
        await connection.SendRawCommandAsync(payload, ct).ConfigureAwait(false);
        var answer = await connection.ReadRawPacketAsync(ct).ConfigureAwait(false);
        if (PacketKind.IsErr(answer.Span))
        {
            throw ErrPacket.Parse(answer.Span);
        }
    }

    private async ValueTask CloseAsync(BackendConnection connection)
    {
        Interlocked.Decrement(ref _open);
        await connection.Connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Closes a connection a session cannot give back (broken mid-response).</summary>
    public ValueTask DiscardAsync(BackendConnection connection) => CloseAsync(connection);

    public async ValueTask DisposeAsync()
    {
        foreach (var stack in _idle.Values)
        {
            while (stack.TryPop(out var connection))
            {
                await CloseAsync(connection).ConfigureAwait(false);
            }
        }
    }
}
