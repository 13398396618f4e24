using Durable.Replication;

namespace Durable.Workflows;

/// <summary>
/// A stream's lag as show and status report it: a number only when the stream row says something about it, else null
/// (unknown). A stream that has applied no source transaction and had no heartbeat has transaction_timestamp and
/// time_heartbeat 0; taking the age of that would report the age of the Unix epoch (issue 19: "lag_seconds":
/// 1796548118), so it is unknown instead.
/// </summary>
public static class StreamLag
{
    /// <summary>
    /// Seconds the target is behind the source (vtctldclient's transaction lag): a heartbeat newer than the last update
    /// means the stream had applied all the source had then, so the heartbeat's age; else the age of the last applied
    /// source transaction. Null when neither is known.
    /// </summary>
    public static long? TransactionLag(StreamRecord stream, DateTimeOffset now)
    {
        var basis = stream.TimeHeartbeat > 0 && stream.TimeHeartbeat >= stream.TimeUpdated ? stream.TimeHeartbeat : stream.TransactionTimestamp;
        return basis <= 0 ? null : Math.Max(0, now.ToUnixTimeSeconds() - basis);
    }

    /// <summary>Seconds since the stream last did anything (applied, heartbeat, state change): vtctldclient's max_v_replication_lag. Null when never.</summary>
    public static long? SinceUpdate(StreamRecord stream, DateTimeOffset now) =>
        stream.TimeUpdated <= 0 ? null : Math.Max(0, now.ToUnixTimeSeconds() - stream.TimeUpdated);

    /// <summary>The largest of the running streams' lags; null when no stream runs or any running stream's lag is unknown.</summary>
    public static long? Max(IEnumerable<StreamRecord> streams, DateTimeOffset now, Func<StreamRecord, DateTimeOffset, long?> lag)
    {
        long? max = null;
        foreach (var s in streams.Where(s => s.State == StreamState.Running))
        {
            if (lag(s, now) is not { } l)
            {
                return null;
            }

            max = Math.Max(max ?? 0, l);
        }

        return max;
    }
}
