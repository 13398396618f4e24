using System.Collections.Concurrent;
using System.Globalization;
using Durable.MySql;
using Durable.MySql.Sql;
using Durable.Routing;
using Durable.Topology;

namespace Durable.Gateway.Sequences;

/// <summary>
/// The gateway's <see cref="ISequenceSource"/>: per sequence table a block of values reserved on the primary of the
/// sequence's (unsharded) keyspace with one statement, <c>UPDATE t SET next_id = LAST_INSERT_ID(next_id + n) WHERE id = 0</c>,
/// whose OK packet's insert id is the new next_id, so the block is [new - n, new) with n = max(cache, count). The row
/// is locked only for that statement, so two gateways' blocks never overlap; values increase within one gateway; a
/// block's unused values die with the gateway (gaps, as in Vitess).
/// </summary>
internal sealed class GatewaySequenceSource(IBackendPicker picker, BackendPool pool) : ISequenceSource
{
    private readonly ConcurrentDictionary<(string Keyspace, string Table), SequenceBlock> _blocks = new();

    public async ValueTask<long> NextAsync(string keyspace, string table, int count, CancellationToken ct)
    {
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "A sequence hands out at least one value per call.");
        }

        var block = _blocks.GetOrAdd((keyspace, table), static _ => new SequenceBlock());
        await block.Gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (block.Remaining < count)
            {
                await ReserveAsync(keyspace, table, count, block, ct).ConfigureAwait(false);
            }

            var first = block.Next;
            block.Next += count;
            return first;
        }
        finally
        {
            block.Gate.Release();
        }
    }

    /// <summary>
    /// A new block of max(cache, <paramref name="count"/>) values; what is left of the old one is dropped (a gap):
    /// the new block need not follow it, since other gateways reserve in between.
    /// </summary>
    private async Task ReserveAsync(string keyspace, string table, int count, SequenceBlock block, CancellationToken ct)
    {
        var endpoint = await picker.PickAsync(new KeyspaceTarget(keyspace, TabletType.Primary), ct).ConfigureAwait(false);
        var connection = await pool.RentAsync(endpoint, foundRows: false, ct).ConfigureAwait(false);
        var name = SqlQuoter.QualifiedName(endpoint.DbName, table);
        try
        {
            block.Cache ??= await ReadCacheAsync(connection.Connection, keyspace, table, name, ct).ConfigureAwait(false);
            var size = Math.Max(block.Cache.Value, count);
            var ok = await connection.Connection.ExecuteAsync(
                $"UPDATE {name} SET next_id = LAST_INSERT_ID(next_id + {size.ToString(CultureInfo.InvariantCulture)}) WHERE id = 0", ct).ConfigureAwait(false);
            if (ok.AffectedRows == 0)
            {
                throw Malformed(keyspace, table, "it has no row with id 0");
            }

            var end = checked((long)ok.LastInsertId);
            block.Next = end - size;
            block.End = end;
        }
        catch (MySqlException e)
        {
            throw e.ErrorNumber == GatewaySqlException.NoSuchTable
                ? new GatewaySqlException(GatewaySqlException.NoSuchTable, "42S02",
                    $"Sequence table {keyspace}.{table} does not exist on {endpoint.Alias}: create it (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY(id)) with the row (0, 1, 1000), or let MoveTables create --sharded-auto-increment-handling REPLACE create it.")
                : new GatewaySqlException(GatewaySqlException.Unknown, "HY000", $"Reserving values of sequence {keyspace}.{table} on {endpoint.Alias} failed: {e.Message}");
        }
        finally
        {
            // LAST_INSERT_ID is session state: the next renter must not see this one.
            connection.Dirty = true;
            await pool.ReturnAsync(connection).ConfigureAwait(false);
        }
    }

    /// <summary>The row's cache (how many values a block takes); also proves the row is there and usable.</summary>
    private static async Task<long> ReadCacheAsync(MySqlConnection c, string keyspace, string table, string name, CancellationToken ct)
    {
        string? cache = null;
        string? next = null;
        var found = false;
        await using (var r = await c.QueryAsync($"SELECT cache, next_id FROM {name} WHERE id = 0", ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                found = true;
                cache = r.GetString(0);
                next = r.GetString(1);
            }
        }

        if (!found)
        {
            throw Malformed(keyspace, table, "it has no row with id 0");
        }

        if (next is null)
        {
            throw Malformed(keyspace, table, "its next_id is NULL");
        }

        return long.TryParse(cache, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 1
            ? value
            : throw Malformed(keyspace, table, $"its cache is {cache ?? "NULL"}, not a positive number");
    }

    private static GatewaySqlException Malformed(string keyspace, string table, string why) =>
        new(GatewaySqlException.Unknown, "HY000", $"Sequence table {keyspace}.{table} cannot hand out values: {why}. It needs the row (id 0, next_id, cache), e.g. INSERT INTO {table} (id, next_id, cache) VALUES (0, 1, 1000).");
}
