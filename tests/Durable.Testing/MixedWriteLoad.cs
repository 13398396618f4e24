using Durable.MySql;

namespace Durable.Testing;

/// <summary>What a <see cref="MixedWriteLoad"/> changed.</summary>
public sealed record WriteLoadStats(int Inserts, int Updates, int KeyChanges, int UniqueSwaps, int Deletes)
{
    public int Total => Inserts + Updates + KeyChanges + UniqueSwaps + Deletes;

    public override string ToString() => $"{Inserts} inserts, {Updates} updated rows, {KeyChanges} primary key changes, {UniqueSwaps} unique-key swaps, {Deletes} deletes";
}

/// <summary>
/// The write load the replication tests run on a source while it is copied or streamed: across the whole key space of
/// a table (id INT PK, uk INT UNIQUE, v VARCHAR, n BIGINT) inserts, range updates, primary key changes, unique-key
/// swaps (two rows exchange their uk values in one transaction, through NULL) and deletes. Duplicate-key, deadlock and
/// lock-wait errors roll the change back and the load goes on; any other error ends it.
/// </summary>
public static class MixedWriteLoad
{
    /// <param name="connection">The source connection (the caller opens and disposes it).</param>
    /// <param name="maxOpsPerSecond">0: as fast as the server goes; else a pace, so a copy's catch-up on a loaded machine
    /// is not an endless chase of an unthrottled writer (a copy chases its source; the seeds' answer is throttling).</param>
    /// <param name="uniqueKeyOffset">New rows get uk = id + this offset (distinct from every id-derived value the table's
    /// own fill used).</param>
    /// <param name="onChange">Called after every change attempted (for progress counters).</param>
    public static async Task<WriteLoadStats> RunAsync(
        MySqlConnection connection, string table, int keySpace, CancellationToken ct,
        int seed = 12345, int maxOpsPerSecond = 0, int uniqueKeyOffset = 1_000_000, Action? onChange = null)
    {
        var c = connection;
        var random = new Random(seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long ops = 0;
        int inserts = 0, updates = 0, keyChanges = 0, swaps = 0, deletes = 0;
        while (!ct.IsCancellationRequested)
        {
            if (maxOpsPerSecond > 0 && ++ops > clock.Elapsed.TotalSeconds * maxOpsPerSecond)
            {
                try
                {
                    // The clock moves on between the check above and here: a due time already passed means no wait
                    // (a negative delay below -1 ms throws).
                    var wait = TimeSpan.FromSeconds((double)ops / maxOpsPerSecond) - clock.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, ct);
                    }
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            var a = random.Next(1, keySpace + 1);
            var b = random.Next(1, keySpace + 1);
            try
            {
                // No token on the statements: a change is never abandoned half way, so the source is final once stopped.
                switch (random.Next(10))
                {
                    case 0 or 1 or 2:
                        inserts += (int)(await c.ExecuteAsync($"INSERT IGNORE INTO `{table}` (id, uk, v, n) VALUES ({a}, {a + uniqueKeyOffset}, 'ins {a}', {random.Next()})")).AffectedRows;
                        break;
                    case 3 or 4:
                        updates += (int)(await c.ExecuteAsync($"UPDATE `{table}` SET v = CONCAT('upd ', n), n = n + 1 WHERE id BETWEEN {a} AND {a + 3}")).AffectedRows;
                        break;
                    case 5:
                        keyChanges += (int)(await c.ExecuteAsync($"UPDATE IGNORE `{table}` SET id = {b} WHERE id = {a}")).AffectedRows;
                        break;
                    case 6:
                        await c.ExecuteAsync("BEGIN");
                        var ua = await c.QueryScalarAsync($"SELECT uk FROM `{table}` WHERE id = {a} FOR UPDATE");
                        var ub = await c.QueryScalarAsync($"SELECT uk FROM `{table}` WHERE id = {b} FOR UPDATE");
                        if (ua is not null && ub is not null && a != b)
                        {
                            await c.ExecuteAsync($"UPDATE `{table}` SET uk = NULL WHERE id = {a}");
                            await c.ExecuteAsync($"UPDATE `{table}` SET uk = {ua} WHERE id = {b}");
                            await c.ExecuteAsync($"UPDATE `{table}` SET uk = {ub} WHERE id = {a}");
                            swaps++;
                        }

                        await c.ExecuteAsync("COMMIT");
                        break;
                    default:
                        deletes += (int)(await c.ExecuteAsync($"DELETE FROM `{table}` WHERE id = {a}")).AffectedRows;
                        break;
                }
            }
            catch (MySqlException e) when (e.ErrorNumber is MySqlErrorCode.DuplicateKey or MySqlErrorCode.Deadlock or MySqlErrorCode.LockWaitTimeout)
            {
                await c.ExecuteAsync("ROLLBACK");
            }

            onChange?.Invoke();
        }

        return new WriteLoadStats(inserts, updates, keyChanges, swaps, deletes);
    }
}
