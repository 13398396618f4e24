using System.Globalization;
using System.Text.Json;
using Durable.Core.Positions;
using Durable.MySql;

namespace Durable.Replication;

/// <summary>One entry of a stream's log: what happened to it (created, state changes, owners) and when.</summary>
/// <param name="CreatedAt">Unix seconds with microseconds (UNIX_TIMESTAMP of the row's TIMESTAMP(6): the same whatever the session's time zone).</param>
public sealed record StreamLogEntry(long Id, long StreamId, string Type, string State, string Message, decimal CreatedAt);

/// <summary>Copy progress of one table of a stream: the last copied primary key (SELECT-form values), or done.</summary>
public sealed record CopyState(string Table, IReadOnlyList<MySqlValue>? LastPk, bool Done, long RowsCopied, string? DeferredKeys);

/// <summary>
/// Reads and writes the stream rows of one target primary's sidecar. Every method that changes a stream does so in a
/// transaction that locks the row first, and records the change in the log table in the same transaction.
/// </summary>
public sealed class StreamStore(Sidecar sidecar)
{
    internal const string Columns =
        "id, workflow, source_keyspace, source_shard, target_keyspace, target_shard, target_db, filter, pos, stop_pos, state, owner_epoch, " +
        "IFNULL(message, ''), tablet_types, cells, on_ddl, options, time_updated, transaction_timestamp, time_heartbeat, rows_copied";

    public Sidecar Sidecar { get; } = sidecar;

    public string StreamsTable => Sidecar.Table("vreplication");

    public string CopyStateTable => Sidecar.Table("copy_state");

    public string LogTable => Sidecar.Table("vreplication_log");

    /// <summary>
    /// Creates the stream (state Init) and, when it has no start position, one copy-state row per table. Creating the
    /// same (workflow, source shard, target shard) again returns the existing id, so the activity that calls this can be
    /// re-delivered safely.
    /// </summary>
    public async Task<long> CreateAsync(MySqlConnection c, StreamSpec spec, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var q = c.Quoter;
        await c.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        try
        {
            var existing = await c.QueryScalarAsync(
                $"SELECT id FROM {StreamsTable} WHERE workflow = {q.String(spec.Workflow)} AND source_keyspace = {q.String(spec.SourceKeyspace)} AND source_shard = {q.String(spec.SourceShard)} " +
                $"AND target_keyspace = {q.String(spec.TargetKeyspace)} AND target_shard = {q.String(spec.TargetShard)} FOR UPDATE", ct).ConfigureAwait(false);
            if (existing is not null)
            {
                await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
                return long.Parse(existing, CultureInfo.InvariantCulture);
            }

            var ok = await c.ExecuteAsync(
                $"INSERT INTO {StreamsTable} (workflow, source_keyspace, source_shard, target_keyspace, target_shard, target_db, filter, pos, stop_pos, state, " +
                "message, tablet_types, cells, on_ddl, options, time_updated) VALUES (" +
                $"{q.String(spec.Workflow)}, {q.String(spec.SourceKeyspace)}, {q.String(spec.SourceShard)}, {q.String(spec.TargetKeyspace)}, {q.String(spec.TargetShard)}, " +
                $"{q.String(spec.TargetDb)}, {q.String(spec.Filter.ToJson())}, {q.String(spec.Position?.Encode() ?? string.Empty)}, " +
                $"{(spec.StopPosition is null ? "NULL" : q.String(spec.StopPosition.Encode()))}, 'Init', '', {q.String(spec.TabletTypes)}, {q.String(spec.Cells)}, " +
                $"{q.String(StreamStates.Name(spec.OnDdl))}, {q.String(spec.Options.ToJson())}, {Now()})", ct).ConfigureAwait(false);
            var id = (long)ok.LastInsertId;
            if (spec.Position is null)
            {
                foreach (var rule in spec.Filter.Rules)
                {
                    await c.ExecuteAsync($"INSERT INTO {CopyStateTable} (vrepl_id, table_name) VALUES ({id}, {q.String(rule.Table)})", ct).ConfigureAwait(false);
                }
            }

            await LogInTransactionAsync(c, id, "Created", StreamState.Init, $"stream {spec.SourceKeyspace}/{spec.SourceShard} -> {spec.TargetKeyspace}/{spec.TargetShard}", ct).ConfigureAwait(false);
            await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
            return id;
        }
        catch
        {
            await RollbackQuietlyAsync(c).ConfigureAwait(false);
            throw;
        }
    }

