namespace Durable.Replication;

/// <summary>
/// How many rows the copy's next statement may hold: about <c>target</c> worth at the target's measured insert rate.
/// The statement's byte size alone does not bound its time: on a slow target (a busy server, a wide index set, a
/// throttled disk) one 4 MB statement took tens of seconds, and the chunk's commit, and with it the progress that
/// status and show read, waited behind it. Starts small until a statement has been timed.
/// </summary>
internal sealed class CopyStatementPacer(TimeSpan target)
{
    /// <summary>Rows of the statements sent before any was timed.</summary>
    private const long FirstRows = 500;

    /// <summary>Fewer rows per statement would cost more in round trips than a slow target saves.</summary>
    private const long MinRows = 100;

    // Written when a statement ends (on the in-flight send), read by the loop building the next one.
    private double _rowsPerSecond;

    public long MaxRows
    {
        get
        {
            var rate = Volatile.Read(ref _rowsPerSecond);
            return rate <= 0 ? FirstRows : Math.Max(MinRows, (long)Math.Min(long.MaxValue / 2, rate * target.TotalSeconds));
        }
    }

    /// <summary>Takes one sent statement's rows and time into the rate (smoothed, so one slow statement does not halve it).</summary>
    public void Record(long rows, TimeSpan elapsed)
    {
        if (rows <= 0 || elapsed <= TimeSpan.Zero)
        {
            return;
        }

        var measured = rows / elapsed.TotalSeconds;
        var previous = Volatile.Read(ref _rowsPerSecond);
        Volatile.Write(ref _rowsPerSecond, previous <= 0 ? measured : (previous + measured) / 2);
    }
}
