using System.Globalization;
using System.Text.Json;
using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.VDiff;

/// <summary>One shard's row of a VDiff.</summary>
public sealed record VDiffShardRecord(
    long Id,
    string Uuid,
    string Workflow,
    string Keyspace,
    string Shard,
    string State,
    VDiffOptions Options,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    string LastError);

/// <summary>One table's progress of a shard's VDiff: counters, where it stopped, samples.</summary>
public sealed record VDiffTableRecord(
    string Table,
    string State,
    string? LastPk,
    long TableRows,
    TableCounts Counts,
    IReadOnlyList<DiffSample> Samples,
    DateTime? StartedAt,
    DateTime? CompletedAt)
{
    /// <summary>What --repair changed on the target for this table (rows inserted, updated, deleted), summed over the repaired ranges.</summary>
    public RepairCounts Repaired { get; init; } = new();
}

/// <summary>Rows a --repair run changed on the target: missing rows inserted, mismatched ones updated, extra ones deleted.</summary>
public sealed record RepairCounts(long Inserted = 0, long Updated = 0, long Deleted = 0);

/// <summary>
/// VDiff state in the target primary's sidecar (next to the stream rows): <c>vdiff</c> (one row per VDiff and shard),
/// <c>vdiff_table</c> (per table: state, lastpk, counters, samples), <c>vdiff_chunk</c> (ranges found different, for
/// --repair) and <c>vdiff_log</c>. Every chunk's checkpoint is one transaction that compares the lastpk it started from,
/// so a re-delivered or duplicate chunk never counts twice.
/// </summary>
public sealed class VDiffStore
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Migration steps of the VDiff tables, versioned separately ('vdiff') from the stream tables. Append, never edit.</summary>
    private static readonly string[] Steps =
    [
        """
        CREATE TABLE IF NOT EXISTS {db}.vdiff (
          id BIGINT NOT NULL AUTO_INCREMENT,
          vdiff_uuid VARCHAR(64) CHARACTER SET ascii NOT NULL,
          workflow VARCHAR(255) NOT NULL,
          keyspace VARCHAR(255) NOT NULL,
          shard VARCHAR(255) NOT NULL,
          state VARCHAR(20) NOT NULL,
          options TEXT NOT NULL,
          created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          started_at TIMESTAMP(6) NULL,
          completed_at TIMESTAMP(6) NULL,
          last_error TEXT NULL,
          PRIMARY KEY (id),
          UNIQUE KEY uuid_shard (vdiff_uuid, keyspace, shard),
          KEY by_workflow (workflow, keyspace, id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
        """
        CREATE TABLE IF NOT EXISTS {db}.vdiff_table (
          vdiff_id BIGINT NOT NULL,
          table_name VARCHAR(64) NOT NULL,
          state VARCHAR(20) NOT NULL,
          lastpk MEDIUMTEXT NULL,
          table_rows BIGINT NOT NULL DEFAULT 0,
          rows_compared BIGINT NOT NULL DEFAULT 0,
          matching_rows BIGINT NOT NULL DEFAULT 0,
          mismatched_rows BIGINT NOT NULL DEFAULT 0,
          extra_rows_source BIGINT NOT NULL DEFAULT 0,
          extra_rows_target BIGINT NOT NULL DEFAULT 0,
          chunks_compared BIGINT NOT NULL DEFAULT 0,
          chunks_differing BIGINT NOT NULL DEFAULT 0,
          samples MEDIUMTEXT NULL,
          started_at TIMESTAMP(6) NULL,
          completed_at TIMESTAMP(6) NULL,
          PRIMARY KEY (vdiff_id, table_name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
        """
        CREATE TABLE IF NOT EXISTS {db}.vdiff_chunk (
          vdiff_id BIGINT NOT NULL,
          table_name VARCHAR(64) NOT NULL,
          seq BIGINT NOT NULL,
          lower_pk MEDIUMTEXT NULL,
          upper_pk MEDIUMTEXT NULL,
          repaired TINYINT NOT NULL DEFAULT 0,
          PRIMARY KEY (vdiff_id, table_name, seq)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
        """
        CREATE TABLE IF NOT EXISTS {db}.vdiff_log (
          id BIGINT NOT NULL AUTO_INCREMENT,
          vdiff_id BIGINT NOT NULL,
          message TEXT NOT NULL,
          created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          PRIMARY KEY (id),
          KEY by_vdiff (vdiff_id, id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
        // Streams an alignment stopped while they were Running: a VDiff killed mid-alignment finds the stream Stopped
        // and, without this row, could not tell its own stop from an operator's and would leave the stream stopped.
        """
        CREATE TABLE IF NOT EXISTS {db}.vdiff_parked (
          stream_id BIGINT NOT NULL,
          owner VARCHAR(128) NOT NULL,
          created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          PRIMARY KEY (stream_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
        // What --repair changed per table, for the report's "repaired" counts.
        """
        ALTER TABLE {db}.vdiff_table
          ADD COLUMN IF NOT EXISTS rows_inserted BIGINT NOT NULL DEFAULT 0,
          ADD COLUMN IF NOT EXISTS rows_updated BIGINT NOT NULL DEFAULT 0,
          ADD COLUMN IF NOT EXISTS rows_deleted BIGINT NOT NULL DEFAULT 0
        """,
    ];

    public VDiffStore(string sidecar = "_vt")
    {
        if (string.IsNullOrEmpty(sidecar) || sidecar.Length > 64 || !sidecar.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Sidecar database name '{sidecar}' is invalid: use 1 to 64 letters, digits and '_'.", nameof(sidecar));
        }

        Sidecar = sidecar;
    }

    public string Sidecar { get; }

    private string T(string table) => SqlQuoter.QualifiedName(Sidecar, table);

    /// <summary>Creates or migrates the VDiff tables (under a named lock, so concurrent callers do it once).</summary>
    public async Task EnsureAsync(MySqlConnection c, CancellationToken ct = default)
    {
        var lockName = c.Quoter.String("durable_vdiff_" + Sidecar);
        if (await c.QueryScalarAsync($"SELECT GET_LOCK({lockName}, 60)", ct).ConfigureAwait(false) != "1")
        {
            throw new VDiffException($"Could not take the VDiff sidecar migration lock on {c.Options.Host}:{c.Options.Port} within 60 s.");
        }

        try
        {
            var db = SqlQuoter.Identifier(Sidecar);
            await c.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {db} DEFAULT CHARACTER SET utf8mb4", ct).ConfigureAwait(false);
            await c.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {db}.schema_version (name VARCHAR(64) NOT NULL PRIMARY KEY, version INT NOT NULL) ENGINE=InnoDB", ct).ConfigureAwait(false);
            var current = int.Parse(await c.QueryScalarAsync($"SELECT IFNULL(MAX(version), 0) FROM {db}.schema_version WHERE name = 'vdiff'", ct).ConfigureAwait(false) ?? "0", CultureInfo.InvariantCulture);
            if (current > Steps.Length)
            {
                throw new VDiffException($"The VDiff tables in {Sidecar} are at version {current}, newer than this engine's {Steps.Length}; upgrade the engine.");
            }

            for (var v = current; v < Steps.Length; v++)
            {
                await c.ExecuteAsync(Steps[v].Replace("{db}", db, StringComparison.Ordinal), ct).ConfigureAwait(false);
                await c.ExecuteAsync($"REPLACE INTO {db}.schema_version (name, version) VALUES ('vdiff', {v + 1})", ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await c.QueryScalarAsync($"SELECT RELEASE_LOCK({lockName})", CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Records that <paramref name="owner"/> is about to stop the Running stream for an alignment (written before the stop).</summary>
    public async Task MarkParkedAsync(MySqlConnection c, long streamId, string owner, CancellationToken ct = default) =>
        await c.ExecuteAsync($"REPLACE INTO {T("vdiff_parked")} (stream_id, owner) VALUES ({streamId}, {c.Quoter.String(owner)})", ct).ConfigureAwait(false);

    /// <summary>True when <paramref name="owner"/> stopped the stream for an alignment and has not restarted it yet (it crashed in between).</summary>
    public async Task<bool> IsParkedByAsync(MySqlConnection c, long streamId, string owner, CancellationToken ct = default) =>
        await c.QueryScalarAsync($"SELECT 1 FROM {T("vdiff_parked")} WHERE stream_id = {streamId} AND owner = {c.Quoter.String(owner)}", ct).ConfigureAwait(false) is not null;

    /// <summary>Forgets the parking once the stream runs again.</summary>
    public async Task ClearParkedAsync(MySqlConnection c, long streamId, CancellationToken ct = default) =>
        await c.ExecuteAsync($"DELETE FROM {T("vdiff_parked")} WHERE stream_id = {streamId}", ct).ConfigureAwait(false);

    /// <summary>Creates the shard's VDiff row (pending) and its table rows; creating the same uuid again returns the existing id.</summary>
    public async Task<long> CreateAsync(MySqlConnection c, string uuid, string workflow, string keyspace, string shard, VDiffOptions options, IReadOnlyList<string> tables, CancellationToken ct = default)
    {
        var q = c.Quoter;
        await c.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        try
        {
            var existing = await c.QueryScalarAsync($"SELECT id FROM {T("vdiff")} WHERE vdiff_uuid = {q.String(uuid)} AND keyspace = {q.String(keyspace)} AND shard = {q.String(shard)} FOR UPDATE", ct).ConfigureAwait(false);
            if (existing is not null)
            {
                await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
                return long.Parse(existing, CultureInfo.InvariantCulture);
            }

            var ok = await c.ExecuteAsync(
                $"INSERT INTO {T("vdiff")} (vdiff_uuid, workflow, keyspace, shard, state, options) VALUES ({q.String(uuid)}, {q.String(workflow)}, {q.String(keyspace)}, " +
                $"{q.String(shard)}, '{VDiffStates.Pending}', {q.String(JsonSerializer.Serialize(options, Json))})", ct).ConfigureAwait(false);
            var id = (long)ok.LastInsertId;
            foreach (var table in tables)
            {
                await c.ExecuteAsync($"INSERT INTO {T("vdiff_table")} (vdiff_id, table_name, state) VALUES ({id}, {q.String(table)}, '{VDiffStates.Pending}')", ct).ConfigureAwait(false);
            }

            await c.ExecuteAsync($"INSERT INTO {T("vdiff_log")} (vdiff_id, message) VALUES ({id}, {q.String($"created for {tables.Count} table(s)")})", ct).ConfigureAwait(false);
            await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
            return id;
        }
        catch
        {
            await RollbackQuietlyAsync(c).ConfigureAwait(false);
            throw;
        }
    }

    private const string ShardColumns = "id, vdiff_uuid, workflow, keyspace, shard, state, options, created_at, started_at, completed_at, IFNULL(last_error, '')";

    public async Task<IReadOnlyList<VDiffShardRecord>> ListAsync(MySqlConnection c, string workflow, string keyspace, string? uuid = null, CancellationToken ct = default)
    {
        var q = c.Quoter;
        var sql = $"SELECT {ShardColumns} FROM {T("vdiff")} WHERE workflow = {q.String(workflow)} AND keyspace = {q.String(keyspace)}" +
                  (uuid is null ? string.Empty : $" AND vdiff_uuid = {q.String(uuid)}") + " ORDER BY id";
        var result = new List<VDiffShardRecord>();
        await using var r = await c.QueryAsync(sql, ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(new VDiffShardRecord(
                r.GetInt64(0), r.GetString(1)!, r.GetString(2)!, r.GetString(3)!, r.GetString(4)!, r.GetString(5)!,
                JsonSerializer.Deserialize<VDiffOptions>(r.GetString(6)!, Json) ?? new VDiffOptions(),
                ParseTime(r.GetString(7))!.Value, ParseTime(r.GetString(8)), ParseTime(r.GetString(9)), r.GetString(10)!));
        }

        return result;
    }

    public async Task<VDiffShardRecord?> GetAsync(MySqlConnection c, string workflow, string keyspace, string uuid, string shard, CancellationToken ct = default) =>
        (await ListAsync(c, workflow, keyspace, uuid, ct).ConfigureAwait(false)).FirstOrDefault(s => s.Shard == shard);

    public async Task<IReadOnlyList<VDiffTableRecord>> TablesAsync(MySqlConnection c, long id, CancellationToken ct = default)
    {
        var result = new List<VDiffTableRecord>();
        await using var r = await c.QueryAsync(
            "SELECT table_name, state, lastpk, table_rows, rows_compared, matching_rows, mismatched_rows, extra_rows_source, extra_rows_target, " +
            $"chunks_compared, chunks_differing, samples, started_at, completed_at, rows_inserted, rows_updated, rows_deleted FROM {T("vdiff_table")} WHERE vdiff_id = {id} ORDER BY table_name", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(new VDiffTableRecord(
                r.GetString(0)!, r.GetString(1)!, r.GetString(2), r.GetInt64(3),
                new TableCounts
                {
                    ProcessedRows = r.GetInt64(4), MatchingRows = r.GetInt64(5), MismatchedRows = r.GetInt64(6),
                    ExtraRowsSource = r.GetInt64(7), ExtraRowsTarget = r.GetInt64(8), ChunksCompared = r.GetInt64(9), ChunksDiffering = r.GetInt64(10),
                },
                r.GetString(11) is { } s ? JsonSerializer.Deserialize<List<DiffSample>>(s, Json) ?? [] : [],
                ParseTime(r.GetString(12)), ParseTime(r.GetString(13)))
            {
                Repaired = new RepairCounts(r.GetInt64(14), r.GetInt64(15), r.GetInt64(16)),
            });
        }

        return result;
    }

    /// <summary>Moves the shard's VDiff to a state; only from the given states (null: any). Returns false when it was not in one of them.</summary>
    public async Task<bool> SetStateAsync(MySqlConnection c, long id, string state, string message, string[]? from = null, CancellationToken ct = default)
    {
        var q = c.Quoter;
        var extra = state switch
        {
            VDiffStates.Started => ", started_at = IFNULL(started_at, NOW(6)), last_error = NULL",
            VDiffStates.Completed => ", completed_at = NOW(6)",
            VDiffStates.Error => $", last_error = {q.String(message.Length > 4000 ? message[..4000] : message)}",
            VDiffStates.Pending => ", completed_at = NULL",
            _ => string.Empty,
        };
        var guard = from is null ? string.Empty : $" AND state IN ({string.Join(", ", from.Select(q.String))})";
        var ok = await c.ExecuteAsync($"UPDATE {T("vdiff")} SET state = {q.String(state)}{extra} WHERE id = {id}{guard}", ct).ConfigureAwait(false);
        if (ok.AffectedRows > 0)
        {
            await LogAsync(c, id, $"{state}: {message}", ct).ConfigureAwait(false);
        }

        return ok.AffectedRows > 0;
    }

    public async Task<string?> StateAsync(MySqlConnection c, long id, CancellationToken ct = default) =>
        await c.QueryScalarAsync($"SELECT state FROM {T("vdiff")} WHERE id = {id}", ct).ConfigureAwait(false);

    public async Task LogAsync(MySqlConnection c, long id, string message, CancellationToken ct = default) =>
        await c.ExecuteAsync($"INSERT INTO {T("vdiff_log")} (vdiff_id, message) VALUES ({id}, {c.Quoter.String(message.Length > 4000 ? message[..4000] : message)})", ct).ConfigureAwait(false);

    public async Task StartTableAsync(MySqlConnection c, long id, string table, long tableRows, CancellationToken ct = default) =>
        await c.ExecuteAsync(
            $"UPDATE {T("vdiff_table")} SET state = '{VDiffStates.Started}', table_rows = {tableRows}, started_at = IFNULL(started_at, NOW(6)) " +
            $"WHERE vdiff_id = {id} AND table_name = {c.Quoter.String(table)} AND state <> '{VDiffStates.Completed}'", ct).ConfigureAwait(false);

    /// <summary>
    /// Adds one chunk's outcome: counters, the new lastpk (or completed), samples up to the limit, and the range when it
    /// differed. The update only applies when the row still has the lastpk the chunk started from; false means another
    /// run already recorded this chunk (a duplicate delivery), and nothing changed.
    /// </summary>
    public async Task<bool> CheckpointAsync(MySqlConnection c, long id, ChunkOutcome chunk, int maxSamples, CancellationToken ct = default)
    {
        var q = c.Quoter;
        var table = q.String(chunk.Table);
        await c.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        try
        {
            string? lastPk;
            string? samplesJson;
            string state;
            await using (var r = await c.QueryAsync($"SELECT lastpk, samples, state FROM {T("vdiff_table")} WHERE vdiff_id = {id} AND table_name = {table} FOR UPDATE", ct).ConfigureAwait(false))
            {
                if (!await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    throw new VDiffException($"VDiff {id} has no table {chunk.Table}.");
                }

                lastPk = r.GetString(0);
                samplesJson = r.GetString(1);
                state = r.GetString(2)!;
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                }
            }

            if (lastPk != chunk.Range.LowerExclusive || state == VDiffStates.Completed)
            {
                await c.ExecuteAsync("ROLLBACK", ct).ConfigureAwait(false);
                return false;
            }

            var samples = samplesJson is null ? [] : JsonSerializer.Deserialize<List<DiffSample>>(samplesJson, Json) ?? [];
            foreach (var s in chunk.Samples)
            {
                if (samples.Count(x => x.Kind == s.Kind) < maxSamples)
                {
                    samples.Add(s);
                }
            }

            var n = chunk.Counts;
            var done = chunk.LastChunk;
            await c.ExecuteAsync(
                $"UPDATE {T("vdiff_table")} SET rows_compared = rows_compared + {n.ProcessedRows}, matching_rows = matching_rows + {n.MatchingRows}, " +
                $"mismatched_rows = mismatched_rows + {n.MismatchedRows}, extra_rows_source = extra_rows_source + {n.ExtraRowsSource}, " +
                $"extra_rows_target = extra_rows_target + {n.ExtraRowsTarget}, chunks_compared = chunks_compared + {n.ChunksCompared}, " +
                $"chunks_differing = chunks_differing + {n.ChunksDiffering}, samples = {(samples.Count == 0 ? "NULL" : q.String(JsonSerializer.Serialize(samples, Json)))}, " +
                // The completed table keeps the lower bound of its last chunk as lastpk, so a duplicate of that chunk still matches nothing new.
                $"lastpk = {(done ? "lastpk" : q.String(chunk.Range.UpperInclusive!))}" +
                (done ? $", state = '{VDiffStates.Completed}', completed_at = NOW(6)" : string.Empty) +
                $" WHERE vdiff_id = {id} AND table_name = {table}", ct).ConfigureAwait(false);
            if (n.HasMismatch)
            {
                await c.ExecuteAsync(
                    $"INSERT INTO {T("vdiff_chunk")} (vdiff_id, table_name, seq, lower_pk, upper_pk) SELECT {id}, {table}, IFNULL(MAX(seq), 0) + 1, " +
                    $"{(chunk.Range.LowerExclusive is null ? "NULL" : q.String(chunk.Range.LowerExclusive))}, {(chunk.Range.UpperInclusive is null ? "NULL" : q.String(chunk.Range.UpperInclusive))} " +
                    $"FROM {T("vdiff_chunk")} WHERE vdiff_id = {id} AND table_name = {table}", ct).ConfigureAwait(false);
            }

            await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
            return true;
        }
        catch
        {
            await RollbackQuietlyAsync(c).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The ranges found different (not yet repaired) of one table.</summary>
    public async Task<IReadOnlyList<(long Seq, PkRange Range)>> DifferingRangesAsync(MySqlConnection c, long id, string table, CancellationToken ct = default)
    {
        var result = new List<(long, PkRange)>();
        await using var r = await c.QueryAsync($"SELECT seq, lower_pk, upper_pk FROM {T("vdiff_chunk")} WHERE vdiff_id = {id} AND table_name = {c.Quoter.String(table)} AND repaired = 0 ORDER BY seq", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add((r.GetInt64(0), new PkRange(r.GetString(1), r.GetString(2))));
        }

        return result;
    }

    /// <summary>
    /// Marks a range repaired and adds what its repair changed to the table's counts, in one statement: a range marked
    /// once (a re-delivered repair finds it repaired) is counted once.
    /// </summary>
    public async Task MarkRepairedAsync(MySqlConnection c, long id, string table, long seq, RepairCounts changed, CancellationToken ct = default) =>
        await c.ExecuteAsync(
            $"UPDATE {T("vdiff_chunk")} k JOIN {T("vdiff_table")} t ON t.vdiff_id = k.vdiff_id AND t.table_name = k.table_name " +
            $"SET k.repaired = 1, t.rows_inserted = t.rows_inserted + {changed.Inserted}, t.rows_updated = t.rows_updated + {changed.Updated}, t.rows_deleted = t.rows_deleted + {changed.Deleted} " +
            $"WHERE k.vdiff_id = {id} AND k.table_name = {c.Quoter.String(table)} AND k.seq = {seq} AND k.repaired = 0", ct).ConfigureAwait(false);

    /// <summary>Deletes one VDiff (all shards' rows on this server), or all of the workflow's when uuid is null.</summary>
    public async Task<int> DeleteAsync(MySqlConnection c, string workflow, string keyspace, string? uuid, CancellationToken ct = default)
    {
        var ids = (await ListAsync(c, workflow, keyspace, uuid, ct).ConfigureAwait(false)).Select(s => s.Id).ToList();
        if (ids.Count == 0)
        {
            return 0;
        }

        var list = string.Join(",", ids);
        await c.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        try
        {
            foreach (var t in new[] { "vdiff_table", "vdiff_chunk", "vdiff_log" })
            {
                await c.ExecuteAsync($"DELETE FROM {T(t)} WHERE vdiff_id IN ({list})", ct).ConfigureAwait(false);
            }

            await c.ExecuteAsync($"DELETE FROM {T("vdiff")} WHERE id IN ({list})", ct).ConfigureAwait(false);
            await c.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
        }
        catch
        {
            await RollbackQuietlyAsync(c).ConfigureAwait(false);
            throw;
        }

        return ids.Count;
    }

    private static DateTime? ParseTime(string? text) =>
        text is null ? null : DateTime.SpecifyKind(DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.None), DateTimeKind.Utc);

    private static async Task RollbackQuietlyAsync(MySqlConnection c)
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
            // The original failure is what matters; a failed rollback ends with the connection anyway.
        }
    }
}
