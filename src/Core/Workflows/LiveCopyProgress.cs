using Durable.Replication;

namespace Durable.Workflows;

/// <summary>
/// Copy progress as the target sidecars hold it at the moment it is asked. The orchestration publishes its state's
/// progress once per chunk round, and a round may run for minutes; the sidecar's copy_state moves with every commit
/// of a chunk (at least every <see cref="CopyBudget.CommitInterval"/>), so <c>status</c> and <c>show</c> read it there.
/// </summary>
public static class LiveCopyProgress
{
    /// <summary>
    /// The published per-table progress with the rows copied (and done) read from the streams' copy_state rows; a table
    /// no stream has a row for keeps what was published. The total stays the published estimate, raised to what was copied.
    /// </summary>
    public static IReadOnlyList<TableProgress> Merge(IReadOnlyList<TableProgress> published, IEnumerable<CopyState> copyStates)
    {
        var byTable = copyStates.GroupBy(c => c.Table, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => (Rows: g.Sum(c => c.RowsCopied), Done: g.All(c => c.Done)), StringComparer.OrdinalIgnoreCase);
        return [.. published.Select(t => byTable.TryGetValue(t.Table, out var live)
            ? t with { RowsCopied = live.Rows, RowsTotal = Math.Max(t.RowsTotal, live.Rows), Done = t.Done || live.Done }
            : t)];
    }

    /// <summary>Seconds left at the rate copied so far (as the orchestration estimates it), null before any row is copied.</summary>
    public static double? EtaSeconds(IReadOnlyList<TableProgress> copy, DateTime? copyStartedAt, DateTime now)
    {
        var copied = copy.Sum(t => t.RowsCopied);
        var total = copy.Sum(t => Math.Max(t.RowsTotal, t.RowsCopied));
        var elapsed = (now - (copyStartedAt ?? now)).TotalSeconds;
        return copied <= 0 || elapsed <= 0 ? null : Math.Round(Math.Max(0, total - copied) * elapsed / copied, 1);
    }
}
