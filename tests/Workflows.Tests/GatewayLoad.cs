using System.Collections.Concurrent;
using System.Net.Sockets;
using MySqlConnector;

namespace Durable.Workflows.Tests;

/// <summary>
/// An application that talks only to gateways, as Vitess applications talk to vtgate: it names the keyspace
/// (<c>commerce</c>) and never looks at the routing rules. Each worker, on its own gateway, loops over an autocommit
/// insert (a prepared statement), a short transaction (insert + update + commit) and a read of its last acknowledged
/// row, plus a <c>@replica</c> count now and then. Every acknowledged id is remembered; every error is kept with the
/// gateway it came from, sorted into the one case the issue allows (a transaction open across the switch, rolled back
/// with the gateway's retryable error) and everything else.
/// </summary>
public sealed class GatewayLoad : IAsyncDisposable
{
    /// <summary>The gateway's answer to a transaction that was open on the moving tables when the switch began: rolled back, retry.</summary>
    public const int InFlightRollback = 1213;

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _workers = [];
    private readonly string _table;
    private long _nextId;

    public GatewayLoad(string table, long firstId)
    {
        _table = table;
        _nextId = firstId;
    }

    public ConcurrentBag<long> Acked { get; } = [];

    /// <summary>Transactions the gateway rolled back with <see cref="InFlightRollback"/>: their rows must not exist.</summary>
    public ConcurrentBag<long> RolledBack { get; } = [];

    /// <summary>Writes whose connection broke before the answer (a killed gateway's clients): the row may or may not exist.</summary>
    public ConcurrentBag<long> Unknown { get; } = [];

    /// <summary>Every error other than the in-flight rollback, with the gateway (port) that answered it.</summary>
    public ConcurrentQueue<(int Port, string Error)> Errors { get; } = [];

    public int Statements => _statements;

    private int _statements;

    /// <summary>Starts <paramref name="workersPerGateway"/> workers on each gateway port.</summary>
    public void Start(IReadOnlyList<int> ports, string user, string password, int workersPerGateway)
    {
        foreach (var port in ports)
        {
            var connectionString = new MySqlConnectionStringBuilder
            {
                Server = "127.0.0.1",
                Port = (uint)port,
                UserID = user,
                Password = password,
                Database = "commerce",
                SslMode = MySqlSslMode.None,
                // Clients' read timeouts must exceed the hold window (vtgate's advice for buffering).
                DefaultCommandTimeout = 30,
                ConnectionTimeout = 10,
                Pooling = true,
            }.ConnectionString;
            for (var w = 0; w < workersPerGateway; w++)
            {
                _workers.Add(Task.Run(() => WorkAsync(port, connectionString, _stop.Token)));
            }
        }
    }

