using System.Diagnostics;
using System.Text;
using Durable.MySql;
using Durable.MySql.Protocol;
using Durable.Routing;
using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Gateway;

/// <summary>
/// One client connection after login: reads commands, routes each statement with <see cref="IStatementRouter"/>, runs
/// it on a backend connection and relays the answer. The session keeps its keyspace target, its carried SETs
/// (replayed on every backend connection it uses), its prepared statements (the gateway's ids), and the backend
/// connections it holds: the one of an open transaction (BEGIN is deferred to the first statement, as vtgate does),
/// reserved ones (temporary tables, named locks, user variables, LOCK TABLES), and the last one used, so SHOW
/// WARNINGS, LAST_INSERT_ID(), FOUND_ROWS() and ROW_COUNT() answer for the previous statement.
/// </summary>
internal sealed partial class ClientSession(GatewayServices services, ClientStreams io, ClientLogin login, uint id)
{
    private const byte ComQuit = 0x01, ComInitDb = 0x02, ComQuery = 0x03, ComFieldList = 0x04, ComPing = 0x0E,
        ComStmtPrepare = 0x16, ComStmtExecute = 0x17, ComStmtSendLongData = 0x18, ComStmtClose = 0x19, ComStmtReset = 0x1A,
        ComSetOption = 0x1B, ComResetConnection = 0x1F;

    private readonly PayloadWriter _backendWriter = new(1024);
    private readonly List<BackendConnection> _held = [];
    private readonly List<string> _sets = [];
    private readonly Dictionary<uint, PreparedStatement> _statements = [];
    private KeyspaceTarget? _target;
    private BackendConnection? _last;
    private bool _pendingBegin;

    // The client's own BEGIN / START TRANSACTION text, sent with the transaction's first statement: READ ONLY and
    // WITH CONSISTENT SNAPSHOT must reach the backend as the client wrote them.
    private string _beginSql = "BEGIN";

    // The snapshot the last Route call used: a statement routed on an older one is routed again before it runs.
    private RoutingSnapshot? _routedOn;
    private bool _multiStatements = (login.Capabilities & Capabilities.MultiStatements) != 0;
    private uint _nextStatementId;

    private ClientPacketWriter Client => io.Writer;

    private bool DeprecateEof => login.DeprecateEof;

    private CancellationToken StopToken => services.Status.HardStopToken;

    /// <summary>Checks the handshake's database (the keyspace target) and says OK or why not.</summary>
    public async Task<bool> AcceptAsync()
    {
        if (login.Database is not null)
        {
            try
            {
                _target = CheckKeyspace(KeyspaceTarget.Parse(login.Database));
            }
            catch (GatewaySqlException ex)
            {
                Client.WriteError(ex.Code, ex.SqlState, ex.Message);
                await Client.FlushAsync(StopToken).ConfigureAwait(false);
                return false;
            }
        }

        Client.WriteOk(ServerStatus.AutoCommit);
        await Client.FlushAsync(StopToken).ConfigureAwait(false);
        return true;
    }

