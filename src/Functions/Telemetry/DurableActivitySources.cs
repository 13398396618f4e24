using System.Diagnostics;

namespace Durable.Functions.Telemetry;

/// <summary>
/// The host's trace sources. Spans are only made while a TracerProvider listens (OTLP configured); otherwise starting
/// one is a single "no listener" check. ActivitySources have no scope, so when several hosts share a process (tests)
/// each host's TracerProvider also sees the others' spans; a deployed host is one process.
/// </summary>
public static class DurableActivitySources
{
    /// <summary>One span per function invocation (HTTP, queue and timer triggers).</summary>
    public static ActivitySource Functions { get; } = new("Durable.Functions");

    /// <summary>One span per orchestration episode and per activity execution.</summary>
    public static ActivitySource Engine { get; } = new("Durable.Engine");

    /// <summary>The names a host exports: its own, and the replication engine's (copy catch-up batches run in activities).</summary>
    public static IReadOnlyList<string> Names { get; } = [Functions.Name, Engine.Name, Durable.Replication.ReplicationTracing.SourceName];
}
