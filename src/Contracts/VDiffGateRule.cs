using System.Text.Json.Serialization;

namespace Durable.Contracts;

/// <summary>One table's differences in a VDiff: what a held command names.</summary>
public sealed record VDiffTableCounts(
    [property: JsonPropertyName("table")] string Table,
    [property: JsonPropertyName("mismatched_rows")] long MismatchedRows,
    [property: JsonPropertyName("extra_rows_source")] long ExtraRowsSource,
    [property: JsonPropertyName("extra_rows_target")] long ExtraRowsTarget);

/// <summary>
/// What the VDiff gate says about a workflow now (<c>vdiff_gate</c> in show, status and a refused command's answer):
/// whether SwitchTraffic/Complete may run, the VDiff that decided it (uuid and counts per table), why, and what would
/// release a hold.
/// </summary>
public sealed record VDiffGateVerdict
{
    /// <summary><see cref="VDiffGateRule.Held"/>, <see cref="VDiffGateRule.Clear"/> or <see cref="VDiffGateRule.NotApplicable"/>.</summary>
    [JsonPropertyName("state")] public string State { get; init; } = VDiffGateRule.Clear;

    /// <summary>"scheduled" (a VDiff schedule is on: a clean VDiff is needed) or "on differences" (only differences hold).</summary>
    [JsonPropertyName("rule")] public string Rule { get; init; } = "";

    /// <summary>The VDiff that decided (null: none counts).</summary>
    [JsonPropertyName("uuid")] public string? Uuid { get; init; }

    /// <summary>The workflow verified now (the forward one, or the reverse one after a write switch) and its keyspace.</summary>
    [JsonPropertyName("workflow")] public string? Workflow { get; init; }

    [JsonPropertyName("keyspace")] public string? Keyspace { get; init; }

    /// <summary>Differences per table of <see cref="Uuid"/> (empty when it was clean or none counts).</summary>
    [JsonPropertyName("counts")] public IReadOnlyList<VDiffTableCounts> Counts { get; init; } = [];

    [JsonPropertyName("reason")] public string Reason { get; init; } = "";

    /// <summary>What would release a hold (null when nothing is held).</summary>
    [JsonPropertyName("release")] public string? Release { get; init; }

    [JsonIgnore] public bool IsHeld => State == VDiffGateRule.Held;

    /// <summary>The whole verdict as one sentence: the refusal message of a held command.</summary>
    public string Describe(string action) => IsHeld ? $"{action} is held by VDiff: {Reason}. {Release}" : Reason;
}

/// <summary>
/// The VDiff gate, the one place its rule lives: SwitchTraffic and Complete of a workflow are held when
/// <list type="bullet">
/// <item>a VDiff schedule is on and the latest completed VDiff of the current direction newer than the last change of
/// direction (write switch) is not clean, or there is none;</item>
/// <item>no schedule is on and that latest completed VDiff found differences (a workflow that never ran one is not
/// held, as in Vitess).</item>
/// </list>
/// Operator-run and scheduled VDiffs count alike (the caller passes every one it knows of); a held command fails at
/// once naming the VDiff; <c>--ignore-vdiff</c> (audited) overrides. VDiffs that did not complete (running, stopped,
/// failed) neither hold nor release.
/// </summary>
public static class VDiffGateRule
{
    public const string Held = "held";
    public const string Clear = "clear";
    public const string NotApplicable = "not_applicable";

    /// <summary>The actions the gate applies to.</summary>
    public static bool Gates(string action) => action is WorkflowActions.SwitchTraffic or WorkflowActions.Complete;

    /// <summary>The workflow VDiff verifies now: the forward one, or after a write switch the reverse one (null: none carries the writes back).</summary>
    public static (string Workflow, string Keyspace)? Target(WorkflowState state) =>
        state.Traffic.Primary
            ? state.ReverseStreams.Count > 0 ? (state.Spec.ReverseWorkflow, state.Spec.SourceKeyspace) : null
            : (state.Spec.Workflow, state.Spec.TargetKeyspace);

    /// <summary>The gate's verdict for <paramref name="state"/>, given every VDiff known (the workflow's own and those read from the sidecars).</summary>
    public static VDiffGateVerdict Evaluate(WorkflowState state, IEnumerable<VDiffSummary?> known)
    {
        var scheduled = state.VDiff?.Enabled == true;
        var rule = scheduled ? "scheduled" : "on differences";
        if (Target(state) is not { } target)
        {
            return new VDiffGateVerdict
            {
                State = NotApplicable, Rule = rule,
                Reason = "writes are switched without reverse replication, so there is no stream VDiff could verify",
            };
        }

        var since = state.VDiff?.ValidSince ?? DateTime.MinValue;
        var latest = known
            .Where(s => s is not null && s.State == VDiffStates.Completed && s.Workflow == target.Workflow && s.Keyspace == target.Keyspace && s.StartedAt >= since)
            .OrderBy(s => s!.StartedAt).ThenBy(s => s!.At).LastOrDefault();
        var name = $"{target.Keyspace}.{target.Workflow}";
        var verdict = new VDiffGateVerdict { Rule = rule, Workflow = target.Workflow, Keyspace = target.Keyspace, Uuid = latest?.Uuid };
        var sinceText = state.Traffic.Primary || since > DateTime.MinValue ? $" since the last switch of writes ({since:u})" : "";
        if (latest is null)
        {
            return scheduled
                ? verdict with
                {
                    State = Held,
                    Reason = $"a VDiff schedule is on and no VDiff of {name} has completed{sinceText}",
                    Release = Release(target, "a VDiff of it that completes clean (the next scheduled one, or"),
                }
                : verdict with { State = Clear, Reason = $"no VDiff of {name} has completed{sinceText}; without a VDiff schedule only a VDiff that found differences holds" };
        }

        if (latest.IsClean)
        {
            return verdict with { State = Clear, Reason = latest.Describe() };
        }

        return verdict with
        {
            State = Held,
            Counts = latest.Tables.Where(t => t.MismatchedRows + t.ExtraRowsSource + t.ExtraRowsTarget > 0).ToList(),
            Reason = latest.Describe() + (latest.Tables.Count == 0 ? "" : " [" + string.Join("; ", latest.Tables.Select(t =>
                $"{t.Table}: {t.MismatchedRows} mismatched, {t.ExtraRowsSource} extra on the source, {t.ExtraRowsTarget} extra on the target")) + "]"),
            Release = Release(target, "a newer VDiff of it that completes clean (after repairing the rows, e.g. with VDiff create --repair; or"),
        };
    }

    private static string Release((string Workflow, string Keyspace) target, string what) =>
        $"Released by {what} `durablectl VDiff --target-keyspace {target.Keyspace} --workflow {target.Workflow} create`), " +
        "or by sending the command again with --ignore-vdiff (audited).";
}
