namespace Durable.Replication;

/// <summary>How the engine is set up: its sidecar database, the apply loop's batching and the throttle.</summary>
public sealed record ReplicationEngineOptions
{
    public string SidecarName { get; init; } = Sidecar.DefaultName;

    public ReplicatorOptions Replicator { get; init; } = new();

    /// <summary>Null: no throttling on replica lag or history list length (the per-stream max rows/s still applies).</summary>
    public ThrottleOptions? Throttle { get; init; } = new();
}
