using System.Diagnostics;
using Durable.MySql;
using Durable.MySql.Protocol;
using Durable.Routing;
using Durable.Routing.Sharding;
using Durable.Gateway.Sharding;
using Durable.Topology;

namespace Durable.Gateway;

/// <summary>
/// The session's side of sharded keyspaces: a statement the router marked sharded is planned per shard
/// (<see cref="ShardPlanner"/>), its auto-increment values reserved from <see cref="ISequenceSource"/>, and run on one
/// backend connection per shard (the shard's primary, or a serving replica for @replica/@rdonly): one shard's answer is
/// relayed as it is, several shards' answers are read in parallel and combined (OK with the affected rows summed and the
/// filled insert id; result sets merged by <see cref="Sharding.ScatterMerger"/>). In a transaction each shard gets its own
/// backend transaction, begun on first use and committed one after another at COMMIT (vtgate's default "multi" mode).
/// A prepared statement is prepared on one shard (for the metadata the client gets) and each execute runs as its text
/// with the bound values in place, its rows written back in the binary protocol.
/// </summary>
internal sealed partial class ClientSession
{
    // The insert id of the last sharded INSERT that filled auto-increment values: what LAST_INSERT_ID() answers.
    private long? _shardInsertId;

    /// <param name="prepared">The prepared statement this executes (its text with the values in place is <paramref name="sql"/>): the answer goes in the binary protocol.</param>
    /// <param name="executePayload">That execute's packet, for when the rules no longer send the statement to a sharded keyspace.</param>
    private async ValueTask<bool> RunShardedAsync(RoutedStatement routed, string sql, long started, PreparedStatement? prepared = null, ReadOnlyMemory<byte> executePayload = default)
    {
        var ct = StopToken;
        var routedOn = _routedOn;
        while (true)
        {
            if (!ReferenceEquals(routedOn, services.Topology.Current))
            {
                routed = Route(sql);
                routedOn = _routedOn;
                if (routed.ShardedKeyspace is null)
                {
                    return prepared is not null
                        ? await RunAsync(prepared.Routed, prepared.OriginalSql, prepared, executePayload, started).ConfigureAwait(false)
                        : await RunAsync(routed, sql, null, default, started).ConfigureAwait(false);
                }
            }

            var target = routed.Target!;
            if (target.Type == TabletType.Primary && TransactionConnection() is null && services.Holds.WaitIfHeld(routed.Tables, ct) is { } wait)
            {
                services.Status.Held();
                await wait.ConfigureAwait(false);
                continue;
            }

            var statement = ShardPlanner.Analyze(routed, routedOn!);
            long? first = null;
            if (statement.ValuesNeeded > 0)
            {
                var sequences = services.Sequences ?? throw new GatewaySqlException(GatewaySqlException.Unknown, "HY000",
                    $"the insert needs {statement.ValuesNeeded} values of sequence {statement.SequenceKeyspace}.{statement.SequenceTable}, but this gateway has no sequence source configured");
                first = await sequences.NextAsync(statement.SequenceKeyspace!, statement.SequenceTable!, statement.ValuesNeeded, ct).ConfigureAwait(false);
            }

            var plan = statement.Plan(first);
            return await RunPlanAsync(plan, target, sql, started, binary: prepared is not null, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask<bool> RunPlanAsync(ShardedPlan plan, KeyspaceTarget target, string sql, long started, bool binary, CancellationToken ct)
    {
        var connections = await AcquireShardsAsync(plan.Keyspace.Name, [.. plan.Queries.Select(q => q.Shard)], target, begin: true, ct).ConfigureAwait(false);
        for (var i = 0; i < connections.Count; i++)
        {
            _backendWriter.Clear();
            _backendWriter.WriteByte(ComQuery);
            _backendWriter.WriteString(plan.Queries[i].Sql);
            await connections[i].Connection.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
        }

        RelayOutcome outcome = default;
        try
        {
            if (connections.Count == 1 && plan.FirstInsertId is null && !binary)
            {
                outcome = await ResponseRelay.RelayAsync(connections[0].Connection, Client, DeprecateEof, false, ct).ConfigureAwait(false);
            }
            else
            {
                var answers = await Task.WhenAll(connections.Select((c, i) => ShardAnswer.ReadAsync(c.Connection, plan.Queries[i].Shard, ct))).ConfigureAwait(false);
                outcome = Answer(plan, answers, binary);
            }
        }
        catch (MySqlException ex)
        {
            foreach (var connection in connections.Where(c => !c.IsUsable || c.Connection.IsBroken()).ToList())
            {
                await DropAsync(connection).ConfigureAwait(false);
            }

            Client.WriteError(2013, "HY000", $"Lost connection to a shard of keyspace {plan.Keyspace.Name} during the statement: {ex.Message}");
            await Client.FlushAsync(ct).ConfigureAwait(false);
            return false;
        }

        _last = connections[0];
        if (plan.FirstInsertId is { } id && !outcome.Failed)
        {
            _shardInsertId = id;
        }

        services.Status.Statement();
        Log(started, sql, target, string.Join(",", connections.Select(c => c.Endpoint.Alias)), outcome);
        return true;
    }

    /// <summary>Writes the combined answer: the first shard error, else the merged rows, else one OK for all.</summary>
    private RelayOutcome Answer(ShardedPlan plan, ShardAnswer[] answers, bool binary)
    {
        var status = StatusForClient();
        foreach (var answer in answers)
        {
            if (answer.Error is { } error)
            {
                Client.WritePacket(error);
                var err = ErrPacket.Parse(error);
                return new RelayOutcome(status, 0, 0, err.ErrorNumber, err.Message, err.SqlState);
            }
        }

        if (answers[0].IsResultSet)
        {
            if (answers.Length == 1 || plan.Merge is null)
            {
                new Sharding.ScatterMerger(new ScatterMerge { HiddenColumns = 0 }, answers[0].Columns, binary).Write(answers, Client, DeprecateEof, status);
            }
            else
            {
                new Sharding.ScatterMerger(plan.Merge, answers[0].Columns, binary).Write(answers, Client, DeprecateEof, status);
            }

            return new RelayOutcome(status, 0, (ulong)answers.Sum(a => a.Rows.Count), 0, null);
        }

        var affected = 0UL;
        var warnings = 0;
        foreach (var answer in answers)
        {
            affected += answer.AffectedRows;
            warnings += answer.Warnings;
        }

        Client.WriteOk(status, affected, plan.FirstInsertId is { } id ? (ulong)id : 0, (ushort)Math.Min(warnings, ushort.MaxValue));
        return new RelayOutcome(status, affected, 0, 0, null);
    }

    /// <summary>
    /// One backend connection per shard, the session's SETs replayed, and (with <paramref name="begin"/>) a transaction
    /// begun on it when the session is in one. Connections of other shards of the keyspace stay held (the statement uses
    /// several at once); an open transaction on another keyspace refuses the statement.
    /// </summary>
    private async ValueTask<List<BackendConnection>> AcquireShardsAsync(string keyspace, IReadOnlyList<string> shards, KeyspaceTarget target, bool begin, CancellationToken ct)
    {
        var open = TransactionConnection();
        if (open is not null && open.Endpoint.Keyspace != keyspace)
        {
            throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000",
                $"This session's transaction is open on keyspace {open.Endpoint.Keyspace} (tablet {open.Endpoint.Alias}); the statement goes to sharded keyspace {keyspace}. A transaction through the gateway spans one keyspace: COMMIT or ROLLBACK first.");
        }

        var inTransaction = begin && (_pendingBegin || open is not null);
        var endpoints = new List<BackendEndpoint>(shards.Count);
        foreach (var shard in shards)
        {
            endpoints.Add(await services.Picker.PickShardAsync(target, shard, ct).ConfigureAwait(false));
        }

        // Connections that hold nothing for the session and are not needed now go back to the pool.
        for (var i = _held.Count - 1; i >= 0; i--)
        {
            if (!_held[i].Pinned && !endpoints.Contains(_held[i].Endpoint))
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

        var connections = new List<BackendConnection>(endpoints.Count);
        foreach (var endpoint in endpoints)
        {
            var connection = _held.Find(h => h.Endpoint == endpoint);
            if (connection is not null && !connection.IsUsable)
            {
                await DropAsync(connection).ConfigureAwait(false);
                connection = null;
            }

            if (connection is null)
            {
                connection = await services.Pool.RentAsync(endpoint, login.FoundRows, ct).ConfigureAwait(false);
                _held.Add(connection);
            }

            await SyncSessionStateAsync(connection, ct).ConfigureAwait(false);
            if (inTransaction && !connection.InTransaction)
            {
                await connection.Connection.ExecuteAsync(_beginSql, ct).ConfigureAwait(false);
            }

            connections.Add(connection);
        }

        if (begin)
        {
            _pendingBegin = false;
        }

        return connections;
    }

    /// <summary>How many backend connections hold an open transaction for the session.</summary>
    private int TransactionCount()
    {
        var n = 0;
        foreach (var held in _held)
        {
            if (held.InTransaction)
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>
    /// COMMIT (or ROLLBACK) of a transaction open on several shards: each shard's transaction in turn, as vtgate's
    /// "multi" mode does. A COMMIT that fails on one shard rolls back the shards not yet committed and says which ones
    /// had committed: those changes stay (there is no two-phase commit).
    /// </summary>
    private async ValueTask CommitShardsAsync(bool commit, string sql, long started)
    {
        var ct = StopToken;
        var open = _held.Where(h => h.InTransaction).ToList();
        var done = new List<string>();
        for (var i = 0; i < open.Count; i++)
        {
            try
            {
                await open[i].Connection.ExecuteAsync(commit ? "COMMIT" : "ROLLBACK", ct).ConfigureAwait(false);
                done.Add($"{open[i].Endpoint.Keyspace}/{open[i].Endpoint.Shard}");
            }
            catch (MySqlException ex)
            {
                foreach (var rest in open.Skip(i + 1))
                {
                    try
                    {
                        await rest.Connection.ExecuteAsync("ROLLBACK", ct).ConfigureAwait(false);
                    }
                    catch (MySqlException)
                    {
                        await DropAsync(rest).ConfigureAwait(false);
                    }
                }

                if (!open[i].IsUsable)
                {
                    await DropAsync(open[i]).ConfigureAwait(false);
                }

                Client.WriteError(ex.ErrorNumber == 0 ? 1180 : ex.ErrorNumber, "HY000",
                    $"{(commit ? "COMMIT" : "ROLLBACK")} failed on shard {open[i].Endpoint.Keyspace}/{open[i].Endpoint.Shard} (tablet {open[i].Endpoint.Alias}): {ex.Message}; " +
                    $"{(done.Count == 0 ? "no shard had committed" : "shards already committed (their changes stay): " + string.Join(", ", done))}; the other shards were rolled back");
                Log(started, sql, null, null, default);
                return;
            }
        }

        Client.WriteOk(StatusForClient());
        Log(started, sql, null, null, default);
    }

    /// <summary>Whether the text is <c>SELECT LAST_INSERT_ID()</c>, which the session answers after a sharded insert.</summary>
    private static bool IsLastInsertIdQuery(string sql)
    {
        var text = sql.AsSpan().Trim().TrimEnd(';').TrimEnd();
        return text.Equals("SELECT LAST_INSERT_ID()", StringComparison.OrdinalIgnoreCase)
               || text.Equals("SELECT LAST_INSERT_ID() AS id", StringComparison.OrdinalIgnoreCase);
    }

    private void WriteLastInsertId(long id, string sql, long started)
    {
        LocalResultSets.WriteResultSet(Client, DeprecateEof, StatusForClient(), ["LAST_INSERT_ID()"],
            [[id.ToString(System.Globalization.CultureInfo.InvariantCulture)]]);
        Log(started, sql, null, null, default);
    }

    /// <summary>
    /// COM_STMT_PREPARE of a statement on a sharded keyspace: prepared on the keyspace's first shard for what the client
    /// must be told (parameter and column definitions; the shards share the schema), then closed there; executes run as
    /// text on the shards the values pick (<see cref="ExecuteShardedAsync"/>). A statement whose result would hold a
    /// FLOAT column is refused here (see <see cref="BinaryRows"/>).
    /// </summary>
    private async ValueTask<bool> PrepareShardedAsync(RoutedStatement routed, string sql)
    {
        var ct = StopToken;
        var keyspace = routed.ShardedKeyspace!;
        var target = routed.Target!;
        var connection = (await AcquireShardsAsync(keyspace.Name, [keyspace.Shards[0]], target, begin: false, ct).ConfigureAwait(false))[0];
        var backend = connection.Connection;
        _backendWriter.Clear();
        _backendWriter.WriteByte(ComStmtPrepare);
        _backendWriter.WriteString(routed.Sql);
        await backend.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
        var first = (await backend.ReadRawPacketAsync(ct).ConfigureAwait(false)).ToArray();
        if (PacketKind.IsErr(first))
        {
            Client.WritePacket(first);
            return true;
        }

        var (backendId, columnCount, parameterCount) = ReadPrepareOk(first);
        var deprecate = backend.UsesDeprecateEof();
        var parameters = await ReadDefinitionsAsync(backend, parameterCount, deprecate, ct).ConfigureAwait(false);
        var columns = await ReadDefinitionsAsync(backend, columnCount, deprecate, ct).ConfigureAwait(false);
        _backendWriter.Clear();
        _backendWriter.WriteByte(ComStmtClose);
        _backendWriter.WriteUInt32(backendId);
        await backend.SendRawCommandAsync(_backendWriter, ct).ConfigureAwait(false);
        var statement = new PreparedStatement(++_nextStatementId, routed, target, parameterCount, columnCount) { OriginalSql = sql, RoutedOn = _routedOn };
        if (statement.Placeholders.Length != parameterCount)
        {
            // The placeholders are read by the gateway's lexer and bound by the server's parser: if they disagree, the
            // values would land in the wrong places.
            throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000",
                $"the server counts {parameterCount} parameters in the statement but the gateway reads {statement.Placeholders.Length} '?' placeholders, so it cannot bind them on sharded keyspace '{keyspace.Name}'; send it as a plain query");
        }

        BinaryRows.CheckColumns(columns.Select(c => MySqlColumn.Parse(c)));
        var w = Client.Scratch();
        w.WriteBytes(first);
        Client.WriteScratchWithId(statement.Id);
        WriteDefinitions(parameters);
        WriteDefinitions(columns);
        _statements[statement.Id] = statement;
        return true;
    }

    private static async ValueTask<List<byte[]>> ReadDefinitionsAsync(MySqlConnection backend, int count, bool deprecateEof, CancellationToken ct)
    {
        var definitions = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            definitions.Add((await backend.ReadRawPacketAsync(ct).ConfigureAwait(false)).ToArray());
        }

        if (count > 0 && !deprecateEof)
        {
            await backend.ReadRawPacketAsync(ct).ConfigureAwait(false);
        }

        return definitions;
    }

    private void WriteDefinitions(List<byte[]> definitions)
    {
        foreach (var definition in definitions)
        {
            Client.WritePacket(definition);
        }

        if (definitions.Count > 0 && !DeprecateEof)
        {
            Client.WriteEof(StatusForClient());
        }
    }

    /// <summary>
    /// COM_STMT_EXECUTE of a statement on a sharded keyspace: the bound values written into its text as literals
    /// (<see cref="ExecuteParameters"/>, <see cref="PreparedText"/>), then planned and run as that text, as vtgate plans
    /// a prepared statement with its bind variables; rows go back in the binary protocol.
    /// </summary>
    private async ValueTask<bool> ExecuteShardedAsync(PreparedStatement statement, ReadOnlyMemory<byte> payload, long started)
    {
        IReadOnlyList<string> literals;
        try
        {
            literals = ExecuteParameters.Read(payload.Span, statement.ParameterCount, statement.ParameterTypes ?? [], statement.LongData);
        }
        catch (MySqlException ex)
        {
            throw new GatewaySqlException(1210, "HY000", $"Incorrect arguments to mysqld_stmt_execute: {ex.Message}");
        }

        var text = PreparedText.Inline(statement.OriginalSql, statement.Placeholders, literals);
        try
        {
            return await RunShardedAsync(Route(text), text, started, statement, payload).ConfigureAwait(false);
        }
        finally
        {
            statement.LongData.Clear(); // the parts belong to this execute, as on the server
        }
    }
}