    public async Task<StreamRecord?> GetAsync(MySqlConnection c, long id, CancellationToken ct = default) =>
        (await QueryAsync(c, $"SELECT {Columns} FROM {StreamsTable} WHERE id = {id}", ct).ConfigureAwait(false)).FirstOrDefault();

    public async Task<StreamRecord> GetRequiredAsync(MySqlConnection c, long id, CancellationToken ct = default) =>
        await GetAsync(c, id, ct).ConfigureAwait(false)
        ?? throw new ReplicationException($"Stream {id} does not exist in {Sidecar.Name} on {c.Options.Host}:{c.Options.Port}.");

    /// <summary>Streams of one workflow (or all when null), optionally only those in one state.</summary>
    public Task<IReadOnlyList<StreamRecord>> ListAsync(MySqlConnection c, string? workflow = null, StreamState? state = null, CancellationToken ct = default)
    {
        var where = new List<string>();
        if (workflow is not null)
        {
            where.Add("workflow = " + c.Quoter.String(workflow));
        }

        if (state is not null)
        {
            where.Add("state = " + c.Quoter.String(state.Value.ToString()));
        }

        return QueryAsync(c, $"SELECT {Columns} FROM {StreamsTable}{(where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")} ORDER BY id", ct);
    }

    /// <summary>Moves a stream to a new state (checked against the state machine) with a message, logged.</summary>
    public async Task<StreamRecord> SetStateAsync(MySqlConnection c, long id, StreamState state, string message, CancellationToken ct = default)
    {
        await c.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        try
        {
            var current = await LockAsync(c, id, ct).ConfigureAwait(false);
            StreamStates.CheckMove(id, current.State, state);
            await c.ExecuteAsync($"UPDATE {StreamsTable} SET state = {c.Quoter.String(state.ToString())}, message = {c.Quoter.String(Truncate(message))}, time_updated = {Now()} WHERE id = {id}", ct).ConfigureAwait(false);
            await LogInTransactionAsync(c, id, "State", state, message, ct).ConfigureAwait(false);
            await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
            return current with { State = state, Message = message };
        }
        catch
        {
            await RollbackQuietlyAsync(c).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Starts a stream: Copying while any table still needs copying, else Running. An Error stream restarts the same way.
    /// </summary>
    public async Task<StreamRecord> StartAsync(MySqlConnection c, long id, CancellationToken ct = default)
    {
        var copy = await GetCopyStateAsync(c, id, ct).ConfigureAwait(false);
        return await SetStateAsync(c, id, copy.Any(s => !s.Done) ? StreamState.Copying : StreamState.Running, "started", ct).ConfigureAwait(false);
    }

    public async Task SetStopPositionAsync(MySqlConnection c, long id, GtidPosition? stopPosition, CancellationToken ct = default)
    {
        var ok = await c.ExecuteAsync($"UPDATE {StreamsTable} SET stop_pos = {(stopPosition is null ? "NULL" : c.Quoter.String(stopPosition.Encode()))}, time_updated = {Now()} WHERE id = {id}", ct).ConfigureAwait(false);
        if (ok.AffectedRows == 0 && await GetAsync(c, id, ct).ConfigureAwait(false) is null)
        {
            throw new ReplicationException($"Stream {id} does not exist.");
        }
    }

    /// <summary>Deletes the streams of a workflow with their copy state and log.</summary>
    public async Task<int> DeleteWorkflowAsync(MySqlConnection c, string workflow, CancellationToken ct = default)
    {
        var ids = (await ListAsync(c, workflow, ct: ct).ConfigureAwait(false)).Select(s => s.Id).ToList();
        if (ids.Count == 0)
        {
            return 0;
        }

        var list = string.Join(",", ids);
        await c.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        await c.ExecuteAsync($"DELETE FROM {CopyStateTable} WHERE vrepl_id IN ({list})", ct).ConfigureAwait(false);
        await c.ExecuteAsync($"DELETE FROM {LogTable} WHERE vrepl_id IN ({list})", ct).ConfigureAwait(false);
        await c.ExecuteAsync($"DELETE FROM {StreamsTable} WHERE id IN ({list})", ct).ConfigureAwait(false);
        await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
        return ids.Count;
    }

    /// <summary>
    /// Takes the stream for a new owner: bumps its owner epoch in a transaction that locks the row, so any earlier owner's
    /// next apply transaction sees a different epoch and rolls back. Returns the row as the new owner must continue it.
    /// </summary>
    public async Task<StreamRecord> TakeOwnershipAsync(MySqlConnection c, long id, string owner, CancellationToken ct = default)
    {
        await c.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        try
        {
            var current = await LockAsync(c, id, ct).ConfigureAwait(false);
            if (current.State == StreamState.Frozen)
            {
                throw new InvalidStreamStateException($"Stream {id} is Frozen; a frozen stream never runs again.");
            }

            await c.ExecuteAsync($"UPDATE {StreamsTable} SET owner_epoch = owner_epoch + 1 WHERE id = {id}", ct).ConfigureAwait(false);
            await LogInTransactionAsync(c, id, "Owner", current.State, $"taken by {owner} with epoch {current.OwnerEpoch + 1}", ct).ConfigureAwait(false);
            await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
            return current with { OwnerEpoch = current.OwnerEpoch + 1 };
        }
        catch
        {
            await RollbackQuietlyAsync(c).ConfigureAwait(false);
            throw;
        }
    }

    public async Task<IReadOnlyList<CopyState>> GetCopyStateAsync(MySqlConnection c, long id, CancellationToken ct = default)
    {
        var result = new List<CopyState>();
        await using var r = await c.QueryAsync($"SELECT table_name, lastpk, done, rows_copied, deferred_keys FROM {CopyStateTable} WHERE vrepl_id = {id} ORDER BY table_name", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(new CopyState(r.GetString(0)!, r.IsDBNull(1) ? null : DecodePk(r.GetString(1)!), r.GetString(2) == "1", r.GetInt64(3), r.IsDBNull(4) ? null : r.GetString(4)));
        }

        return result;
    }

    /// <summary>The stream's log (oldest first), at most the last <paramref name="limit"/> entries.</summary>
    public async Task<IReadOnlyList<StreamLogEntry>> GetLogAsync(MySqlConnection c, long id, int limit, CancellationToken ct = default)
    {
        var result = new List<StreamLogEntry>();
        await using var r = await c.QueryAsync(
            $"SELECT id, type, state, IFNULL(message, ''), UNIX_TIMESTAMP(created_at) FROM {LogTable} WHERE vrepl_id = {id} ORDER BY id DESC LIMIT {Math.Max(1, limit)}", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(new StreamLogEntry(r.GetInt64(0), id, r.GetString(1)!, r.GetString(2)!, r.GetString(3) ?? string.Empty,
                decimal.Parse(r.GetString(4)!, CultureInfo.InvariantCulture)));
        }

        result.Reverse();
        return result;
    }

    /// <summary>When the stream was last held back by the throttler (unix seconds; 0: never).</summary>
    public async Task<long> GetTimeThrottledAsync(MySqlConnection c, long id, CancellationToken ct = default) =>
        long.Parse(await c.QueryScalarAsync($"SELECT time_throttled FROM {StreamsTable} WHERE id = {id}", ct).ConfigureAwait(false) ?? "0", CultureInfo.InvariantCulture);

    public async Task LogAsync(MySqlConnection c, long id, string type, StreamState state, string message, CancellationToken ct = default) =>
        await LogInTransactionAsync(c, id, type, state, message, ct).ConfigureAwait(false);

    internal async Task LogInTransactionAsync(MySqlConnection c, long id, string type, StreamState state, string message, CancellationToken ct) =>
        await c.ExecuteAsync($"INSERT INTO {LogTable} (vrepl_id, type, state, message) VALUES ({id}, {c.Quoter.String(type)}, {c.Quoter.String(state.ToString())}, {c.Quoter.String(Truncate(message))})", ct).ConfigureAwait(false);

    /// <summary>Locks the stream row (inside the caller's transaction) and returns it.</summary>
    internal async Task<StreamRecord> LockAsync(MySqlConnection c, long id, CancellationToken ct) =>
        (await QueryAsync(c, $"SELECT {Columns} FROM {StreamsTable} WHERE id = {id} FOR UPDATE", ct).ConfigureAwait(false)).FirstOrDefault()
        ?? throw new ReplicationException($"Stream {id} does not exist in {Sidecar.Name} on {c.Options.Host}:{c.Options.Port}.");

    private static async Task<IReadOnlyList<StreamRecord>> QueryAsync(MySqlConnection c, string sql, CancellationToken ct)
    {
        var result = new List<StreamRecord>();
        await using var r = await c.QueryAsync(sql, ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(new StreamRecord(
                Id: r.GetInt64(0),
                Workflow: r.GetString(1)!,
                SourceKeyspace: r.GetString(2)!,
                SourceShard: r.GetString(3)!,
                TargetKeyspace: r.GetString(4)!,
                TargetShard: r.GetString(5)!,
                TargetDb: r.GetString(6)!,
                Filter: StreamFilter.Parse(r.GetString(7)!),
                Position: string.IsNullOrEmpty(r.GetString(8)) ? null : GtidPosition.Decode(r.GetString(8)!),
                StopPosition: r.IsDBNull(9) || string.IsNullOrEmpty(r.GetString(9)) ? null : GtidPosition.Decode(r.GetString(9)!),
                State: StreamStates.Parse(r.GetString(10)!),
                OwnerEpoch: r.GetInt64(11),
                Message: r.GetString(12) ?? string.Empty,
                TabletTypes: r.GetString(13)!,
                Cells: r.GetString(14)!,
                OnDdl: StreamStates.ParseOnDdl(r.GetString(15)!),
                Options: StreamOptions.Parse(r.GetString(16)),
                TimeUpdated: r.GetInt64(17),
                TransactionTimestamp: r.GetInt64(18),
                TimeHeartbeat: r.GetInt64(19),
                RowsCopied: r.GetInt64(20)));
        }

        return result;
    }

    /// <summary>A primary key as stored in copy_state: a JSON array of hex strings (exact bytes), null for SQL NULL.</summary>
    public static string EncodePk(IReadOnlyList<MySqlValue> pk) =>
        JsonSerializer.Serialize(pk.Select(v => v.IsNull ? null : Convert.ToHexString(v.Span)).ToArray());

    public static IReadOnlyList<MySqlValue> DecodePk(string json) =>
        (JsonSerializer.Deserialize<string?[]>(json) ?? throw new FormatException($"copy_state lastpk '{json}' is not a JSON array."))
        .Select(h => h is null ? MySqlValue.Null : MySqlValue.FromBytes(Convert.FromHexString(h))).ToArray();

    internal static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    internal static string Truncate(string message) => message.Length <= 4000 ? message : message[..4000];

    internal static async Task RollbackQuietlyAsync(MySqlConnection c)
    {
        if (!c.IsUsable)
        {
            return;
        }

        try
        {
            await c.ExecuteAsync("ROLLBACK", CancellationToken.None).ConfigureAwait(false);
        }
        catch (MySqlException)
        {
            // The connection broke; the server rolls back on its side.
        }
    }
}
