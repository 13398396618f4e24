namespace Durable.Workflows;

/// <summary>
/// What a SwitchTraffic / ReverseTraffic command moves from the traffic it finds: the read types still on the side it
/// leaves, whether writes move (then the reads move with them, in one flip of the rules), and the traffic it leads to.
/// Decided once, for the real command and its dry run alike.
/// </summary>
public sealed record SwitchScope(IReadOnlyList<string> Keyspaces, IReadOnlyList<string> ReadTypes, bool Writes, TrafficState ToTraffic, int Hooks)
{
    public static SwitchScope Of(WorkflowState state, SwitchOptions options, bool reverse)
    {
        var types = options.Types();
        var readTypes = types.Where(t => t != "PRIMARY" && state.Traffic.IsSwitched(t) == reverse).ToList();
        var writes = types.Contains("PRIMARY") && state.Traffic.Primary == reverse;
        var toTraffic = state.Traffic;
        foreach (var t in readTypes)
        {
            toTraffic = toTraffic.With(t, !reverse);
        }

        if (writes)
        {
            toTraffic = toTraffic with { Primary = !reverse };
        }

        return new SwitchScope(KeyspacesOf(state.Spec), readTypes, writes, toTraffic, state.Spec.CutoverHooks.Count) { Reverse = reverse };
    }

    /// <summary>True for ReverseTraffic (traffic goes back to the source).</summary>
    public bool Reverse { get; init; }

    /// <summary>The keyspaces a switch locks (both sides), in the order it locks them.</summary>
    public static IReadOnlyList<string> KeyspacesOf(MoveTablesCreate spec) => [spec.SourceKeyspace, spec.TargetKeyspace];
}
