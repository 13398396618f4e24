namespace Durable.MySql;

/// <summary>
/// Watches one running command for caller cancellation and the command timeout. Either one sends KILL QUERY from a
/// side connection (the statement ends with error 1317 and the connection stays usable); if the server has not ended
/// the statement within the grace period, the I/O token fires and the connection is dropped. <see cref="Translate"/>
/// turns the resulting error into what the caller expects: OperationCanceledException or a timeout MySqlException.
/// </summary>
internal sealed class CommandGuard : IAsyncDisposable
{
    private readonly MySqlConnection _connection;
    private readonly CancellationToken _callerToken;
    private readonly CancellationTokenSource _io = new();
    private readonly CancellationTokenRegistration _registration;
    private readonly Timer? _timeout;
    private readonly TimeSpan _timeoutValue;
    private int _fired; // 0 none, 1 cancelled, 2 timed out
    private int _command; // 0 running, 1 finished (the guard is disposed), 2 dropped by an undelivered kill

    public CommandGuard(MySqlConnection connection, CancellationToken callerToken, TimeSpan timeout)
    {
        _connection = connection;
        _callerToken = callerToken;
        _timeoutValue = timeout;
        if (callerToken.CanBeCanceled)
        {
            _registration = callerToken.Register(static s => ((CommandGuard)s!).Fire(1), this);
        }

        if (timeout != Timeout.InfiniteTimeSpan && timeout > TimeSpan.Zero)
        {
            _timeout = new Timer(static s => ((CommandGuard)s!).Fire(2), this, timeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Token for socket I/O: cancelled only when the kill did not end the command in time.</summary>
    public CancellationToken IoToken => _io.Token;

    public Task? KillTask { get; private set; }

    public bool Fired => Volatile.Read(ref _fired) != 0;

    private void Fire(int reason)
    {
        if (Interlocked.CompareExchange(ref _fired, reason, 0) != 0)
        {
            return;
        }

        KillTask = _connection.KillQueryAsync(MayDrop);
        try
        {
            _io.CancelAfter(_connection.Options.CancellationGrace);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Whether a kill that could not be delivered may drop the connection: only while the command still runs. A command
    /// that finished while the kill was on its way keeps its connection (dropping it then would break the next command
    /// instead of ending this one).
    /// </summary>
    private bool MayDrop() => Interlocked.CompareExchange(ref _command, 2, 0) == 0;

    /// <summary>Maps the error that ended a killed command; other errors are returned unchanged.</summary>
    public Exception Translate(Exception ex)
    {
        var reason = Volatile.Read(ref _fired);
        if (reason == 0)
        {
            return ex;
        }

        // A connection the guard dropped because KILL QUERY could not be delivered ends the command as a lost connection.
        var dropped = ex is MySqlException { ErrorNumber: MySqlErrorCode.ServerLost } && _connection.KillUndelivered;
        var killed = ex is MySqlException { ErrorNumber: MySqlErrorCode.QueryInterrupted or MySqlErrorCode.ConnectionKilled } || ex is OperationCanceledException || dropped;
        if (!killed)
        {
            return ex;
        }

        if (ex is OperationCanceledException)
        {
            _connection.Abort();
        }

        var how = dropped ? "KILL QUERY could not be delivered, so the connection was closed" : "KILL QUERY was sent to the server";
        return reason == 1
            ? new OperationCanceledException($"The command was cancelled ({how}).", ex, _callerToken)
            : MySqlException.Client(MySqlErrorCode.CommandTimeout, $"The command did not finish within the command timeout of {_timeoutValue} and was killed ({how}).", ex);
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.CompareExchange(ref _command, 1, 0);
        await _registration.DisposeAsync().ConfigureAwait(false);
        if (_timeout is not null)
        {
            await _timeout.DisposeAsync().ConfigureAwait(false);
        }

        _io.Dispose();
    }
}
