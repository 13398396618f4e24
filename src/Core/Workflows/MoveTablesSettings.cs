using Durable.Replication;

namespace Durable.Workflows;

/// <summary>What the real operations need from the host's configuration.</summary>
public sealed record MoveTablesSettings
{
    /// <summary>
    /// How closely the inbound streams of a write switch must follow the side writes leave before its guards are armed:
    /// the guarded wait for the final position then covers well under a second of writes (Vitess checks lag before it
    /// stops writes).
    /// </summary>
    public TimeSpan CatchUpGoal { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The TTL of the etcd lease a traffic command (SwitchTraffic, ReverseTraffic, Complete, Cancel) holds while it
    /// acts. When its host dies the lease lapses after at most this, and a live process ends the command from its
    /// journal (<see cref="InterruptedCommandRecovery"/>, which looks every <see cref="RecoveryInterval"/>): writes
    /// are refused for at most about TTL + interval + the undo itself (10 + 2 + a few seconds, within the 30 s bound).
    /// Shorter leases are renewed more often (every third of the TTL); a host paused longer than the TTL loses it.
    /// </summary>
    public TimeSpan SwitchLeaseTtl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a write switch waits for every registered gateway to acknowledge its hold before it arms the guards.
    /// A live gateway answers within milliseconds (one watch event and one put); 2 s rides out an etcd leader election
    /// or a GC pause, and stays well inside the gateways' 10 s per-statement window, which counts from the announce.
    /// A gateway that does not answer (partitioned, or killed before its lease lapsed) is named and the switch goes on.
    /// </summary>
    public TimeSpan GatewayAckBound { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often every host and Streamer looks for a command whose holder died (see <see cref="SwitchLeaseTtl"/>).</summary>
    public TimeSpan RecoveryInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Accounts the write guards let through: the engine's (copy, streams, reverse streams).</summary>
    public IReadOnlyList<string> ExemptUsers { get; init; } = [];

    /// <summary>Binlog retention must exceed the copy ETA times this.</summary>
    public double RetentionSafetyFactor { get; init; } = 2;

    /// <summary>Assumed copy speed for the retention check before any row is copied.</summary>
    public double AssumedCopyRowsPerSecond { get; init; } = 20_000;

    public CopyBudget CopyBudget { get; init; } = new() { MaxTime = TimeSpan.FromSeconds(20) };

    /// <summary>This host's secrets (DURABLE_SECRETS_FILE), for credential references such as a mount's; then the environment.</summary>
    public IReadOnlyDictionary<string, string>? Secrets { get; init; }
}
