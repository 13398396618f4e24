using System.Text.Json;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// The workflow's state as the orchestration publishes it (its custom status, which status, show and the state endpoint
/// read). The Azure Storage provider keeps the custom status in one table property of at most 32K UTF-16 characters;
/// past that every episode of the orchestration fails to save ("PropertyValueTooLarge") and the workflow stops moving.
/// A long-lived workflow outgrows it through its audit trail and command results (each switch adds its step timings:
/// found by the crash tests at about 40 switches), so the oldest entries are left out of the published copy, and
/// counted; the state the orchestration carries keeps them all.
/// </summary>
public static class PublishedStatus
{
    /// <summary>Characters of JSON the published status may take: well under the 32K limit, leaving room for escaping.</summary>
    public const int MaxChars = 24_000;

    /// <summary>The newest entries of each list always stay, however long they are.</summary>
    private const int Kept = 5;

    public static WorkflowState Fit(WorkflowState state)
    {
        var size = JsonSerializer.Serialize(state).Length;
        if (size <= MaxChars)
        {
            return state;
        }

        var audit = state.Audit.ToList();
        var commands = state.Commands.ToList();
        var omitted = 0;
        while (size > MaxChars && (audit.Count > Kept || commands.Count > Kept))
        {
            // Halve what is over the floor each round: a few serializations even for a trail of thousands.
            var dropAudit = Math.Max(audit.Count > Kept ? 1 : 0, (audit.Count - Kept) / 2);
            var dropCommands = Math.Max(commands.Count > Kept ? 1 : 0, (commands.Count - Kept) / 2);
            audit.RemoveRange(0, dropAudit);
            commands.RemoveRange(0, dropCommands);
            omitted += dropAudit;
            size = JsonSerializer.Serialize(state with { Audit = audit, Commands = commands }).Length;
        }

        return state with { Audit = audit, Commands = commands, AuditOmitted = state.AuditOmitted + omitted };
    }
}
