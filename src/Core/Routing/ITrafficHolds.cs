namespace Durable.Routing;

/// <summary>
/// The cutover holds a gateway takes part in (vtgate's buffering on keyspace events). A switch announces a hold on its
/// moving tables and waits for every gateway to acknowledge; from then the gateway holds new autocommit statements and
/// new transactions on those tables until the switch commits (release on the new routing) or rolls back (release on
/// the old), within the limits of <see cref="TrafficHoldLimits"/>.
/// </summary>
public interface ITrafficHolds
{
    /// <summary>
    /// Null when no active hold covers any of <paramref name="tables"/> (the common case, no allocation). Otherwise a
    /// task that completes once the hold has ended and the gateway's routing snapshot is at least at the revision the
    /// switch ended with (the caller then routes the statement again), or faults with a <see cref="GatewaySqlException"/>
    /// when a limit is reached (held longer than the window, the switch longer than its maximum, the buffer full).
    /// </summary>
    Task? WaitIfHeld(IReadOnlyList<QualifiedTable> tables, CancellationToken ct);

    /// <summary>True while an active hold covers one of <paramref name="tables"/> (an open transaction on them is in flight across the switch).</summary>
    bool IsHeld(IReadOnlyList<QualifiedTable> tables);
}

/// <summary>vtgate's buffer limits, as settings: per held statement, per switch, and how many statements at once.</summary>
public sealed record TrafficHoldLimits
{
    /// <summary>vtgate --buffer_window: how long one statement may be held.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>vtgate --buffer_max_failover_duration: how long a hold may last before everything it holds fails.</summary>
    public TimeSpan MaxSwitchDuration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>vtgate --buffer_size: statements held at once per gateway; beyond it new ones fail at once.</summary>
    public int MaxHeld { get; init; } = 1000;
}
