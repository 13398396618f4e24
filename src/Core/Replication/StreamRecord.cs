using Durable.Core.Positions;

namespace Durable.Replication;

/// <summary>One row of the sidecar's stream table: the truth about a stream.</summary>
public sealed record StreamRecord(
    long Id,
    string Workflow,
    string SourceKeyspace,
    string SourceShard,
    string TargetKeyspace,
    string TargetShard,
    string TargetDb,
    StreamFilter Filter,
    GtidPosition? Position,
    GtidPosition? StopPosition,
    StreamState State,
    long OwnerEpoch,
    string Message,
    string TabletTypes,
    string Cells,
    OnDdl OnDdl,
    StreamOptions Options,
    long TimeUpdated,
    long TransactionTimestamp,
    long TimeHeartbeat,
    long RowsCopied)
{
    /// <summary>
    /// Replication lag in seconds. A heartbeat newer than the last applied transaction means the stream had applied
    /// everything the source had at that moment, so the lag is the heartbeat's age; otherwise it is the age of the
    /// last applied source transaction.
    /// </summary>
    public long LagSeconds(DateTimeOffset now) =>
        Math.Max(0, now.ToUnixTimeSeconds() - (TimeHeartbeat >= TimeUpdated ? TimeHeartbeat : TransactionTimestamp));
}
