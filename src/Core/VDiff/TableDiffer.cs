using System.Globalization;
using Durable.MySql;
using Durable.Replication;

namespace Durable.VDiff;

/// <summary>Where a segment of a table's diff stopped: done, or the last key compared (the next segment starts after it).</summary>
public sealed record SegmentResult(bool Done, IReadOnlyList<MySqlValue>? LastPk, TableCounts Counts);

/// <summary>
/// Compares one table between a source and a target connection, each already inside its (aligned) snapshot.
/// Checksum-first: per primary-key range of <see cref="VDiffOptions.ChunkRows"/> source rows, both servers compute a
/// row count and the BIT_XOR of the rows' 64-bit hashes; only chunks whose aggregates differ (or every chunk with
/// --row-level) are merged row by row in key order. The merge streams both sides at once and holds one row of each,
/// so memory does not grow with the table. Each finished chunk is handed to the checkpoint callback before the next
/// starts, so a stopped or crashed diff resumes after the last checkpointed key with the same totals.
/// </summary>
public sealed class TableDiffer(VDiffOptions options)
{
    public VDiffOptions Options { get; } = options;

    /// <summary>Sets what makes both sessions read values the same way (TIMESTAMPs in UTC).</summary>
    public static async Task PrepareSessionAsync(MySqlConnection c, CancellationToken ct)
    {
        await c.ExecuteAsync("SET SESSION time_zone = '+00:00', SESSION sql_mode = REPLACE(@@sql_mode, 'PAD_CHAR_TO_FULL_LENGTH', '')", ct).ConfigureAwait(false);
    }

    /// <summary>Loads both schemas and matches them into a plan.</summary>
    public static async Task<DiffPlan> PlanAsync(MySqlConnection source, string sourceDb, MySqlConnection target, string targetDb, string table, KeyRangeFilter? sourceFilter, string? sourceTimeZone, CancellationToken ct)
    {
        var s = await TableSchema.TryLoadAsync(source, sourceDb, table, ct).ConfigureAwait(false)
            ?? throw new VDiffException($"Table {sourceDb}.{table} does not exist on the source {source.Options.Host}:{source.Options.Port}.");
        var t = await TableSchema.TryLoadAsync(target, targetDb, table, ct).ConfigureAwait(false)
            ?? throw new VDiffException($"Table {targetDb}.{table} does not exist on the target {target.Options.Host}:{target.Options.Port}.");
        var nullable = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        nullable.UnionWith(await NullableColumnsAsync(source, sourceDb, table, ct).ConfigureAwait(false));
        nullable.UnionWith(await NullableColumnsAsync(target, targetDb, table, ct).ConfigureAwait(false));
        var plan = DiffPlan.Create(s, t, sourceFilter, sourceTimeZone, nullable);
        plan.UseCrc = DiffPlan.HasCrc32C(source) && DiffPlan.HasCrc32C(target);
        return plan;
    }

    /// <summary>The columns of a table that may hold NULL (the row hash carries NULL markers for those only).</summary>
    internal static async Task<List<string>> NullableColumnsAsync(MySqlConnection c, string db, string table, CancellationToken ct)
    {
        var q = c.Quoter;
        var names = new List<string>();
        await using var r = await c.QueryAsync(
            $"SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {q.String(db)} AND TABLE_NAME = {q.String(table)} AND IS_NULLABLE = 'YES'", ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            names.Add(r.GetString(0)!);
        }

        return names;
    }

