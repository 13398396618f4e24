using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.Replication;

// The fenced transaction: the apply session, and each transaction's begin (lock the stream row, check the fence),
// commit with the new position, heartbeat and rollback, and the copy's writes inside it.
public sealed partial class StreamApplier
{
    /// <summary>Sets the session up as faithful copies need (see ARCHITECTURE "Apply sessions").</summary>
    public static async Task PrepareSessionAsync(MySqlConnection target, string sourceSqlMode, CancellationToken ct)
    {
        var modes = sourceSqlMode.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (!modes.Contains("NO_AUTO_VALUE_ON_ZERO", StringComparer.OrdinalIgnoreCase))
        {
            modes.Add("NO_AUTO_VALUE_ON_ZERO");
        }

        // STRICT modes would reject zero dates the source accepted; the source's own modes decide, plus NO_AUTO_VALUE_ON_ZERO
        // so a 0 in an AUTO_INCREMENT column stays 0.
        await target.ExecuteAsync(
            $"SET SESSION sql_mode = {target.Quoter.String(string.Join(",", modes))}, time_zone = '+00:00', foreign_key_checks = 0, innodb_lock_wait_timeout = 20", ct).ConfigureAwait(false);
        // Row applies are by primary key; READ COMMITTED avoids gap locks that would only add contention.
        await target.ExecuteAsync("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", ct).ConfigureAwait(false);
    }

    /// <summary>Opens the fenced transaction if none is open: lock the stream row, check epoch, position and state.</summary>
    public async Task BeginAsync(CancellationToken ct)
    {
        if (InTransaction)
        {
            return;
        }

        var started = ApplyProfile.Now();
        try
        {
            await BeginFencedAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            Profile.BeginTicks += ApplyProfile.Since(started);
        }
    }

    private async Task BeginFencedAsync(CancellationToken ct)
    {
        await _pipeline.AwaitInFlightAsync().ConfigureAwait(false);
        await _target.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        InTransaction = true;
        StreamRecord row;
        try
        {
            row = await _store.LockAsync(_target, Stream.Id, ct).ConfigureAwait(false);
        }
        catch
        {
            await RollbackAsync().ConfigureAwait(false);
            throw;
        }

        if (row.OwnerEpoch != Stream.OwnerEpoch)
        {
            await RollbackAsync().ConfigureAwait(false);
            throw new FencedOutException($"Stream {Stream.Id} was taken over: owner epoch is {row.OwnerEpoch}, this owner has {Stream.OwnerEpoch}.");
        }

        if (row.Position != Position)
        {
            await RollbackAsync().ConfigureAwait(false);
            throw new FencedOutException($"Stream {Stream.Id} is at position {row.Position?.Encode() ?? "(none)"}, not {Position?.Encode() ?? "(none)"} where this owner left it.");
        }

        if (row.State is not (StreamState.Running or StreamState.Copying))
        {
            await RollbackAsync().ConfigureAwait(false);
            throw new StreamStoppedException(row.State, row.Message);
        }

        Stream = row;
        PendingRows = 0;
    }

    /// <summary>Commits the open transaction (or a position-only one) with the new position.</summary>
    public async Task CommitAsync(GtidPosition? position, long transactionTimestamp, string? extraSet = null, CancellationToken ct = default, string? faultArea = null)
    {
        faultArea ??= FaultArea;
        await BeginAsync(ct).ConfigureAwait(false);
        await FlushAsync(ct).ConfigureAwait(false);
        var set = $"pos = {_target.Quoter.String(position?.Encode() ?? string.Empty)}, time_updated = {StreamStore.Now()}";
        if (transactionTimestamp > 0)
        {
            set += $", transaction_timestamp = {transactionTimestamp}";
        }

        if (extraSet is not null)
        {
            set += ", " + extraSet;
        }

        var started = ApplyProfile.Now();
        try
        {
            await _target.ExecuteAsync($"UPDATE {_store.StreamsTable} SET {set} WHERE id = {Stream.Id}", ct).ConfigureAwait(false);
            FaultPoints.Hit(faultArea + ".before-commit");
            await _target.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
        }
        catch
        {
            await RollbackAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            Profile.CommitTicks += ApplyProfile.Since(started);
        }

        Profile.Commits++;
        _committedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (transactionTimestamp > 0)
        {
            _committedTransactionTimestamp = transactionTimestamp;
        }

        InTransaction = false;
        Position = position;
        TotalRows += PendingRows;
        PendingRows = 0;
        FaultPoints.Hit(faultArea + ".after-commit");
    }

