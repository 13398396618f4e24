using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Binlog;

namespace Durable.Replication;

/// <summary>
/// Applies row changes to the target inside fenced transactions: each transaction first locks the stream row and
/// checks the owner epoch and the position this owner last committed, and commits the new position with the rows.
/// A changed epoch (another owner took the stream) or position rolls the transaction back with <see cref="FencedOutException"/>.
/// </summary>
public sealed partial class StreamApplier
{
    private readonly MySqlConnection _target;
    private readonly StreamStore _store;
    private readonly int _statementBudget;

    /// <summary>Largest statement (and LOAD DATA packet) sent: the copy budget's, within the target's max_allowed_packet.</summary>
    public int StatementBudget => _statementBudget;

    // The statements on their way to the target (compound blocks on MariaDB), and the two ways row changes become
    // statements: net effects per key (MariaDB) or one statement per change.
    private readonly BlockPipeline _pipeline;
    private readonly NetEffectGroups _groups;
    private readonly RowByRowWriter _rowByRow;

    // What this owner last committed (unix seconds), for LagSeconds: starts as the stream row it was made from.
    private long _committedAt;
    private long _committedTransactionTimestamp;
    private long _heartbeatAt;

    public StreamApplier(MySqlConnection target, StreamStore store, StreamRecord stream, int statementBudget = 4 << 20, bool? compoundStatements = null)
    {
        _target = target;
        _store = store;
        Stream = stream;
        Position = stream.Position;
        _committedAt = stream.TimeUpdated;
        _committedTransactionTimestamp = stream.TransactionTimestamp;
        _heartbeatAt = stream.TimeHeartbeat;
        _statementBudget = statementBudget;
        var compound = compoundStatements ?? target.IsMariaDb;
        // Small enough that a batch (one target transaction) spans several blocks, so building overlaps executing;
        // large enough that a round trip carries hundreds of row changes.
        var blockBudget = Math.Clamp(statementBudget, 4096, 256 << 10);
        _pipeline = new BlockPipeline(target, compound, blockBudget);
        // A stream's options are fixed when it is created, so its source time zone is the one this applier was made with.
        _groups = new NetEffectGroups(target, _pipeline, stream.Options.SourceTimeZone);
        _rowByRow = new RowByRowWriter(target, _pipeline, statementBudget, stream.Options.SourceTimeZone);
    }

    /// <summary>Round trips that carried row changes (compound blocks and single statements), for tests and profiling.</summary>
    public long RoundTrips => _pipeline.RoundTrips;

    /// <summary>Time per apply phase (shared with the replicator that feeds this applier).</summary>
    public ApplyProfile Profile
    {
        get => _pipeline.Profile;
        set => _pipeline.Profile = value;
    }

    /// <summary>The stream as this owner took it (its epoch is the fence).</summary>
    public StreamRecord Stream { get; private set; }

    /// <summary>The position of the last commit of this owner.</summary>
    public GtidPosition? Position { get; private set; }

    public bool InTransaction { get; private set; }

    /// <summary>The fault-point prefix of commits (apply, copy.catchup, copy.fastforward), for crash tests.</summary>
    public string FaultArea { get; set; } = "apply";

    /// <summary>Row changes applied in the open transaction.</summary>
    public long PendingRows { get; private set; }

    /// <summary>Rows applied since this applier was made.</summary>
    public long TotalRows { get; private set; }

    /// <summary>Copy progress per table while the stream is copying; null when every table is copied.</summary>
    public IReadOnlyDictionary<string, CopyProgress>? CopyProgress { get; set; }

    public MySqlConnection Target => _target;