    /// <summary>
    /// Compares chunks after <paramref name="lastPk"/> (null: from the start) until the table is done or
    /// <paramref name="deadline"/> passed (then the caller re-aligns and continues in a new segment).
    /// </summary>
    public async Task<SegmentResult> RunSegmentAsync(
        MySqlConnection source,
        MySqlConnection target,
        DiffPlan plan,
        IReadOnlyList<MySqlValue>? lastPk,
        DateTimeOffset deadline,
        Func<ChunkOutcome, Task> checkpoint,
        CancellationToken ct)
    {
        var total = new TableCounts();
        var lower = lastPk;
        if (IntegerKey(plan) && await KeyRangeAsync(source, plan, lower, ct).ConfigureAwait(false) is var (min, max))
        {
            return await RunKeyRangeSegmentAsync(source, target, plan, lower, min, max, deadline, checkpoint, ct).ConfigureAwait(false);
        }

        var upper = await NextBoundaryAsync(source, plan, lower, Options.ChunkRows, ct).ConfigureAwait(false);
        var pipeline = new CheckpointPipeline(checkpoint);
        try
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                // The next chunk's bound is read on the source while the target still computes this chunk's checksum, so
                // the boundary scan costs no time of its own.
                IReadOnlyList<MySqlValue>? next = null;
                var bound = upper;
                var outcome = await pipeline.CompareAsync(CompareChunkCoreAsync(source, target, plan, lower, upper,
                    bound is null ? null : async () => next = await NextBoundaryAsync(source, plan, bound, Options.ChunkRows, ct).ConfigureAwait(false), ct)).ConfigureAwait(false);
                total.Add(outcome.Counts);
                pipeline.Start(outcome);
                if (upper is null)
                {
                    await pipeline.DrainAsync().ConfigureAwait(false);
                    return new SegmentResult(true, lower, total);
                }

                lower = upper;
                upper = next;
                if (DateTimeOffset.UtcNow >= deadline)
                {
                    await pipeline.DrainAsync().ConfigureAwait(false);
                    return new SegmentResult(false, lower, total);
                }
            }
        }
        finally
        {
            await pipeline.DrainQuietlyAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs the checkpoint of chunk i while chunk i+1 is compared: the checkpoint is a transaction on the state
    /// connection (the target primary's sidecar), during which both compare connections would otherwise sit idle. The
    /// order of checkpoints is kept (i+1's starts only after i's committed), and a checkpoint that fails (or finds the
    /// VDiff stopped) is reported only after the compare running beside it finished, so no connection is left inside a
    /// statement; that compare's result is dropped (it was not checkpointed, so a resume compares it again).
    /// </summary>
    private sealed class CheckpointPipeline(Func<ChunkOutcome, Task> checkpoint)
    {
        private Task? _pending;

        /// <summary>Waits for the running checkpoint, then for <paramref name="comparing"/> (already started).</summary>
        public async Task<ChunkOutcome> CompareAsync(Task<ChunkOutcome> comparing)
        {
            if (_pending is { } pending)
            {
                _pending = null;
                try
                {
                    await pending.ConfigureAwait(false);
                }
                catch
                {
                    try
                    {
                        await comparing.ConfigureAwait(false);
                    }
                    catch
                    {
                        // The checkpoint's error is the one that counts; this compare's result would be dropped anyway.
                    }

                    throw;
                }
            }

            return await comparing.ConfigureAwait(false);
        }

        public void Start(ChunkOutcome outcome) => _pending = checkpoint(outcome);

        public async Task DrainAsync()
        {
            if (_pending is { } pending)
            {
                _pending = null;
                await pending.ConfigureAwait(false);
            }
        }

        /// <summary>On the way out after an error: the state connection must be idle before the caller uses it again.</summary>
        public async Task DrainQuietlyAsync()
        {
            try
            {
                await DrainAsync().ConfigureAwait(false);
            }
            catch
            {
                // The error that ended the loop is already propagating; this one came after it.
            }
        }
    }

    /// <summary>A single-column integer primary key: chunks are cut by key value, with no boundary scan.</summary>
    internal static bool IntegerKey(DiffPlan plan) =>
        plan.Source.Pk.Length == 1 && plan.KeyOrders[0] == KeyOrder.Number && plan.Source.Schema.Columns[plan.Source.Pk[0]].IsInteger;

    /// <summary>
    /// MIN and MAX of the source's integer key after <paramref name="lower"/> (two index dives), or null when no source
    /// row is left (then one unbounded chunk takes whatever the target still has).
    /// </summary>
    internal static async Task<(Int128 Min, Int128 Max)?> KeyRangeAsync(MySqlConnection source, DiffPlan plan, IReadOnlyList<MySqlValue>? lower, CancellationToken ct)
    {
        var s = plan.Source;
        var key = Durable.MySql.Sql.SqlQuoter.Identifier(s.Schema.Columns[s.Pk[0]].Name);
        var sql = $"SELECT MIN({key}), MAX({key}) FROM {s.Schema.QualifiedName} WHERE {plan.RangePredicate(s, lower, null, source.Quoter)}";
        await using var r = await source.QueryAsync(sql, ct).ConfigureAwait(false);
        (Int128, Int128)? range = null;
        if (await r.ReadAsync(ct).ConfigureAwait(false) && !r.GetValue(0).IsNull)
        {
            range = (Int128.Parse(r.GetValue(0).Span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
                Int128.Parse(r.GetValue(1).Span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        }

        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
        }

        return range;
    }

    /// <summary>
    /// The chunk loop for a single-column integer key (pt-table-sync's Chunk algorithm): chunks are key ranges of a width
    /// that starts at ChunkRows and follows the density the previous chunk showed (ChunkRows source rows per chunk on
    /// average, each step at most 4 times wider or narrower, so a gap in the keys is crossed in a few chunks and a
    /// dense run does not make one huge chunk). This saves the boundary walk (LIMIT 1 OFFSET n reads every chunk's rows a
    /// second time on the source). The chunk that reaches the source's MAX is unbounded above, so target rows past the
    /// source's end are still seen.
    /// </summary>
    private async Task<SegmentResult> RunKeyRangeSegmentAsync(
        MySqlConnection source,
        MySqlConnection target,
        DiffPlan plan,
        IReadOnlyList<MySqlValue>? lower,
        Int128 min,
        Int128 max,
        DateTimeOffset deadline,
        Func<ChunkOutcome, Task> checkpoint,
        CancellationToken ct)
    {
        var total = new TableCounts();
        var chunkRows = (Int128)Options.ChunkRows;
        var width = chunkRows;
        var from = min - 1; // every key of the next chunk is > from (lower, when resuming, is below min)
        var pipeline = new CheckpointPipeline(checkpoint);
        try
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var to = max - from <= width ? (Int128?)null : from + width;
                IReadOnlyList<MySqlValue>? upper = to is { } t ? [MySqlValue.FromString(t.ToString(CultureInfo.InvariantCulture))] : null;
                var outcome = await pipeline.CompareAsync(CompareChunkCoreAsync(source, target, plan, lower, upper, null, ct)).ConfigureAwait(false);
                total.Add(outcome.Counts);
                pipeline.Start(outcome);
                if (to is not { } reached)
                {
                    await pipeline.DrainAsync().ConfigureAwait(false);
                    return new SegmentResult(true, lower, total);
                }

                lower = upper;
                from = reached;
                var rows = (Int128)Math.Max(0, outcome.Counts.ProcessedRows - outcome.Counts.ExtraRowsTarget);
                width = rows == 0 ? width * 4 : Int128.Clamp(width * chunkRows / rows, Int128.Max(1, width / 4), width * 4);
                if (DateTimeOffset.UtcNow >= deadline)
                {
                    await pipeline.DrainAsync().ConfigureAwait(false);
                    return new SegmentResult(false, lower, total);
                }
            }
        }
        finally
        {
            await pipeline.DrainQuietlyAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The key of the ChunkRows-th source row after <paramref name="lower"/>, or null when fewer rows remain (last chunk).</summary>
    public static async Task<IReadOnlyList<MySqlValue>?> NextBoundaryAsync(MySqlConnection source, DiffPlan plan, IReadOnlyList<MySqlValue>? lower, int chunkRows, CancellationToken ct)
    {
        var s = plan.Source;
        var sql = $"SELECT {string.Join(", ", s.Pk.Select(i => Durable.MySql.Sql.SqlQuoter.Identifier(s.Schema.Columns[i].Name)))} FROM {s.Schema.QualifiedName} " +
                  $"WHERE {plan.RangePredicate(s, lower, null, source.Quoter)} ORDER BY {plan.OrderBy(s)} LIMIT 1 OFFSET {(chunkRows - 1).ToString(CultureInfo.InvariantCulture)}";
        await using var r = await source.QueryAsync(sql, ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false))
        {
            return null;
        }

        var key = new MySqlValue[s.Pk.Length];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = r.GetValue(i).ToOwned();
        }

        return key;
    }

    /// <summary>Compares one range (lower, upper]: checksums on both servers, then a row merge when they differ or --row-level.</summary>
    public Task<ChunkOutcome> CompareChunkAsync(MySqlConnection source, MySqlConnection target, DiffPlan plan, IReadOnlyList<MySqlValue>? lower, IReadOnlyList<MySqlValue>? upper, CancellationToken ct) =>
        CompareChunkCoreAsync(source, target, plan, lower, upper, null, ct);

    /// <summary>As <see cref="CompareChunkAsync"/>; <paramref name="sourceNext"/> runs on the source connection as soon as the source's part is done.</summary>
    private async Task<ChunkOutcome> CompareChunkCoreAsync(MySqlConnection source, MySqlConnection target, DiffPlan plan, IReadOnlyList<MySqlValue>? lower, IReadOnlyList<MySqlValue>? upper, Func<Task>? sourceNext, CancellationToken ct)
    {
        var range = new PkRange(lower is null ? null : StreamStore.EncodePk(lower), upper is null ? null : StreamStore.EncodePk(upper));
        var counts = new TableCounts { ChunksCompared = 1 };
        var samples = new List<DiffSample>();
        var differed = Options.RowLevel;
        if (!Options.RowLevel)
        {
            async Task<(long Count, ulong Xor)> SourceSideAsync()
            {
                var sum = await ChecksumAsync(source, plan, plan.Source, lower, upper, ct).ConfigureAwait(false);
                if (sourceNext is not null)
                {
                    await sourceNext().ConfigureAwait(false);
                    sourceNext = null;
                }

                return sum;
            }

            var sourceSum = SourceSideAsync();
            var targetSum = ChecksumAsync(target, plan, plan.Target, lower, upper, ct);
            await Task.WhenAll(sourceSum, targetSum).ConfigureAwait(false);
            if (sourceSum.Result == targetSum.Result)
            {
                counts.ProcessedRows = counts.MatchingRows = sourceSum.Result.Count;
                return new ChunkOutcome(plan.Table, range, counts, false, samples, upper is null);
            }

            differed = true;
        }

        var keys = await MergeAsync(source, target, plan, lower, upper, counts, ct).ConfigureAwait(false);
        if (sourceNext is not null)
        {
            await sourceNext().ConfigureAwait(false);
        }

        if (counts.HasMismatch)
        {
            counts.ChunksDiffering = 1;
            samples = await SamplesAsync(source, target, plan, keys, ct).ConfigureAwait(false);
        }

        return new ChunkOutcome(plan.Table, range, counts, differed && counts.HasMismatch, samples, upper is null);
    }

    /// <summary>Row count and BIT_XOR of the first 64 bits of the row hashes in the range, computed by the server.</summary>
    internal static async Task<(long Count, ulong Xor)> ChecksumAsync(MySqlConnection c, DiffPlan plan, DiffSide side, IReadOnlyList<MySqlValue>? lower, IReadOnlyList<MySqlValue>? upper, CancellationToken ct)
    {
        var where = plan.RangePredicate(side, lower, upper, c.Quoter);
        var hash = plan.Hash64Expr(side, c.Quoter);
        if (side.Router is { } router)
        {
            // Which source rows belong to the target shard is decided by the vindex, which SQL cannot compute: the source
            // streams only (vindex column, row hash) and the aggregate is folded here, bit for bit the server's.
            var column = side.RouterColumn!.Value;
            var sql = $"SELECT {Durable.MySql.Sql.SqlQuoter.Identifier(side.Schema.Columns[column].Name)}, {hash} FROM {side.Schema.QualifiedName} WHERE {where}";
            var row = new MySqlValue[side.Schema.Columns.Count];
            long count = 0;
            ulong xor = 0;
            await using var r = await c.QueryAsync(sql, ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                row[column] = r.GetValue(0);
                if (!router.InRange(row))
                {
                    continue;
                }

                count++;
                xor ^= ulong.Parse(r.GetValue(1).Span, NumberStyles.None, CultureInfo.InvariantCulture);
            }

            return (count, xor);
        }

        var aggregate = $"SELECT COUNT(*), IFNULL(BIT_XOR({hash}), 0) FROM {side.Schema.QualifiedName} WHERE {where}";
        await using (var r = await c.QueryAsync(aggregate, ct).ConfigureAwait(false))
        {
            await r.ReadAsync(ct).ConfigureAwait(false);
            var result = (r.GetInt64(0), r.GetUInt64(1));
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
            }

            return result;
        }
    }

    private string MergeSql(DiffPlan plan, DiffSide side, IReadOnlyList<MySqlValue>? lower, IReadOnlyList<MySqlValue>? upper, Durable.MySql.Sql.SqlQuoter quoter)
    {
        var router = side.RouterColumn is { } col ? ", " + Durable.MySql.Sql.SqlQuoter.Identifier(side.Schema.Columns[col].Name) : string.Empty;
        return $"SELECT {plan.KeySelect(side)}, {plan.HashExpr(side, quoter)}{router} FROM {side.Schema.QualifiedName} " +
               $"WHERE {plan.RangePredicate(side, lower, upper, quoter)} ORDER BY {plan.OrderBy(side)}";
    }

    /// <summary>Merges both sides in key order; adds to counts; returns the keys (bounded) kept for samples.</summary>
    private async Task<List<(DiffKind Kind, MySqlValue[] Key)>> MergeAsync(MySqlConnection source, MySqlConnection target, DiffPlan plan, IReadOnlyList<MySqlValue>? lower, IReadOnlyList<MySqlValue>? upper, TableCounts counts, CancellationToken ct)
    {
        var kept = new List<(DiffKind, MySqlValue[])>();
        var perKind = new int[3];
        void Keep(DiffKind kind, MySqlValue[] key)
        {
            if (perKind[(int)kind] < Options.MaxSamples)
            {
                perKind[(int)kind]++;
                // Only a kept key is copied out of the reader's buffer.
                kept.Add((kind, key.Select(v => v.ToOwned()).ToArray()));
            }
        }

        var k = plan.KeyOrders.Length;
        var routerRow = plan.Source.Router is null ? null : new MySqlValue[plan.Source.Schema.Columns.Count];
        await using var sr = await source.QueryAsync(MergeSql(plan, plan.Source, lower, upper, source.Quoter), ct).ConfigureAwait(false);
        await using var tr = await target.QueryAsync(MergeSql(plan, plan.Target, lower, upper, target.Quoter), ct).ConfigureAwait(false);

        // One row buffer per side, refilled in place: the values point into the reader's buffer and stay valid until that
        // reader reads its next row, which happens only once the merge is done with the row. No allocation per row.
        var sourceRow = new KeyRow(new MySqlValue[k], new MySqlValue[k], MySqlValue.Null);
        var targetRow = new KeyRow(new MySqlValue[k], new MySqlValue[k], MySqlValue.Null);

        // ValueTask<bool>, not Task<KeyRow?>: a read that completes from the buffer (nearly every row) allocates nothing,
        // where a Task<KeyRow> result was a new object per row and side (~144 bytes a row: the GC's gen0 budget then
        // decided the process's peak memory, which grew with the table).
        async ValueTask<bool> NextAsync(MySqlDataReader r, bool filtered, KeyRow row)
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                if (filtered)
                {
                    routerRow![plan.Source.RouterColumn!.Value] = r.GetValue(2 * k + 1);
                    if (!plan.Source.Router!.InRange(routerRow))
                    {
                        continue;
                    }
                }

                for (var i = 0; i < k; i++)
                {
                    row.Key[i] = r.GetValue(i);
                    row.Order[i] = plan.KeyOrders[i] is KeyOrder.Weight or KeyOrder.MemberIndex ? r.GetValue(k + i) : MySqlValue.Null;
                }

                row.Hash = r.GetValue(2 * k);
                return true;
            }

            return false;
        }

        var filteredSource = routerRow is not null;
        var hasS = await NextAsync(sr, filteredSource, sourceRow).ConfigureAwait(false);
        var hasT = await NextAsync(tr, false, targetRow).ConfigureAwait(false);
        while (hasS || hasT)
        {
            var c = !hasS ? 1 : !hasT ? -1 : plan.CompareKeys(sourceRow, targetRow);
            counts.ProcessedRows++;
            if (c < 0)
            {
                counts.ExtraRowsSource++;
                Keep(DiffKind.ExtraSource, sourceRow.Key);
                hasS = await NextAsync(sr, filteredSource, sourceRow).ConfigureAwait(false);
            }
            else if (c > 0)
            {
                counts.ExtraRowsTarget++;
                Keep(DiffKind.ExtraTarget, targetRow.Key);
                hasT = await NextAsync(tr, false, targetRow).ConfigureAwait(false);
            }
            else
            {
                if (sourceRow.Hash.Span.SequenceEqual(targetRow.Hash.Span))
                {
                    counts.MatchingRows++;
                }
                else
                {
                    counts.MismatchedRows++;
                    Keep(DiffKind.Mismatched, sourceRow.Key);
                }

                hasS = await NextAsync(sr, filteredSource, sourceRow).ConfigureAwait(false);
                hasT = await NextAsync(tr, false, targetRow).ConfigureAwait(false);
            }
        }

        return kept;
    }

    /// <summary>Reads the sampled rows' values by key on each side (skipped with --only-pks), after the merge streams closed.</summary>
    private async Task<List<DiffSample>> SamplesAsync(MySqlConnection source, MySqlConnection target, DiffPlan plan, List<(DiffKind Kind, MySqlValue[] Key)> keys, CancellationToken ct)
    {
        var result = new List<DiffSample>(keys.Count);
        var extras = 0;
        foreach (var (kind, key) in keys)
        {
            var pk = new Dictionary<string, string?>();
            for (var i = 0; i < key.Length; i++)
            {
                pk[plan.PkNames[i]] = key[i].AsString();
            }

            if (Options.OnlyPks || (kind != DiffKind.Mismatched && ++extras > Options.MaxExtraRowsToCompare))
            {
                result.Add(new DiffSample(kind, pk));
                continue;
            }

            var src = kind == DiffKind.ExtraTarget ? null : await RowAsync(source, plan, plan.Source, key, ct).ConfigureAwait(false);
            var tgt = kind == DiffKind.ExtraSource ? null : await RowAsync(target, plan, plan.Target, key, ct).ConfigureAwait(false);
            if (kind == DiffKind.Mismatched && src is not null && tgt is not null)
            {
                // Only the columns that differ are worth showing next to the key.
                foreach (var name in src.Keys.ToList())
                {
                    if (Equals(src[name], tgt.GetValueOrDefault(name)) && !pk.ContainsKey(name))
                    {
                        src.Remove(name);
                        tgt.Remove(name);
                    }
                }
            }

            result.Add(new DiffSample(kind, pk, src, tgt));
        }

        return result;
    }

    private static async Task<Dictionary<string, string?>?> RowAsync(MySqlConnection c, DiffPlan plan, DiffSide side, MySqlValue[] key, CancellationToken ct)
    {
        var sql = $"SELECT {plan.ColumnList(side)} FROM {side.Schema.QualifiedName} WHERE {plan.KeyEquals(side, key, c.Quoter)} LIMIT 1";
        await using var r = await c.QueryAsync(sql, ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false))
        {
            return null;
        }

        var row = new Dictionary<string, string?>();
        for (var i = 0; i < side.Compared.Length; i++)
        {
            var column = side.Schema.Columns[side.Compared[i]];
            var v = r.GetValue(i);
            row[column.Name] = v.IsNull ? null : column.Style == Durable.MySql.Sql.LiteralStyle.Binary ? "0x" + Convert.ToHexString(v.Span) : v.AsString();
        }

        return row;
    }
}
