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
/// </summary>
internal sealed partial class ClientSession
{
    // The insert id of the last sharded INSERT that filled auto-increment values: what LAST_INSERT_ID() answers.
    private long? _shardInsertId;

    private async ValueTask<bool> RunShardedAsync(RoutedStatement routed, string sql, long started)
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
                    return await RunAsync(routed, sql, null, default, started).ConfigureAwait(false);
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
            return await RunPlanAsync(plan, target, sql, started, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask<bool> RunPlanAsync(ShardedPlan plan, KeyspaceTarget target, string sql, long started, CancellationToken ct)
    {
        var connections = await AcquireShardsAsync(plan, target, ct).ConfigureAwait(false);
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
            if (connections.Count == 1 && plan.FirstInsertId is null)
            {
                outcome = await ResponseRelay.RelayAsync(connections[0].Connection, Client, DeprecateEof, false, ct).ConfigureAwait(false);
            }
            else
            {
                var answers = await Task.WhenAll(connections.Select((c, i) => ShardAnswer.ReadAsync(c.Connection, plan.Queries[i].Shard, ct))).ConfigureAwait(false);
                outcome = Answer(plan, answers);
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
    private RelayOutcome Answer(ShardedPlan plan, ShardAnswer[] answers)
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
                new Sharding.ScatterMerger(new ScatterMerge { HiddenColumns = 0 }, answers[0].Columns).Write(answers, Client, DeprecateEof, status);
            }
            else
            {
                new Sharding.ScatterMerger(plan.Merge, answers[0].Columns).Write(answers, Client, DeprecateEof, status);
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
    /// One backend connection per shard of the plan, the session's SETs replayed, and a transaction begun on it when
    /// the session is in one. Connections of other shards of the keyspace stay held (the statement uses several at
    /// once); an open transaction on another keyspace refuses the statement.
    /// </summary>
    private async ValueTask<List<BackendConnection>> AcquireShardsAsync(ShardedPlan plan, KeyspaceTarget target, CancellationToken ct)
    {
        var open = TransactionConnection();
        if (open is not null && open.Endpoint.Keyspace != plan.Keyspace.Name)
        {
            throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000",
                $"This session's transaction is open on keyspace {open.Endpoint.Keyspace} (tablet {open.Endpoint.Alias}); the statement goes to sharded keyspace {plan.Keyspace.Name}. A transaction through the gateway spans one keyspace: COMMIT or ROLLBACK first.");
        }

        var inTransaction = _pendingBegin || open is not null;
        var endpoints = new List<BackendEndpoint>(plan.Queries.Count);
        foreach (var query in plan.Queries)
        {
            endpoints.Add(await services.Picker.PickShardAsync(target, query.Shard, ct).ConfigureAwait(false));
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

        _pendingBegin = false;
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

    /// <summary>A prepared statement on a sharded keyspace is refused at COM_STMT_PREPARE (see docs/gateway-sharding.md).</summary>
    private static void RefusePreparedSharded(RoutedStatement routed)
    {
        if (routed.ShardedKeyspace is { } keyspace)
        {
            throw new GatewaySqlException(GatewaySqlException.NotSupported, "42000",
                $"prepared statements (COM_STMT_PREPARE) on sharded keyspace '{keyspace.Name}' are not supported through the gateway: send the statement as a plain query (COM_QUERY; e.g. MySqlConnector without Prepare(), or IgnorePrepare=true); see docs/gateway-sharding.md");
        }
    }
}
