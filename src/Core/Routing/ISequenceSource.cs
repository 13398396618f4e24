namespace Durable.Routing;

/// <summary>
/// The values of a Vitess sequence: a table <c>(id, next_id, cache)</c> in an unsharded keyspace with one row (id 0),
/// whose values a gateway reserves in blocks of <c>cache</c> (one UPDATE per block) and hands out to the inserts of
/// sharded tables whose VSchema names the sequence in <c>auto_increment</c>. Values are unique across gateways and
/// increase within one gateway; gaps are allowed (a block dies with its gateway), as in Vitess.
/// </summary>
public interface ISequenceSource
{
    /// <summary>
    /// Reserves <paramref name="count"/> consecutive values of sequence table <paramref name="table"/> in keyspace
    /// <paramref name="keyspace"/> and returns the first. Throws <see cref="GatewaySqlException"/> when the sequence
    /// table is missing or malformed (naming it), or its keyspace's primary cannot be reached.
    /// </summary>
    ValueTask<long> NextAsync(string keyspace, string table, int count, CancellationToken ct);
}
