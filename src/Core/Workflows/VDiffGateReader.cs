using Durable.VDiff;

namespace Durable.Workflows;

/// <summary>
/// The VDiff gate's verdict outside the orchestration (the HTTP API refusing a held command with 409, show and status
/// showing the hold): <see cref="VDiffGateRule"/> over the workflow's own last VDiff and the latest completed one in the
/// sidecars, exactly the inputs the orchestration's gate reads.
/// </summary>
public sealed class VDiffGateReader(VDiffService vdiff)
{
    public async Task<VDiffGateVerdict> VerdictAsync(WorkflowState state, CancellationToken ct)
    {
        VDiffSummary? stored = null;
        string? unreadable = null;
        if (!state.IsFinished && VDiffGateRule.Target(state) is { } target)
        {
            try
            {
                stored = await vdiff.LatestCompletedAsync(target.Workflow, target.Keyspace, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Shown, not thrown: the orchestration decides again when the command arrives.
                unreadable = e.Message;
            }
        }

        var verdict = VDiffGateRule.Evaluate(state, [state.VDiff?.Last, stored]);
        return unreadable is null ? verdict : verdict with { Reason = $"{verdict.Reason} (the sidecars' VDiffs could not be read: {unreadable})" };
    }
}
