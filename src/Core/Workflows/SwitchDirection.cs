namespace Durable.Workflows;

/// <summary>The two sides of a write switch: writes move from <c>From</c> to <c>To</c>; <c>Inbound</c> streams carry From→To.</summary>
internal sealed record SwitchDirection(string From, string To, string Inbound, string Outbound, GuardSide FromGuard, GuardSide ToGuard)
{
    public static SwitchDirection Of(MoveTablesCreate spec, bool reverse) => reverse
        ? new SwitchDirection(spec.TargetKeyspace, spec.SourceKeyspace, spec.ReverseWorkflow, spec.Workflow, GuardSide.Target, GuardSide.Source)
        : new SwitchDirection(spec.SourceKeyspace, spec.TargetKeyspace, spec.Workflow, spec.ReverseWorkflow, GuardSide.Source, GuardSide.Target);
}
