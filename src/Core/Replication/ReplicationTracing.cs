using System.Diagnostics;

namespace Durable.Replication;

/// <summary>
/// The replication engine's trace source: one span per applied batch (a fenced target transaction with its position),
/// wherever the replicator runs (the Streamer's streams, a copy's catch-up and fast-forward in a host activity). A
/// batch is tens to thousands of source transactions, so this stays cheap; with no TracerProvider listening no span is
/// made at all.
/// </summary>
public static class ReplicationTracing
{
    public const string SourceName = "Durable.Replication";

    public static ActivitySource Source { get; } = new(SourceName);
}
