using System.Collections.Concurrent;

namespace Durable.MySql;

/// <summary>
/// A pool of open connections to one server with one set of options. A connection taken from the pool has been
/// checked: one idle for longer than <see cref="PingAfterIdle"/> is pinged first, and every returned connection is
/// reset (COM_RESET_CONNECTION: rollback, session variables, temporary tables) before it is reused, so no session
/// state leaks between users. Broken connections are dropped. Dispose the lease to give the connection back.
/// </summary>
public sealed class MySqlConnectionPool : IAsyncDisposable
{
    private readonly ConcurrentStack<(MySqlConnection Connection, DateTime IdleSince)> _idle = new();
    private readonly SemaphoreSlim _slots;
    private bool _disposed;

    public MySqlConnectionPool(MySqlConnectionOptions options, int maxSize = 16)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSize, 1);
        Options = options;
        MaxSize = maxSize;
        _slots = new SemaphoreSlim(maxSize, maxSize);
    }

    public MySqlConnectionOptions Options { get; }

    public int MaxSize { get; }

    /// <summary>A connection idle longer than this is pinged before it is handed out.</summary>
    public TimeSpan PingAfterIdle { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Idle connections older than this are closed instead of reused.</summary>
    public TimeSpan MaxIdle { get; init; } = TimeSpan.FromMinutes(5);

    public int IdleCount => _idle.Count;

    /// <summary>Waits for a free slot (up to the connect timeout) and returns a healthy connection.</summary>
    public async Task<PooledConnection> RentAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!await _slots.WaitAsync(Options.ConnectTimeout, cancellationToken).ConfigureAwait(false))
        {
            throw MySqlException.Client(MySqlErrorCode.ConnectTimeout,
                $"All {MaxSize} connections of the pool for {Options} stayed in use for {Options.ConnectTimeout}.");
        }

        try
        {
            while (_idle.TryPop(out var entry))
            {
                var idleFor = DateTime.UtcNow - entry.IdleSince;
                if (!entry.Connection.IsUsable || idleFor > MaxIdle)
                {
                    await entry.Connection.DisposeAsync().ConfigureAwait(false);
                    continue;
                }

                if (idleFor > PingAfterIdle)
                {
                    try
                    {
                        await entry.Connection.PingAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (MySqlException)
                    {
                        await entry.Connection.DisposeAsync().ConfigureAwait(false);
                        continue;
                    }
                }

                return new PooledConnection(this, entry.Connection);
            }

            var connection = await MySqlConnection.OpenAsync(Options, cancellationToken).ConfigureAwait(false);
            return new PooledConnection(this, connection);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    internal async ValueTask ReturnAsync(MySqlConnection connection)
    {
        try
        {
            if (!_disposed && connection.IsUsable)
            {
                try
                {
                    using var cts = new CancellationTokenSource(Options.CancellationGrace);
                    await connection.ResetAsync(cts.Token).ConfigureAwait(false);
                    _idle.Push((connection, DateTime.UtcNow));
                    return;
                }
                catch (Exception ex) when (ex is MySqlException or OperationCanceledException)
                {
                    // A connection that cannot be reset is not safe to reuse.
                }
            }

            await connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        while (_idle.TryPop(out var entry))
        {
            await entry.Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A connection rented from a <see cref="MySqlConnectionPool"/>; disposing it returns the connection.</summary>
public sealed class PooledConnection : IAsyncDisposable
{
    private readonly MySqlConnectionPool _pool;
    private MySqlConnection? _connection;

    internal PooledConnection(MySqlConnectionPool pool, MySqlConnection connection)
    {
        _pool = pool;
        _connection = connection;
    }

    public MySqlConnection Connection => _connection ?? throw new ObjectDisposedException(nameof(PooledConnection), "The connection was returned to the pool.");

    public async ValueTask DisposeAsync()
    {
        var c = Interlocked.Exchange(ref _connection, null);
        if (c is not null)
        {
            await _pool.ReturnAsync(c).ConfigureAwait(false);
        }
    }
}