    public async Task WaitForAckedAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Acked.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Only {Acked.Count} writes were acknowledged; errors: {string.Join(" | ", Errors.Take(5).Select(e => $"{e.Port}: {e.Error}"))}");
            }

            await Task.Delay(50);
        }
    }

    private long NextId() => Interlocked.Increment(ref _nextId);

    private async Task WorkAsync(int port, string connectionString, CancellationToken ct)
    {
        var round = 0;
        long lastAcked = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new MySqlConnection(connectionString);
                await connection.OpenAsync(ct);
                await using var replica = new MySqlConnection(new MySqlConnectionStringBuilder(connectionString) { Database = "commerce@replica" }.ConnectionString);
                await replica.OpenAsync(ct);
                while (!ct.IsCancellationRequested)
                {
                    round++;
                    var id = NextId();
                    if (round % 2 == 0)
                    {
                        await AutocommitInsertAsync(connection, id, ct);
                        Acked.Add(id);
                    }
                    else if (await TransactionAsync(connection, id, ct))
                    {
                        Acked.Add(id);
                    }
                    else
                    {
                        RolledBack.Add(id);
                    }

                    if (Acked.Contains(id))
                    {
                        lastAcked = id;
                        await ReadBackAsync(connection, port, lastAcked, ct);
                    }

                    if (round % 10 == 0)
                    {
                        await ReplicaCountAsync(replica, ct);
                    }

                    await Task.Delay(5, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is MySqlException or InvalidOperationException or IOException or SocketException)
            {
                Errors.Enqueue((port, $"{(e as MySqlException)?.Number}: {e.Message}"));
                await Task.Delay(100, CancellationToken.None);
            }
        }
    }

    private async Task AutocommitInsertAsync(MySqlConnection connection, long id, CancellationToken ct)
    {
        await using var insert = new MySqlCommand($"INSERT INTO `{_table}` (customer_id, email) VALUES (@id, @email)", connection);
        insert.Parameters.AddWithValue("@id", id);
        insert.Parameters.AddWithValue("@email", $"a{id}@gw");
        await insert.PrepareAsync(ct);
        Interlocked.Increment(ref _statements);
        await ExecuteOrUnknownAsync(insert, id, ct);
    }

    /// <summary>Insert, update, commit; false when the gateway rolled it back because its tables switched while it was open.</summary>
    private async Task<bool> TransactionAsync(MySqlConnection connection, long id, CancellationToken ct)
    {
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var insert = new MySqlCommand($"INSERT INTO `{_table}` (customer_id, email) VALUES ({id}, 't{id}@gw')", connection, transaction))
            {
                Interlocked.Increment(ref _statements);
                await insert.ExecuteNonQueryAsync(ct);
            }

            await using (var update = new MySqlCommand($"UPDATE `{_table}` SET email = 'u{id}@gw' WHERE customer_id = {id}", connection, transaction))
            {
                Interlocked.Increment(ref _statements);
                await update.ExecuteNonQueryAsync(ct);
            }

            await transaction.CommitAsync(ct);
            return true;
        }
        catch (MySqlException e) when (e.Number == InFlightRollback)
        {
            return false;
        }
        catch (Exception e) when (IsConnectionLoss(e))
        {
            Unknown.Add(id);
            throw;
        }
    }

    /// <summary>The gateway (or the connection to it) went away mid-command: the statement's outcome is unknown.</summary>
    private static bool IsConnectionLoss(Exception e) =>
        e is SocketException or IOException
        || (e is MySqlException m && (m.ErrorCode is MySqlErrorCode.UnableToConnectToHost or MySqlErrorCode.CommandTimeoutExpired || m.InnerException is IOException or SocketException));

    private async Task ExecuteOrUnknownAsync(MySqlCommand command, long id, CancellationToken ct)
    {
        try
        {
            await command.ExecuteNonQueryAsync(ct);
        }
        catch (Exception e) when (IsConnectionLoss(e))
        {
            Unknown.Add(id);
            throw;
        }
    }

    /// <summary>Reads the row just acknowledged, through the gateway: it must be where the writes now go.</summary>
    private async Task ReadBackAsync(MySqlConnection connection, int port, long id, CancellationToken ct)
    {
        await using var read = new MySqlCommand($"SELECT COUNT(*) FROM `{_table}` WHERE customer_id = {id}", connection);
        Interlocked.Increment(ref _statements);
        var found = Convert.ToInt64(await read.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        if (found != 1)
        {
            Errors.Enqueue((port, $"read-back: acknowledged row {id} not found through the gateway"));
        }
    }

    /// <summary>
    /// A read from a REPLICA through the gateway (a session on <c>commerce@replica</c>): never held. The shared cluster's
    /// replicas may not have the test's table yet (replication lag under load): that answer (1146) is the replica's
    /// state, not the gateway's doing.
    /// </summary>
    private async Task ReplicaCountAsync(MySqlConnection replica, CancellationToken ct)
    {
        await using var count = new MySqlCommand($"SELECT COUNT(*) FROM `{_table}`", replica);
        Interlocked.Increment(ref _statements);
        try
        {
            await count.ExecuteScalarAsync(ct);
        }
        catch (MySqlException e) when (e.Number == 1146)
        {
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
