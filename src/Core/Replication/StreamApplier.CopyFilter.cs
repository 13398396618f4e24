using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.Replication;

/// <summary>How far a table of a copying stream is: rows with a primary key beyond LastPk are not on the target yet.</summary>
public sealed record CopyProgress(IReadOnlyList<MySqlValue>? LastPk, bool Done)
{
    public bool NotStarted => LastPk is null && !Done;
}

// The copy filter: while a table is being copied, only changes to rows the copy has already written are applied
// (the copy reads the rest from its snapshot later).
public sealed partial class StreamApplier
{
    /// <summary>The table's copy progress while the stream is copying it; null when it is copied (or not copying).</summary>
    private CopyProgress? CopyProgressOf(TableContext table) =>
        CopyProgress is not null && CopyProgress.TryGetValue(table.Schema.Name, out var p) ? p : null;

    /// <summary>One query answers, for every image, whether its key is within the copied range (key &lt;= lastpk).</summary>
    private async Task<(bool[] Before, bool[] After)> CompareWithLastPkAsync(
        TableSchema schema, List<(MySqlValue[]? Before, MySqlValue[]? After)> changes, IReadOnlyList<MySqlValue> lastPk, CancellationToken ct)
    {
        var before = new bool[changes.Count];
        var after = new bool[changes.Count];
        if (CompareIntegerKeys(schema, changes, lastPk, before, after))
        {
            return (before, after);
        }

        var sql = new ByteBuilder(1024);
        sql.Append("SELECT "u8);
        var slots = new List<(int Row, bool IsAfter)>();
        for (var i = 0; i < changes.Count; i++)
        {
            foreach (var (image, isAfter) in new[] { (changes[i].Before, false), (changes[i].After, true) })
            {
                if (image is null)
                {
                    continue;
                }

                if (slots.Count > 0)
                {
                    sql.Append(", "u8);
                }

                sql.Append("("u8);
                AppendTuple(sql, schema, image);
                sql.Append(") <= ("u8);
                AppendTuple(sql, schema, lastPk, fromKey: true);
                sql.Append(")"u8);
                slots.Add((i, isAfter));
            }
        }

        if (slots.Count == 0)
        {
            return (before, after);
        }

        await _pipeline.AwaitInFlightAsync().ConfigureAwait(false);
        var started = ApplyProfile.Now();
        Profile.RoundTrips++;
        await using var r = await _target.QueryAsync(sql.Memory, ct).ConfigureAwait(false);
        var took = ApplyProfile.Since(started);
        Profile.SendTicks += took;
        Profile.WaitTicks += took;
        if (!await r.ReadAsync(ct).ConfigureAwait(false))
        {
            throw new ReplicationException("The lastpk comparison returned no row.");
        }

        for (var s = 0; s < slots.Count; s++)
        {
            var yes = r.GetString(s) == "1";
            if (slots[s].IsAfter)
            {
                after[slots[s].Row] = yes;
            }
            else
            {
                before[slots[s].Row] = yes;
            }
        }

        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
        }

        return (before, after);
    }

    /// <summary>
    /// The lastpk comparison without a query when every key column is an integer type: integers have no collation,
    /// so comparing their values as numbers is exactly what the server would do. False (nothing filled in) for any
    /// other key, which is compared in SQL with its collation.
    /// </summary>
    internal static bool CompareIntegerKeys(TableSchema schema, List<(MySqlValue[]? Before, MySqlValue[]? After)> changes, IReadOnlyList<MySqlValue> lastPk, bool[] before, bool[] after)
    {
        var key = schema.PrimaryKey;
        if (lastPk.Count != key.Count)
        {
            return false;
        }

        var last = new Int128[key.Count];
        for (var k = 0; k < key.Count; k++)
        {
            if (!schema.Columns[key[k]].IsInteger || !TryParseInteger(lastPk[k], out last[k]))
            {
                return false;
            }
        }

        for (var i = 0; i < changes.Count; i++)
        {
            if (changes[i].Before is { } b)
            {
                if (AtOrBelow(b) is not { } yes)
                {
                    return false;
                }

                before[i] = yes;
            }

            if (changes[i].After is { } a)
            {
                if (AtOrBelow(a) is not { } yes)
                {
                    return false;
                }

                after[i] = yes;
            }
        }

        return true;

        // (key) <= (lastpk), compared as SQL compares row constructors: column by column, the first difference decides.
        bool? AtOrBelow(MySqlValue[] image)
        {
            for (var k = 0; k < key.Count; k++)
            {
                if (!TryParseInteger(image[key[k]], out var v))
                {
                    return null;
                }

                if (v != last[k])
                {
                    return v < last[k];
                }
            }

            return true;
        }
    }

    private static bool TryParseInteger(MySqlValue value, out Int128 result)
    {
        result = default;
        return !value.IsNull && Int128.TryParse(value.Span, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out result);
    }

    private void AppendTuple(ByteBuilder sql, TableSchema schema, IReadOnlyList<MySqlValue> values, bool fromKey = false)
    {
        for (var k = 0; k < schema.PrimaryKey.Count; k++)
        {
            if (k > 0)
            {
                sql.Append(", "u8);
            }

            var column = schema.Columns[schema.PrimaryKey[k]];
            column.AppendComparable(sql, fromKey ? values[k] : values[schema.PrimaryKey[k]], _target.Quoter);
        }
    }
}
