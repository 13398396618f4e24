namespace Durable.Gateway.Sequences;

/// <summary>
/// One sequence's values as one gateway holds them: the block [<see cref="Next"/>, <see cref="End"/>) it reserved and
/// has not handed out yet, and the sequence's <c>cache</c> (how many values a reservation takes). Guarded by
/// <see cref="Gate"/>: callers of one sequence take turns, callers of different sequences never wait for each other.
/// </summary>
internal sealed class SequenceBlock
{
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public long Next { get; set; }

    public long End { get; set; }

    /// <summary>The row's cache, read at this gateway's first reservation; null until then.</summary>
    public long? Cache { get; set; }

    public long Remaining => End - Next;
}