    /// <summary>Records a heartbeat (the stream had applied everything the source had) in its own fenced transaction.</summary>
    public async Task HeartbeatAsync(CancellationToken ct)
    {
        await CommitAsync(Position, 0, $"time_heartbeat = {StreamStore.Now()}", ct, "apply.heartbeat").ConfigureAwait(false);
        _heartbeatAt = _committedAt;
    }

    /// <summary>
    /// The stream's replication lag as of this owner's last commit, by the rule of <see cref="StreamRecord.LagSeconds"/>
    /// (a heartbeat newer than the last applied transaction: the heartbeat's age; else the age of that transaction),
    /// without reading the sidecar. Read by the Streamer's metrics from another thread: the fields are single longs, and
    /// a read that misses the latest commit by a moment is harmless.
    /// </summary>
    public long LagSeconds(DateTimeOffset now) =>
        Math.Max(0, now.ToUnixTimeSeconds() - (_heartbeatAt >= _committedAt ? _heartbeatAt : _committedTransactionTimestamp));

    public async Task RollbackAsync()
    {
        _rowByRow.Clear();
        _pipeline.ClearBlock();
        _groups.Clear();
        PendingRows = 0;
        try
        {
            await _pipeline.AwaitInFlightAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The block in flight failed too; the transaction is rolled back below either way, and the caller is
            // already handling the error that made it roll back.
        }

        if (InTransaction)
        {
            InTransaction = false;
            await StreamStore.RollbackQuietlyAsync(_target).ConfigureAwait(false);
        }
    }

    /// <summary>Executes a statement inside the fenced transaction (used by the copy for its batched INSERTs).</summary>
    public async Task ExecuteInTransactionAsync(ReadOnlyMemory<byte> sql, long rows, CancellationToken ct)
    {
        await BeginAsync(ct).ConfigureAwait(false);
        await FlushAsync(ct).ConfigureAwait(false); // keep the order of earlier batched changes
        await _target.ExecuteAsync(sql, ct).ConfigureAwait(false);
        PendingRows += rows;
    }

    /// <summary>
    /// Loads a LOAD DATA LOCAL INFILE part inside the fenced transaction (the copy's fast path). The server treats LOCAL
    /// rows as IGNORE does (a duplicate key or a value that does not fit is a warning, and the row is skipped or cut),
    /// so anything but exactly <paramref name="rows"/> rows written without a warning fails the part, and the caller
    /// rolls the transaction back: a load never silently differs from what an INSERT would have written.
    /// </summary>
    public async Task LoadInTransactionAsync(ReadOnlyMemory<byte> statement, byte[] content, long rows, CancellationToken ct)
    {
        await BeginAsync(ct).ConfigureAwait(false);
        await FlushAsync(ct).ConfigureAwait(false);
        var ok = await _target.LoadLocalDataAsync(statement, LoadDataBuilder.FileName, content, _statementBudget, ct).ConfigureAwait(false);
        if (ok.Warnings > 0 || (long)ok.AffectedRows != rows)
        {
            var warnings = new List<string>();
            await using (var r = await _target.QueryAsync("SHOW WARNINGS LIMIT 5", ct).ConfigureAwait(false))
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    warnings.Add($"{r.GetString(0)} {r.GetString(1)}: {r.GetString(2)}");
                }
            }

            throw new TerminalReplicationException(
                $"Stream {Stream.Id}: loading {rows} copied rows wrote {ok.AffectedRows} with {ok.Warnings} warnings ({ok.Info}); " +
                $"the chunk was rolled back. {(warnings.Count > 0 ? "First warnings: " + string.Join("; ", warnings) : "")}".TrimEnd());
        }

        PendingRows += rows;
    }
}
