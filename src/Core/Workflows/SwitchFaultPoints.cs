namespace Durable.Workflows;

/// <summary>One named crash point of a traffic command: where it is, and which commands pass it.</summary>
public sealed record SwitchFaultPoint(string Name, string Step, IReadOnlyList<string> Commands);

/// <summary>
/// Every fault point of SwitchTraffic, ReverseTraffic and Complete, in the order the commands pass them. The code hits
/// them by these constants (<see cref="Durable.Core.Faults.FaultPoints.Hit"/>) and the crash tests read <see cref="All"/>,
/// so a point added here is a point the tests kill the host at. ReverseTraffic runs the write switch's steps with the
/// sides swapped, so it passes the <c>switchtraffic.*</c> points; it has no steps of its own.
/// </summary>
public static class SwitchFaultPoints
{
    public const string AfterIntent = "switchtraffic.after-intent";
    public const string AfterGuards = "switchtraffic.after-guards";
    public const string AfterDrain = "switchtraffic.after-drain";
    public const string AfterStopInbound = "switchtraffic.after-stop-inbound";
    public const string AfterReverseCreated = "switchtraffic.after-reverse-created";
    public const string AfterRules = "switchtraffic.after-rules";
    public const string AfterCommit = "switchtraffic.after-commit";
    public const string BeforeFreeze = "switchtraffic.before-freeze";

    public const string CompleteAfterIntent = "complete.after-intent";
    public const string CompleteAfterStreams = "complete.after-streams-deleted";
    public const string CompleteAfterTables = "complete.after-tables-dropped";
    public const string CompleteAfterGuards = "complete.after-guards-lifted";
    public const string CompleteAfterRules = "complete.after-rules-removed";

    private static readonly string[] Switches = ["SwitchTraffic", "ReverseTraffic"];
    private static readonly string[] Completes = ["Complete"];

    public static readonly IReadOnlyList<SwitchFaultPoint> All =
    [
        new(AfterIntent, "the record of intent is saved; nothing changed yet", Switches),
        new(AfterGuards, "the guards are armed on the side writes leave: writes are refused from here", Switches),
        new(AfterDrain, "in-flight writes drained, final positions read", Switches),
        new(AfterStopInbound, "the inbound streams stopped at the final positions", Switches),
        new(AfterReverseCreated, "the outbound (reverse) streams created", Switches),
        new(AfterRules, "the routing rules flipped (not committed: still rolled back)", Switches),
        new(AfterCommit, "committed: from here the switch only goes forward", Switches),
        new(BeforeFreeze, "writes open where they go, outbound streams started, inbound ones not yet frozen", Switches),
        new(CompleteAfterIntent, "Complete's record of intent is saved; nothing removed yet", Completes),
        new(CompleteAfterStreams, "the workflow's streams (frozen and reverse) deleted", Completes),
        new(CompleteAfterTables, "the source tables dropped (or renamed, or kept)", Completes),
        new(CompleteAfterGuards, "the write guards removed on both sides", Completes),
        new(CompleteAfterRules, "the routing rules removed; the workflow's records go next", Completes),
    ];
}
