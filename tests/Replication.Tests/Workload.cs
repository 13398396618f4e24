using Durable.MySql;

namespace Durable.Replication.Tests;

public sealed record WorkloadStats(int Inserts, int Updates, int KeyChanges, int UniqueSwaps, int Deletes)
{
    public int Total => Inserts + Updates + KeyChanges + UniqueSwaps + Deletes;
}

/// <summary>
/// A write load across the whole key space of a table (id INT PK, uk INT UNIQUE, v VARCHAR, n BIGINT): inserts,
/// updates, primary key changes, unique-key swaps (in one transaction through a NULL) and deletes.
/// </summary>
public static class Workload
{
    /// <param name="maxOpsPerSecond">0: as fast as the server goes; else a pace, so a copy's catch-up on a loaded
    /// machine is not an endless chase of an unthrottled writer.</param>
    public static async Task<WorkloadStats> RunAsync(string db, string table, int keySpace, CancellationToken ct, int sourceUid = 100, int seed = 12345, int maxOpsPerSecond = 0)
    {
        await using var c = await TestBed.OpenDbaAsync(sourceUid, db);
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
                    await Task.Delay(TimeSpan.FromSeconds((double)ops / maxOpsPerSecond) - clock.Elapsed, ct);
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
                switch (random.Next(10))
                {
                    case 0 or 1 or 2:
                        inserts += (int)(await c.ExecuteAsync($"INSERT IGNORE INTO `{table}` (id, uk, v, n) VALUES ({a}, {a + 1_000_000}, 'ins {a}', {random.Next()})")).AffectedRows;
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
        }

        return new WorkloadStats(inserts, updates, keyChanges, swaps, deletes);
    }
}
