using System.Globalization;

namespace Durable.VDiff;

/// <summary>
/// Builds <see cref="VDiffReport"/> (the wire record, in Durable.Contracts) from the shards' sidecar rows; an extension, so
/// callers still write <c>VDiffReport.Build(...)</c>.
/// </summary>
public static class VDiffReportBuilder
{
    extension(VDiffReport)
    {
        /// <summary>Folds the shards' rows of one VDiff into the report; <paramref name="verbose"/> adds per-shard reports with samples.</summary>
        public static VDiffReport Build(string workflow, string keyspace, string uuid, IReadOnlyList<(VDiffShardRecord Shard, IReadOnlyList<VDiffTableRecord> Tables)> shards, bool verbose, DateTime now)
        {
            var states = shards.Select(s => s.Shard.State).ToList();
            var state = states.Count == 0 ? VDiffStates.Pending
                : states.Contains(VDiffStates.Error) ? VDiffStates.Error
                : states.All(s => s == VDiffStates.Completed) ? VDiffStates.Completed
                : states.Contains(VDiffStates.Started) ? VDiffStates.Started
                : states.Contains(VDiffStates.Stopped) ? VDiffStates.Stopped
                : VDiffStates.Pending;
            var repair = shards.Any(s => s.Shard.Options.Repair);
            var summary = new SortedDictionary<string, TableSummary>(StringComparer.Ordinal);
            var reports = new SortedDictionary<string, IReadOnlyDictionary<string, ShardTableReport>>(StringComparer.Ordinal);
            foreach (var group in shards.SelectMany(s => s.Tables.Select(t => (s.Shard, Table: t))).GroupBy(x => x.Table.Table))
            {
                var rows = group.ToList();
                var tableState = rows.All(r => r.Table.State == VDiffStates.Completed) ? VDiffStates.Completed
                    : rows.Any(r => r.Table.State == VDiffStates.Started || r.Table.State == VDiffStates.Completed) ? VDiffStates.Started
                    : VDiffStates.Pending;
                summary[group.Key] = new TableSummary
                {
                    TableName = group.Key,
                    State = tableState,
                    RowsCompared = rows.Sum(r => r.Table.Counts.ProcessedRows),
                    MatchingRows = rows.Sum(r => r.Table.Counts.MatchingRows),
                    MismatchedRows = rows.Sum(r => r.Table.Counts.MismatchedRows),
                    ExtraRowsSource = rows.Sum(r => r.Table.Counts.ExtraRowsSource),
                    ExtraRowsTarget = rows.Sum(r => r.Table.Counts.ExtraRowsTarget),
                    LastPK = verbose && tableState != VDiffStates.Completed ? rows.Select(r => r.Table.LastPk).LastOrDefault(p => p is not null) : null,
                    RowsInserted = repair ? rows.Sum(r => r.Table.Repaired.Inserted) : null,
                    RowsUpdated = repair ? rows.Sum(r => r.Table.Repaired.Updated) : null,
                    RowsDeleted = repair ? rows.Sum(r => r.Table.Repaired.Deleted) : null,
                };
                var perShard = new SortedDictionary<string, ShardTableReport>(StringComparer.Ordinal);
                foreach (var (shard, table) in rows)
                {
                    perShard[shard.Shard] = new ShardTableReport
                    {
                        TableName = table.Table,
                        ProcessedRows = table.Counts.ProcessedRows,
                        MatchingRows = table.Counts.MatchingRows,
                        MismatchedRows = table.Counts.MismatchedRows,
                        ExtraRowsSource = table.Counts.ExtraRowsSource,
                        ExtraRowsTarget = table.Counts.ExtraRowsTarget,
                        MismatchedRowsSample = verbose ? Samples(table, DiffKind.Mismatched) : null,
                        ExtraRowsSourceSample = verbose ? Samples(table, DiffKind.ExtraSource) : null,
                        ExtraRowsTargetSample = verbose ? Samples(table, DiffKind.ExtraTarget) : null,
                    };
                }

                reports[group.Key] = perShard;
            }

            var started = shards.Select(s => s.Shard.StartedAt).Where(t => t is not null).Min();
            var completed = state == VDiffStates.Completed ? shards.Select(s => s.Shard.CompletedAt).Max() : null;
            var compared = summary.Values.Sum(t => t.RowsCompared);
            VDiffProgress? progress = null;
            if (state == VDiffStates.Started && started is not null)
            {
                // Progress against the target's row estimates; the ETA extrapolates the rate so far.
                var total = shards.SelectMany(s => s.Tables).Sum(t => Math.Max(t.TableRows, t.Counts.ProcessedRows));
                var fraction = total == 0 ? 0 : Math.Min(1.0, (double)compared / total);
                var elapsed = now - started.Value;
                string? eta = fraction > 0 ? (now + elapsed * ((1 - fraction) / fraction)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : null;
                progress = new VDiffProgress(Math.Round(fraction * 100, 2), eta);
            }

            var errors = string.Join("; ", shards.Where(s => s.Shard.LastError.Length > 0).Select(s => $"{s.Shard.Shard}: {s.Shard.LastError}"));
            return new VDiffReport
            {
                Workflow = workflow,
                Keyspace = keyspace,
                State = state,
                UUID = uuid,
                RowsCompared = compared,
                HasMismatch = summary.Values.Any(t => t.MismatchedRows > 0 || t.ExtraRowsSource > 0 || t.ExtraRowsTarget > 0),
                Repaired = repair ? state == VDiffStates.Completed : null,
                Shards = string.Join(",", shards.Select(s => s.Shard.Shard).Distinct().Order(StringComparer.Ordinal)),
                StartedAt = started?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                CompletedAt = completed?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                Progress = progress,
                Errors = errors.Length == 0 ? null : errors,
                TableSummary = summary,
                Reports = verbose ? reports : null,
            };
        }
    }

    private static IReadOnlyList<DiffSample>? Samples(VDiffTableRecord table, DiffKind kind)
    {
        var list = table.Samples.Where(s => s.Kind == kind).ToList();
        return list.Count == 0 ? null : list;
    }
}