    /// <summary>
    /// Applies one ROWS event: each change is filtered by the key range, and while the table is being copied by the
    /// copied range (compared in SQL with the column collations), then written by primary key.
    /// </summary>
    public async Task ApplyRowsAsync(RowsEvent rows, CancellationToken ct)
    {
        // SQL build time is what this call spends outside round trips and the fenced begin.
        var started = ApplyProfile.Now();
        var waited = Profile.WaitTicks + Profile.BeginTicks;
        try
        {
            await ApplyRowsCoreAsync(rows, ct).ConfigureAwait(false);
        }
        finally
        {
            Profile.BuildTicks += ApplyProfile.Since(started) - (Profile.WaitTicks + Profile.BeginTicks - waited);
            Profile.RowEvents++;
            Profile.Rows += rows.Rows.Count;
        }
    }

    private async Task ApplyRowsCoreAsync(RowsEvent rows, CancellationToken ct)
    {
        var table = await TableAsync(rows.Table.Table, ct).ConfigureAwait(false);
        var progress = CopyProgressOf(table);
        if (progress is { NotStarted: true })
        {
            return; // the copy will read the table's rows from a later snapshot
        }

        var map = ColumnMapFor(rows.Table, table);

        var changes = new List<(MySqlValue[]? Before, MySqlValue[]? After)>(rows.Rows.Count);
        foreach (var change in rows.Rows)
        {
            changes.Add((change.Before is null ? null : map.Align(change.Before), change.After is null ? null : map.Align(change.After)));
        }

        bool[]? beforeCopied = null;
        bool[]? afterCopied = null;
        if (progress is { Done: false, LastPk: { } lastPk })
        {
            (beforeCopied, afterCopied) = await CompareWithLastPkAsync(table.Schema, changes, lastPk, ct).ConfigureAwait(false);
        }

        await BeginAsync(ct).ConfigureAwait(false);
        for (var i = 0; i < changes.Count; i++)
        {
            var (before, after) = changes[i];
            var beforeIn = before is not null && (table.Router?.InRange(before) ?? true) && (beforeCopied?[i] ?? true);
            var afterIn = after is not null && (table.Router?.InRange(after) ?? true) && (afterCopied?[i] ?? true);
            if (_pipeline.Compound)
            {
                var (b, a) = rows.Kind switch
                {
                    RowsEventKind.Insert => (null, afterIn ? after : null),
                    RowsEventKind.Delete => (beforeIn ? before : null, null),
                    _ => (beforeIn ? before : null, afterIn ? after : null),
                };
                if (b is not null || a is not null)
                {
                    _groups.Track(table, b, a);
                    PendingRows++;
                    if (_groups.Full)
                    {
                        await _groups.EmitAsync(ct).ConfigureAwait(false);
                    }
                }

                continue;
            }

            switch (rows.Kind)
            {
                case RowsEventKind.Insert when afterIn:
                    await _rowByRow.InsertAsync(table, after!, ct).ConfigureAwait(false);
                    PendingRows++;
                    break;
                case RowsEventKind.Delete when beforeIn:
                    await _rowByRow.DeleteAsync(table, before!, ct).ConfigureAwait(false);
                    PendingRows++;
                    break;
                case RowsEventKind.Update when beforeIn && afterIn:
                    await _rowByRow.UpdateAsync(table, before!, after!, ct).ConfigureAwait(false);
                    PendingRows++;
                    break;
                case RowsEventKind.Update when beforeIn:
                    // The row left this shard's key range (or the copied range): it is no longer ours.
                    await _rowByRow.DeleteAsync(table, before!, ct).ConfigureAwait(false);
                    PendingRows++;
                    break;
                case RowsEventKind.Update when afterIn:
                    await _rowByRow.InsertAsync(table, after!, ct).ConfigureAwait(false);
                    PendingRows++;
                    break;
            }
        }
    }

    /// <summary>Sends every change not sent yet and waits until the target has run them.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        await _groups.EmitAsync(ct).ConfigureAwait(false);
        await _rowByRow.QueuePendingInsertAsync(ct).ConfigureAwait(false);
        await _pipeline.SendBlockAsync(ct).ConfigureAwait(false);
    }
}
