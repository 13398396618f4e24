using System.Text;
using Durable.Core.Faults;
using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Replication;

namespace Durable.VDiff;

/// <summary>
/// --repair: with the target parked at the aligned position G (the stream stopped there, source snapshot at G), each
/// key range a VDiff found different is re-copied from the source snapshot — delete the target's rows of the range,
/// insert the source's rows the shard owns, in one transaction — and then compared again against the same snapshot.
/// The stream restarts from G afterwards, so later changes to those rows still arrive.
/// </summary>
public sealed class Repairer(VDiffStore store)
{
    /// <summary>Repairs every recorded differing range of the job's tables; returns how many ranges were re-copied.</summary>
    public async Task<int> RepairAsync(MySqlConnection state, long id, ShardJob job, ISnapshotSource snapshots, CancellationToken ct)
    {
        var pending = new List<(TableRule Rule, long Seq, PkRange Range)>();
        foreach (var rule in job.Tables)
        {
            foreach (var (seq, range) in await store.DifferingRangesAsync(state, id, rule.Table, ct).ConfigureAwait(false))
            {
                pending.Add((rule, seq, range));
            }
        }

        if (pending.Count == 0)
        {
            return 0;
        }

        var source = snapshots is StreamAlignedSnapshots aligned ? new StreamAlignedSnapshots(aligned) : snapshots;
        await using var pair = await source.OpenAsync(ct).ConfigureAwait(false);
        // The target's snapshot transaction ends here; the stream is parked at G, so the target stays at G while we write.
        await pair.Target.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
        var sqlMode = await pair.Source.QueryScalarAsync("SELECT @@global.sql_mode", ct).ConfigureAwait(false) ?? string.Empty;
        await StreamApplier.PrepareSessionAsync(pair.Target, sqlMode, ct).ConfigureAwait(false);
        var differ = new TableDiffer(job.Options with { RowLevel = true, OnlyPks = true });
        foreach (var group in pending.GroupBy(p => p.Rule.Table))
        {
            var rule = group.First().Rule;
            var plan = await TableDiffer.PlanAsync(pair.Source, job.SourceDb, pair.Target, job.TargetDb, rule.Table, rule.KeyRangeFilter, job.Options.SourceTimeZone, ct).ConfigureAwait(false);
            foreach (var (_, seq, range) in group)
            {
                // What the range differs in now (target parked at G, source snapshot at G) is what the copy changes:
                // rows only on the source are inserted, differing ones updated, rows only on the target deleted.
                var before = await differ.CompareChunkAsync(pair.Source, pair.Target, plan, range.Lower, range.Upper, ct).ConfigureAwait(false);
                await CopyRangeAsync(pair, plan, range, job.Options.SourceTimeZone, ct).ConfigureAwait(false);
                FaultPoints.Hit("vdiff.repair-range-copied");
                var check = await differ.CompareChunkAsync(pair.Source, pair.Target, plan, range.Lower, range.Upper, ct).ConfigureAwait(false);
                if (check.Counts.HasMismatch)
                {
                    throw new VDiffException($"Repair of {rule.Table} range ({range.LowerExclusive}, {range.UpperInclusive}] did not verify: {check.Counts.MismatchedRows} mismatched, {check.Counts.ExtraRowsSource} extra on source, {check.Counts.ExtraRowsTarget} extra on target.");
                }

                var changed = new RepairCounts(before.Counts.ExtraRowsSource, before.Counts.MismatchedRows, before.Counts.ExtraRowsTarget);
                await store.MarkRepairedAsync(state, id, rule.Table, seq, changed, ct).ConfigureAwait(false);
                await store.LogAsync(state, id,
                    $"repaired {rule.Table} range ({range.LowerExclusive}, {range.UpperInclusive}]: {changed.Inserted} inserted, {changed.Updated} updated, {changed.Deleted} deleted; {check.Counts.MatchingRows} rows verified", ct).ConfigureAwait(false);
            }
        }

        return pending.Count;
    }

    private static async Task CopyRangeAsync(SnapshotPair pair, DiffPlan plan, PkRange range, string? sourceTimeZone, CancellationToken ct)
    {
        var s = plan.Source;
        var t = plan.Target;
        var targetColumns = s.Compared.Select(i => s.Schema.Columns[i]).Where(c => !c.Generated).Select(c => t.Schema.Columns[t.Schema.IndexOf(c.Name)!.Value]).ToList();
        var sourceIndexes = s.Compared.Where(i => !s.Schema.Columns[i].Generated).ToList();
        var head = $"INSERT INTO {t.Schema.QualifiedName} ({string.Join(", ", targetColumns.Select(c => SqlQuoter.Identifier(c.Name)))}) VALUES ";
        await pair.Target.ExecuteAsync("BEGIN", ct).ConfigureAwait(false);
        try
        {
            await pair.Target.ExecuteAsync($"DELETE FROM {t.Schema.QualifiedName} WHERE {plan.RangePredicate(t, range.Lower, range.Upper, pair.Target.Quoter)}", ct).ConfigureAwait(false);
            var sql = new ByteBuilder(1 << 16);
            var rows = 0;
            var routerRow = s.Router is null ? null : new MySqlValue[s.Schema.Columns.Count];
            await using (var r = await pair.Source.QueryAsync(
                $"SELECT {string.Join(", ", s.Schema.Columns.Select(c => SqlQuoter.Identifier(c.Name)))} FROM {s.Schema.QualifiedName} WHERE {plan.RangePredicate(s, range.Lower, range.Upper, pair.Source.Quoter)}", ct).ConfigureAwait(false))
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    if (routerRow is not null)
                    {
                        routerRow[s.RouterColumn!.Value] = r.GetValue(s.RouterColumn.Value);
                        if (!s.Router!.InRange(routerRow))
                        {
                            continue;
                        }
                    }

                    sql.Append(rows == 0 ? head : ", ");
                    sql.Append("("u8);
                    for (var k = 0; k < sourceIndexes.Count; k++)
                    {
                        if (k > 0)
                        {
                            sql.Append(", "u8);
                        }

                        targetColumns[k].AppendValue(sql, r.GetValue(sourceIndexes[k]), pair.Target.Quoter, sourceTimeZone);
                    }

                    sql.Append(")"u8);
                    rows++;
                    if (sql.Length > 4 << 20)
                    {
                        // Sent after the reader finished would hold the whole range in memory; the source reader is on
                        // another connection, so the statement can go now.
                        await pair.Target.ExecuteAsync(sql.Memory, ct).ConfigureAwait(false);
                        sql.Clear();
                        rows = 0;
                    }
                }
            }

            if (rows > 0)
            {
                await pair.Target.ExecuteAsync(sql.Memory, ct).ConfigureAwait(false);
            }

            await pair.Target.ExecuteAsync("COMMIT", ct).ConfigureAwait(false);
        }
        catch
        {
            if (pair.Target.IsUsable)
            {
                await pair.Target.ExecuteAsync("ROLLBACK", CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
    }
}
