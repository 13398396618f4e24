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