    public async Task RunAsync()
    {
        try
        {
            while (!(services.Status.Draining && !InTransaction))
            {
                // An idle session ends when the drain starts; one inside a transaction gets until the hard stop.
                var readToken = InTransaction ? StopToken : services.Status.DrainToken;
                io.Reader.ResetSequence();
                ReadOnlyMemory<byte> payload;
                try
                {
                    payload = await io.Reader.ReadPayloadAsync(readToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                if (payload.Length == 0)
                {
                    return;
                }

                Client.Sequence = io.Reader.Sequence;
                if (!await DispatchAsync(payload).ConfigureAwait(false))
                {
                    return;
                }

                await Client.FlushAsync(StopToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is MySqlException or IOException or OperationCanceledException)
        {
            services.Logger.LogDebug("Session {Session} ended: {Error}", id, ex.Message);
        }
        finally
        {
            await ReleaseAllAsync().ConfigureAwait(false);
        }
    }

    private bool InTransaction => _pendingBegin || TransactionConnection() is not null;

    private BackendConnection? TransactionConnection()
    {
        foreach (var held in _held)
        {
            if (held.InTransaction)
            {
                return held;
            }
        }

        return null;
    }

    /// <returns>False when the session ends.</returns>
    private async ValueTask<bool> DispatchAsync(ReadOnlyMemory<byte> payload)
    {
        var command = payload.Span[0];
        try
        {
            switch (command)
            {
                case ComQuery:
                    return await QueryAsync(payload).ConfigureAwait(false);
                case ComStmtPrepare:
                    return await PrepareAsync(payload).ConfigureAwait(false);
                case ComStmtExecute:
                    return await ExecuteAsync(payload).ConfigureAwait(false);
                case ComStmtSendLongData:
                    SendLongData(payload.Span);
                    return true;
                case ComStmtClose:
                    await CloseStatementAsync(payload).ConfigureAwait(false);
                    return true;
                case ComStmtReset:
                    ResetStatement(payload.Span);
                    return true;
                case ComInitDb:
                    _target = CheckKeyspace(KeyspaceTarget.Parse(Encoding.UTF8.GetString(payload.Span[1..])));
                    Client.WriteOk(StatusForClient());
                    return true;
                case ComPing:
                    Client.WriteOk(StatusForClient());
                    return true;
                case ComQuit:
                    return false;
                case ComResetConnection:
                    await ResetSessionAsync().ConfigureAwait(false);
                    Client.WriteOk(ServerStatus.AutoCommit);
                    return true;
                case ComSetOption:
                    SetOption(payload.Span);
                    return true;
                case ComFieldList:
                    return await FieldListAsync(payload).ConfigureAwait(false);
                default:
                    Client.WriteError(1047, "08S01", $"Unknown command 0x{command:X2}: the gateway serves COM_QUERY, COM_STMT_PREPARE/EXECUTE/CLOSE/RESET/SEND_LONG_DATA, COM_INIT_DB, COM_PING, COM_RESET_CONNECTION, COM_QUIT, COM_FIELD_LIST and COM_SET_OPTION.");
                    return true;
            }
        }
        catch (GatewaySqlException ex)
        {
            Client.WriteError(ex.Code, ex.SqlState, ex.Message);
            return true;
        }
    }

    // ------------------------------------------------------------------ COM_QUERY

    private async ValueTask<bool> QueryAsync(ReadOnlyMemory<byte> payload)
    {
        var started = Stopwatch.GetTimestamp();
        var sql = Encoding.UTF8.GetString(payload.Span[1..]);
        if (_shardInsertId is { } insertId && IsLastInsertIdQuery(sql))
        {
            WriteLastInsertId(insertId, sql, started);
            return true;
        }

        var routed = Route(sql);
        switch (routed.Kind)
        {
            case StatementKind.Local:
                LocalResultSets.Write(routed.Local, services.Topology, Client, DeprecateEof, StatusForClient());
                Log(started, sql, null, null, default);
                return true;
            case StatementKind.Use:
                _target = CheckKeyspace(routed.UseKeyspace ?? throw new GatewaySqlException(GatewaySqlException.ParseError, "42000", "USE without a keyspace."));
                Client.WriteOk(StatusForClient());
                Log(started, sql, null, null, default);
                return true;
            case StatementKind.Begin when TransactionConnection() is null:
                // Deferred to the first statement (vtgate begins lazily): the transaction's backend is not known yet.
                _pendingBegin = true;
                _beginSql = routed.Sql;
                Client.WriteOk(ServerStatus.AutoCommit | ServerStatus.InTransaction);
                Log(started, sql, null, null, default);
                return true;
            case StatementKind.Commit or StatementKind.Rollback when TransactionCount() > 1:
                await CommitShardsAsync(routed.Kind == StatementKind.Commit, sql, started).ConfigureAwait(false);
                return true;
            case StatementKind.Commit or StatementKind.Rollback when TransactionConnection() is null:
                _pendingBegin = false;
                Client.WriteOk(ServerStatus.AutoCommit);
                Log(started, sql, null, null, default);
                return true;
        }

        if (routed.Parts > 1 && !_multiStatements)
        {
            throw new GatewaySqlException(GatewaySqlException.ParseError, "42000",
                "The text holds several statements but the client turned multi-statements off (COM_SET_OPTION); send one statement at a time.");
        }

        if (routed.ShardedKeyspace is not null)
        {
            return await RunShardedAsync(routed, sql, started).ConfigureAwait(false);
        }

        if (_shardInsertId is not null && routed.Kind is StatementKind.Insert or StatementKind.Replace)
        {
            _shardInsertId = null; // an unsharded insert's own insert id answers LAST_INSERT_ID() from now on
        }

        return await RunAsync(routed, sql, null, default, started).ConfigureAwait(false);
    }

    private RoutedStatement Route(string sql)
    {
        var snapshot = services.Topology.Current;
        var routed = services.Router.Route(sql, new RouteContext(_target, snapshot));
        _routedOn = snapshot;
        return routed;
    }

    /// <summary>
    /// How long a guard-refused statement waits for the hold or the new rules to become visible here before the refusal
    /// goes to the client: a switch arms its guards only after every gateway acknowledged its hold or the ack bound
    /// (2 s) passed, so by then a gateway that follows etcd sees one or the other.
    /// </summary>
    private static readonly TimeSpan GuardRetryBound = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs a routed statement (a query text, or an execute of <paramref name="prepared"/>) on its backend: waits out a
    /// cutover hold first when it is the first table statement of a transaction or autocommit, picks the backend,
    /// replays session state, sends a deferred BEGIN with it, and relays the response.
    /// A statement is never run on rules a switch has replaced: one routed on an older snapshot (a prepared statement,
    /// one that waited out a hold) is routed again first. A statement that starts work (autocommit, or the first of a
    /// transaction) and that a write guard refuses anyway changed nothing (the guard is a BEFORE trigger), so it is
    /// retried on the routing the switch leaves: it was routed just before the hold began here, the race vtgate closes
    /// by retrying on its tablets' failover errors. A later statement of an open transaction that meets a guard gets
    /// the in-flight error (see <see cref="AnswerGuardRefusalAsync"/>).
    /// </summary>
    /// <returns>False when the backend connection broke mid-response (the client stream is then unusable).</returns>
    private async ValueTask<bool> RunAsync(RoutedStatement routed, string sql, PreparedStatement? prepared, ReadOnlyMemory<byte> executePayload, long started)
    {
        var ct = StopToken;
        var routedOn = prepared?.RoutedOn ?? _routedOn;
        long retryUntil = 0;
        while (true)
        {
            if (!ReferenceEquals(routedOn, services.Topology.Current))
            {
                (routed, prepared) = RouteAgain(sql, prepared);
                routedOn = _routedOn;
                if (routed.ShardedKeyspace is not null)
                {
                    // The rules now send it to a sharded keyspace (a switch into one ended the hold it waited out, or
                    // came between routing and running): it must be planned per shard, never sent to one shard as it
                    // is (an insert there would lack its sequence value or land on the wrong shard).
                    return prepared is not null
                        ? await ExecuteShardedAsync(prepared, executePayload, started).ConfigureAwait(false)
                        : await RunShardedAsync(routed, sql, started).ConfigureAwait(false);
                }
            }

            var transaction = TransactionConnection();
            var target = prepared?.Target ?? routed.Target;
            var onPrimaryTables = target is { Type: TabletType.Primary } && routed.Tables.Count > 0;
            var startsWork = onPrimaryTables && transaction is null;
            if (startsWork && services.Holds.WaitIfHeld(routed.Tables, ct) is { } wait)
            {
                services.Status.Held();
                await wait.ConfigureAwait(false); // a GatewaySqlException (limits) goes to the client as it is
                continue; // the hold ended on a newer snapshot: route again
            }

            var connection = await AcquireAsync(target, ct).ConfigureAwait(false);
            await SyncSessionStateAsync(connection, ct).ConfigureAwait(false);
            var backend = connection.Connection;
            if (prepared is not null && !await EnsurePreparedAsync(connection, prepared, ct).ConfigureAwait(false))
            {
                return true;
            }

            if (prepared is not null)
            {
                await SendLongDataAsync(connection, prepared, ct).ConfigureAwait(false);
            }

            var beginSent = false;
            if (_pendingBegin)
            {
                _backendWriter.Clear();
                _backendWriter.WriteByte(ComQuery);
                _backendWriter.WriteString(_beginSql);
                await backend.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
                beginSent = true;
                _pendingBegin = false;
            }

            BuildCommand(routed, prepared, executePayload, connection);
            await backend.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
            if (beginSent && !await ReadBeginAnswerAsync(backend, ct).ConfigureAwait(false))
            {
                return true;
            }

            // A guard's refusal of a single statement on the moving tables is answered here, not relayed.
            var holdGuard = onPrimaryTables && routed.Parts == 1;
            RelayOutcome outcome;
            try
            {
                outcome = await ResponseRelay.RelayAsync(backend, Client, DeprecateEof, holdGuard, ct).ConfigureAwait(false);
            }
            catch (MySqlException ex)
            {
                await DropAsync(connection).ConfigureAwait(false);
                Client.WriteError(2013, "HY000", $"Lost connection to tablet {connection.Endpoint.Alias} during the statement: {ex.Message}");
                await Client.FlushAsync(ct).ConfigureAwait(false);
                return false;
            }

            _last = connection;
            services.Status.Statement();
            if (outcome.Failed && holdGuard && outcome.ErrorCode == ResponseRelay.WriteGuardError)
            {
                if (startsWork && IsWriteGuard(outcome))
                {
                    if (beginSent)
                    {
                        // The lazily begun transaction holds nothing yet: end it, and begin again with the retry.
                        await backend.ExecuteAsync("ROLLBACK", ct).ConfigureAwait(false);
                        _pendingBegin = true;
                    }

                    retryUntil = retryUntil == 0 ? Stopwatch.GetTimestamp() + (long)(GuardRetryBound.TotalSeconds * Stopwatch.Frequency) : retryUntil;
                    if (await WaitForNewRoutingAsync(routed.Tables, routedOn, retryUntil, ct).ConfigureAwait(false))
                    {
                        continue;
                    }
                }

                await AnswerGuardRefusalAsync(connection, routed, outcome, startsWork, ct).ConfigureAwait(false);
            }
            else if (!outcome.Failed)
            {
                RecordEffects(routed, connection);
            }

            if (prepared is not null)
            {
                prepared.LongData.Clear();
            }

            Log(started, sql, target, connection.Endpoint.Alias, outcome);
            services.Mirror.Offer(routed, prepared is null ? sql : null, _target, routedOn, started, outcome.Failed);
            return true;
        }
    }

    /// <summary>The error is one of Durable's write guards (their SIGNAL text: "Durable write guard: ..." or the compact "Durable guard: ...").</summary>
    private static bool IsWriteGuard(RelayOutcome outcome) =>
        outcome.ErrorMessage is { } m && (m.StartsWith("Durable write guard", StringComparison.Ordinal) || m.StartsWith("Durable guard", StringComparison.Ordinal));

    /// <summary>
    /// After a guard refused a statement that changed nothing: waits until this gateway sees the switch (a hold on the
    /// tables, which it then waits out, or rules newer than the statement was routed on). False when neither shows up
    /// before <paramref name="until"/> (the guard is not a switch's: the refusal goes to the client).
    /// </summary>
    private async ValueTask<bool> WaitForNewRoutingAsync(IReadOnlyList<QualifiedTable> tables, RoutingSnapshot? routedOn, long until, CancellationToken ct)
    {
        while (Stopwatch.GetTimestamp() < until)
        {
            if (services.Holds.IsHeld(tables) || !ReferenceEquals(routedOn, services.Topology.Current))
            {
                return true;
            }

            await Task.Delay(20, ct).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>
    /// Routes a statement again on the current snapshot. A prepared statement whose text or target changed becomes a
    /// new statement under the client's same id (prepared afresh on the connections that execute it); one that routes
    /// the same only notes the snapshot.
    /// </summary>
    private (RoutedStatement Routed, PreparedStatement? Prepared) RouteAgain(string sql, PreparedStatement? prepared)
    {
        if (prepared is null)
        {
            return (Route(sql), null);
        }

        var routed = Route(prepared.OriginalSql);
        var target = routed.Target ?? prepared.Target;
        if (routed.Sql == prepared.Routed.Sql && target == prepared.Target)
        {
            prepared.RoutedOn = _routedOn;
            return (routed, prepared);
        }

        var replacement = prepared.RoutedAgain(routed, target, _routedOn);
        _statements[prepared.Id] = replacement;
        return (routed, replacement);
    }

    private void BuildCommand(RoutedStatement routed, PreparedStatement? prepared, ReadOnlyMemory<byte> executePayload, BackendConnection connection)
    {
        _backendWriter.Clear();
        if (prepared is null)
        {
            _backendWriter.WriteByte(ComQuery);
            _backendWriter.WriteString(routed.Sql);
            return;
        }

        // COM_STMT_EXECUTE with the backend's id; parameter types always sent (new_params_bound = 1), since the
        // client may send them only on its first execute while this connection may see the statement for the first time.
        var span = executePayload.Span;
        _backendWriter.WriteByte(ComStmtExecute);
        _backendWriter.WriteUInt32(connection.Prepared[prepared]);
        var n = prepared.ParameterCount;
        if (n == 0)
        {
            _backendWriter.WriteBytes(span[5..]);
            return;
        }

        var boundOffset = 1 + 4 + 1 + 4 + (n + 7) / 8;
        _backendWriter.WriteBytes(span[5..boundOffset]);
        _backendWriter.WriteByte(1);
        _backendWriter.WriteBytes(prepared.ParameterTypes);
        _backendWriter.WriteBytes(span[boundOffset] == 1 ? span[(boundOffset + 1 + 2 * n)..] : span[(boundOffset + 1)..]);
    }

    private async ValueTask<bool> ReadBeginAnswerAsync(MySqlConnection backend, CancellationToken ct)
    {
        var next = backend.GetRawSequence();
        backend.SetRawSequence(1);
        var answer = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
        if (PacketKind.IsErr(answer.Span))
        {
            // BEGIN failed: relay its error and swallow the statement's answer.
            Client.WritePacket(answer.Span);
            backend.SetRawSequence(1);
            var sink = new ClientPacketWriter(System.IO.Pipelines.PipeWriter.Create(Stream.Null));
            await ResponseRelay.RelayAsync(backend, sink, DeprecateEof, false, ct).ConfigureAwait(false);
            return false;
        }

        backend.SetRawStatus(OkPacket.Parse(answer.Span).Status);
        backend.SetRawSequence(next);
        return true;
    }

    /// <summary>
    /// The write guard refused a statement of a transaction that was already open on the old routing when its tables
    /// switched: it cannot finish there (its side now refuses writes, or will lose them to the other side), so it is
    /// rolled back and the client told to retry it — vtgate fails in-flight transactions the same way. A statement that
    /// started work and still met a guard after the retry bound gets the guard's own error: that guard is not a switch's.
    /// </summary>
    private async ValueTask AnswerGuardRefusalAsync(BackendConnection connection, RoutedStatement routed, RelayOutcome outcome, bool startedWork, CancellationToken ct)
    {
        if (!startedWork && IsWriteGuard(outcome))
        {
            await connection.Connection.ExecuteAsync("ROLLBACK", ct).ConfigureAwait(false);
            Client.WriteError(1213, "40001",
                $"The transaction was rolled back because its tables ({string.Join(", ", routed.Tables)}) switched keyspaces while it was open; retry the transaction.");
            return;
        }

        Client.WriteError(outcome.ErrorCode, outcome.SqlState ?? "45000", outcome.ErrorMessage ?? "write guard");
    }

    private void RecordEffects(RoutedStatement routed, BackendConnection connection)
    {
        var effects = routed.Effects;
        if (effects == SessionEffects.None)
        {
            return;
        }

        if ((effects & SessionEffects.CarriedSet) != 0 && routed.Parts == 1)
        {
            _sets.Add(routed.Sql);
            connection.AppliedSets = _sets.Count;
        }

        connection.Reserved |= effects & (SessionEffects.TemporaryTable | SessionEffects.AdvisoryLock | SessionEffects.UserVariable | SessionEffects.LockTables);
        if ((effects & SessionEffects.UnlockTables) != 0)
        {
            connection.Reserved &= ~SessionEffects.LockTables;
        }
    }

    // ------------------------------------------------------------------ backend connections

    /// <summary>
    /// The backend connection a statement runs on. A statement with no target runs where the session's open
    /// transaction is, else on the last connection used, else on the session's keyspace (or the default). A
    /// transaction spans one keyspace: a statement for another while it is open is refused.
    /// </summary>
    private async ValueTask<BackendConnection> AcquireAsync(KeyspaceTarget? target, CancellationToken ct)
    {
        if (target is null)
        {
            var transaction = TransactionConnection();
            if (transaction is not null)
            {
                return transaction;
            }

            // The last connection, unless USE moved the session elsewhere since.
            if (_last is not null && _last.IsUsable && _held.Contains(_last) &&
                (_target is null || (_last.Endpoint.Keyspace == _target.Keyspace && _last.Endpoint.Type == _target.Type)))
            {
                return _last;
            }

            target = _target ?? DefaultTarget();
        }

        var endpoint = await services.Picker.PickAsync(target, ct).ConfigureAwait(false);
        for (var i = 0; i < _held.Count; i++)
        {
            var held = _held[i];
            if (held.Endpoint == endpoint)
            {
                if (held.IsUsable)
                {
                    return held;
                }

                await DropAsync(held).ConfigureAwait(false);
                break;
            }
        }

        var open = TransactionConnection();
        if (open is not null)
        {
            throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000",
                $"This session's transaction is open on keyspace {open.Endpoint.Keyspace} (tablet {open.Endpoint.Alias}); the statement goes to {target} (tablet {endpoint.Alias}). A transaction through the gateway spans one keyspace: COMMIT or ROLLBACK first.");
        }

        // Connections that hold nothing for the session go back to the pool.
        for (var i = _held.Count - 1; i >= 0; i--)
        {
            if (!_held[i].Pinned)
            {
                var idle = _held[i];
                _held.RemoveAt(i);
                if (ReferenceEquals(idle, _last))
                {
                    _last = null;
                }

                await services.Pool.ReturnAsync(idle).ConfigureAwait(false);
            }
        }

        var connection = await services.Pool.RentAsync(endpoint, login.FoundRows, ct).ConfigureAwait(false);
        _held.Add(connection);
        return connection;
    }

    private KeyspaceTarget DefaultTarget()
    {
        var keyspaces = services.Topology.Current.Keyspaces;
        if (services.Settings.DefaultKeyspace is { Length: > 0 } configured)
        {
            return KeyspaceTarget.Parse(configured);
        }

        var first = keyspaces.Keys.Order(StringComparer.Ordinal).FirstOrDefault()
                    ?? throw new GatewaySqlException(GatewaySqlException.NoDb, "3D000", "No database selected, and the topology has no keyspace to send the statement to.");
        return new KeyspaceTarget(first, TabletType.Primary);
    }

    private KeyspaceTarget CheckKeyspace(KeyspaceTarget target)
    {
        if (!services.Topology.Current.Keyspaces.ContainsKey(target.Keyspace))
        {
            throw new GatewaySqlException(GatewaySqlException.BadDb, "42000",
                $"Unknown database '{target}': the keyspaces are {string.Join(", ", services.Topology.Current.Keyspaces.Keys.Order(StringComparer.Ordinal))} (optionally with @primary, @replica or @rdonly).");
        }

        return target;
    }

    /// <summary>Replays the session's SETs this connection has not run yet (a pooled connection starts with none).</summary>
    private async ValueTask SyncSessionStateAsync(BackendConnection connection, CancellationToken ct)
    {
        while (connection.AppliedSets < _sets.Count)
        {
            await connection.Connection.ExecuteAsync(_sets[connection.AppliedSets], ct).ConfigureAwait(false);
            connection.AppliedSets++;
        }
    }

    private async ValueTask DropAsync(BackendConnection connection)
    {
        _held.Remove(connection);
        if (ReferenceEquals(_last, connection))
        {
            _last = null;
        }

        await services.Pool.DiscardAsync(connection).ConfigureAwait(false);
    }

    private async ValueTask ReleaseAllAsync()
    {
        foreach (var held in _held)
        {
            await services.Pool.ReturnAsync(held).ConfigureAwait(false);
        }

        _held.Clear();
        _last = null;
    }

    private async ValueTask ResetSessionAsync()
    {
        foreach (var held in _held)
        {
            held.Dirty = true;
        }

        await ReleaseAllAsync().ConfigureAwait(false);
        _sets.Clear();
        _statements.Clear();
        _pendingBegin = false;
    }

    private ServerStatus StatusForClient() =>
        ServerStatus.AutoCommit | (InTransaction ? ServerStatus.InTransaction : ServerStatus.None);

    // ------------------------------------------------------------------ prepared statements

    private async ValueTask<bool> PrepareAsync(ReadOnlyMemory<byte> payload)
    {
        var ct = StopToken;
        var sql = Encoding.UTF8.GetString(payload.Span[1..]);
        var routed = Route(sql);
        if (routed.Kind is StatementKind.Local or StatementKind.Use or StatementKind.Multi or StatementKind.Begin or StatementKind.Commit or StatementKind.Rollback)
        {
            throw new GatewaySqlException(1295, "HY000", $"{routed.Kind} statements cannot be prepared through the gateway; send them as plain queries (COM_QUERY).");
        }

        if (routed.ShardedKeyspace is not null)
        {
            return await PrepareShardedAsync(routed, sql).ConfigureAwait(false);
        }

        var target = routed.Target ?? _target ?? DefaultTarget();
        var connection = await AcquireAsync(target, ct).ConfigureAwait(false);
        await SyncSessionStateAsync(connection, ct).ConfigureAwait(false);
        var backend = connection.Connection;
        _backendWriter.Clear();
        _backendWriter.WriteByte(ComStmtPrepare);
        _backendWriter.WriteString(routed.Sql);
        await backend.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
        var first = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
        if (PacketKind.IsErr(first.Span))
        {
            Client.WritePacket(first.Span);
            return true;
        }

        var (backendId, columns, parameters) = ReadPrepareOk(first.Span);
        var statement = new PreparedStatement(++_nextStatementId, routed, target, parameters, columns) { OriginalSql = sql, RoutedOn = _routedOn };
        var w = Client.Scratch();
        w.WriteBytes(first.Span);
        Client.WriteScratchWithId(statement.Id);
        var backendDeprecateEof = backend.UsesDeprecateEof();
        await ResponseRelay.RelayColumnsAsync(backend, Client, parameters, backendDeprecateEof, DeprecateEof, ct).ConfigureAwait(false);
        await ResponseRelay.RelayColumnsAsync(backend, Client, columns, backendDeprecateEof, DeprecateEof, ct).ConfigureAwait(false);
        connection.Prepared[statement] = backendId;
        _statements[statement.Id] = statement;
        _last = connection;
        return true;
    }

    private static (uint Id, int Columns, int Parameters) ReadPrepareOk(ReadOnlySpan<byte> span)
    {
        var r = new PayloadReader(span);
        r.ReadByte();
        var id = r.ReadUInt32();
        var columns = r.ReadUInt16();
        var parameters = r.ReadUInt16();
        return (id, columns, parameters);
    }

    /// <summary>Prepares the statement on a connection that has not seen it (its answer is read and dropped).</summary>
    private async ValueTask<bool> EnsurePreparedAsync(BackendConnection connection, PreparedStatement statement, CancellationToken ct)
    {
        if (connection.Prepared.ContainsKey(statement))
        {
            return true;
        }

        var backend = connection.Connection;
        _backendWriter.Clear();
        _backendWriter.WriteByte(ComStmtPrepare);
        _backendWriter.WriteString(statement.Routed.Sql);
        await backend.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
        var first = await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
        if (PacketKind.IsErr(first.Span))
        {
            Client.WritePacket(first.Span);
            return false;
        }

        var (backendId, columns, parameters) = ReadPrepareOk(first.Span);
        var deprecate = backend.UsesDeprecateEof();
        await ResponseRelay.RelayColumnsAsync(backend, null, parameters, deprecate, deprecate, ct).ConfigureAwait(false);
        await ResponseRelay.RelayColumnsAsync(backend, null, columns, deprecate, deprecate, ct).ConfigureAwait(false);
        connection.Prepared[statement] = backendId;
        return true;
    }

    private async ValueTask<bool> ExecuteAsync(ReadOnlyMemory<byte> payload)
    {
        var started = Stopwatch.GetTimestamp();
        var statement = FindStatement(payload.Span, "mysqld_stmt_execute");
        var n = statement.ParameterCount;
        if (n > 0)
        {
            var boundOffset = 1 + 4 + 1 + 4 + (n + 7) / 8;
            var span = payload.Span;
            if (span.Length <= boundOffset)
            {
                throw new GatewaySqlException(1210, "HY000", $"Incorrect arguments to mysqld_stmt_execute: statement {statement.Id} has {n} parameters but the packet carries none.");
            }

            if (span[boundOffset] == 1)
            {
                var types = span.Slice(boundOffset + 1, 2 * n);
                if (statement.ParameterTypes is null || !types.SequenceEqual(statement.ParameterTypes))
                {
                    statement.ParameterTypes = types.ToArray();
                }
            }
            else if (statement.ParameterTypes is null)
            {
                throw new GatewaySqlException(1210, "HY000", $"Incorrect arguments to mysqld_stmt_execute: statement {statement.Id} was never sent its parameter types.");
            }
        }

        if (statement.Routed.ShardedKeyspace is not null)
        {
            return await ExecuteShardedAsync(statement, payload, started).ConfigureAwait(false);
        }

        return await RunAsync(statement.Routed, statement.OriginalSql, statement, payload, started).ConfigureAwait(false);
    }

    /// <summary>
    /// Replays the COM_STMT_SEND_LONG_DATA parts the client sent since its last execute on the connection about to
    /// execute (the client leaves those parameters' values out of the execute packet). The server answers none of them.
    /// </summary>
    private async ValueTask SendLongDataAsync(BackendConnection connection, PreparedStatement statement, CancellationToken ct)
    {
        foreach (var part in statement.LongData)
        {
            _backendWriter.Clear();
            _backendWriter.WriteByte(ComStmtSendLongData);
            _backendWriter.WriteUInt32(connection.Prepared[statement]);
            _backendWriter.WriteBytes(part);
            await connection.Connection.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
        }
    }

    private PreparedStatement FindStatement(ReadOnlySpan<byte> payload, string command)
    {
        var r = new PayloadReader(payload);
        r.ReadByte();
        var statementId = r.ReadUInt32();
        return _statements.TryGetValue(statementId, out var statement)
            ? statement
            : throw new GatewaySqlException(1243, "HY000", $"Unknown prepared statement handler ({statementId}) given to {command}");
    }

    private void SendLongData(ReadOnlySpan<byte> payload)
    {
        // No answer, not even an error (as the server does).
        if (payload.Length >= 7 && _statements.TryGetValue(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(payload[1..]), out var statement))
        {
            statement.LongData.Add(payload[5..].ToArray());
        }
    }

    private void ResetStatement(ReadOnlySpan<byte> payload)
    {
        var statement = FindStatement(payload, "mysqld_stmt_reset");
        statement.LongData.Clear();
        Client.WriteOk(StatusForClient());
    }

    private async ValueTask CloseStatementAsync(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length < 5 || !_statements.Remove(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(payload.Span[1..]), out var statement))
        {
            return;
        }

        foreach (var held in _held)
        {
            if (held.Prepared.Remove(statement, out var backendId) && held.IsUsable)
            {
                _backendWriter.Clear();
                _backendWriter.WriteByte(ComStmtClose);
                _backendWriter.WriteUInt32(backendId);
                await held.Connection.SendRawCommandAsync(_backendWriter, StopToken).ConfigureAwait(false);
            }
        }
    }

    // ------------------------------------------------------------------ other commands

    private void SetOption(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 3 || payload[1] > 1 || payload[2] != 0)
        {
            Client.WriteError(1047, "08S01", "COM_SET_OPTION: unknown option; 0 (MULTI_STATEMENTS_ON) and 1 (MULTI_STATEMENTS_OFF) are known.");
            return;
        }

        _multiStatements = payload[1] == 0;
        Client.WriteEnd(DeprecateEof, StatusForClient());
    }

    private async ValueTask<bool> FieldListAsync(ReadOnlyMemory<byte> payload)
    {
        var ct = StopToken;
        var connection = await AcquireAsync(_target ?? DefaultTarget(), ct).ConfigureAwait(false);
        _backendWriter.Clear();
        _backendWriter.WriteBytes(payload.Span);
        await connection.Connection.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
        await ResponseRelay.RelayFieldListAsync(connection.Connection, Client, DeprecateEof, ct).ConfigureAwait(false);
        return true;
    }

    private void Log(long started, string sql, KeyspaceTarget? target, string? alias, RelayOutcome outcome)
    {
        if (!services.QueryLog.Enabled)
        {
            return;
        }

        services.QueryLog.Write(id, login.User, (target ?? _target)?.ToString(), alias, Stopwatch.GetElapsedTime(started),
            outcome.Rows, outcome.AffectedRows, outcome.Failed ? $"{outcome.ErrorCode}" : null, sql);
    }
}
