namespace Durable.Routing.Following;

/// <summary>How the gateway picks and probes its backend tablets.</summary>
public sealed record BackendPickerOptions
{
    /// <summary>The gateway's cell: replica and rdonly reads prefer tablets here (vtgate's --cell).</summary>
    public string Cell { get; init; } = "zone1";

    /// <summary>A replica or rdonly tablet lagging more than this serves no reads (vtgate's discovery_low_replication_lag ceiling).</summary>
    public TimeSpan MaxReplicationLag { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often every tablet is probed in the background, so a pick costs no I/O.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>One probe slower than this counts the tablet as unreachable.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
