namespace Durable.Workflows;

/// <summary>
/// The order of a traffic switch's steps and the decisions between them, walked by the real switch
/// (<see cref="Switcher"/>) and by its dry run (<see cref="SwitchDryRun"/>) alike: what one takes, the other lists.
/// The names of the steps taken come back in <see cref="SwitchResult.Path"/>, so a test can hold the two side by side.
/// </summary>
public static class SwitchPath
{
    public static async Task<SwitchResult> RunAsync(ISwitcher s, SwitchScope scope, SwitchOptions options, CancellationToken ct)
    {
        var path = new List<string>();
        var result = scope.Writes
            ? await WritesAsync(s, scope, options, path, ct).ConfigureAwait(false)
            : await ReadsAsync(s, scope, path, ct).ConfigureAwait(false);
        return result with { Path = path };
    }

    /// <summary>Reads alone: no write is refused, so there is no intent to record and nothing to roll back.</summary>
    private static async Task<SwitchResult> ReadsAsync(ISwitcher s, SwitchScope scope, List<string> path, CancellationToken ct)
    {
        if (scope.ReadTypes.Count == 0)
        {
            return s.Done("nothing to switch: the traffic already is where the command would take it", changed: false);
        }

        path.Add(nameof(ISwitcher.CheckReadStreamsAsync));
        if (await s.CheckReadStreamsAsync(ct).ConfigureAwait(false) is { } refusal)
        {
            return s.Refused($"{refusal}; reads were not switched");
        }

        if (!scope.Reverse)
        {
            path.Add(nameof(ISwitcher.RemoveMirrorRulesAsync));
            await s.RemoveMirrorRulesAsync(ct).ConfigureAwait(false);
        }

        path.Add(nameof(ISwitcher.SwitchReadsAsync));
        await s.SwitchReadsAsync(ct).ConfigureAwait(false);
        return s.Done("reads switched", changed: true);
    }

    /// <summary>
    /// Writes (with the reads the command moves): refusals and everything that can be done before writes are refused
    /// first; then the record of intent, guards and drain, the inbound streams to the final positions, the reverse
    /// streams, the rules and the hooks, the commit. A failure before the commit is rolled back; after it, the switch
    /// only goes forward (the failure propagates and the journal makes whoever ends it next finish it).
    /// </summary>
    private static async Task<SwitchResult> WritesAsync(ISwitcher s, SwitchScope scope, SwitchOptions options, List<string> path, CancellationToken ct)
    {
        const string nothingChanged = "no write was refused and nothing was changed";
        path.Add(nameof(ISwitcher.CheckStreamsAsync));
        if (await s.CheckStreamsAsync(ct).ConfigureAwait(false) is { } refusal)
        {
            return s.Refused($"{refusal}; {nothingChanged}");
        }

        if (options.EnableReverseReplication)
        {
            path.Add(nameof(ISwitcher.CheckReverseWorkflowAsync));
            if (await s.CheckReverseWorkflowAsync(ct).ConfigureAwait(false) is { } reverseProblem)
            {
                return s.Refused($"{reverseProblem}, so nothing was changed");
            }
        }

        path.Add(nameof(ISwitcher.CatchUpAsync));
        if (await s.CatchUpAsync(ct).ConfigureAwait(false) is { } stalled)
        {
            return s.Refused($"{stalled}; {nothingChanged}");
        }

        // Forward only, before the record of intent: the mirror stops copying reads before anything moves, and a
        // rollback has nothing to restore (MirrorTraffic runs before SwitchTraffic, as in Vitess).
        if (!scope.Reverse)
        {
            path.Add(nameof(ISwitcher.RemoveMirrorRulesAsync));
            await s.RemoveMirrorRulesAsync(ct).ConfigureAwait(false);
        }

        path.Add(nameof(ISwitcher.RecordIntentAsync));
        await s.RecordIntentAsync(ct).ConfigureAwait(false);
        try
        {
            if (options.EnableReverseReplication)
            {
                path.Add(nameof(ISwitcher.PrepareReverseWorkflowAsync));
                await s.PrepareReverseWorkflowAsync(ct).ConfigureAwait(false);
            }

            // After the record of intent, so that a crash leaves the journal that ends the hold; before the guards, so
            // that the gateways hold statements instead of sending them into refused writes.
            path.Add(nameof(ISwitcher.HoldTrafficAsync));
            await s.HoldTrafficAsync(ct).ConfigureAwait(false);
            path.Add(nameof(ISwitcher.ArmGuardsAsync));
            await s.ArmGuardsAsync(ct).ConfigureAwait(false);
            path.Add(nameof(ISwitcher.DrainAsync));
            await s.DrainAsync(ct).ConfigureAwait(false);
            path.Add(nameof(ISwitcher.WaitForStreamsAsync));
            if (await s.WaitForStreamsAsync(ct).ConfigureAwait(false) is { } late)
            {
                path.Add(nameof(ISwitcher.RollbackAsync));
                return await s.RollbackAsync($"{late}; the write guards were lifted and nothing was switched", null, ct).ConfigureAwait(false);
            }

            path.Add(nameof(ISwitcher.StopInboundAsync));
            await s.StopInboundAsync(ct).ConfigureAwait(false);
            if (options.InitializeTargetSequences && scope.ToTraffic.Primary)
            {
                path.Add(nameof(ISwitcher.InitializeSequencesAsync));
                await s.InitializeSequencesAsync(ct).ConfigureAwait(false);
            }

            if (options.EnableReverseReplication)
            {
                path.Add(nameof(ISwitcher.CreateReverseStreamsAsync));
                await s.CreateReverseStreamsAsync(ct).ConfigureAwait(false);
            }

            // The rules flip and the hooks run while the side writes go to is still guarded: until the commit no write
            // can land there, so a rollback never leaves rows there that the reverse streams it deletes would have had
            // to carry back. Its guards are lifted after the commit (FinishAsync).
            path.Add(nameof(ISwitcher.SwitchWritesAsync));
            await s.SwitchWritesAsync(ct).ConfigureAwait(false);
            if (scope.Hooks > 0)
            {
                path.Add(nameof(ISwitcher.CallHooksAsync));
                if (await s.CallHooksAsync(ct).ConfigureAwait(false) is { } hookError)
                {
                    path.Add(nameof(ISwitcher.RollbackAsync));
                    return await s.RollbackAsync($"cutover hook failed, the switch was rolled back: {hookError}", null, ct).ConfigureAwait(false);
                }
            }

            path.Add(nameof(ISwitcher.CommitAsync));
            await s.CommitAsync(ct).ConfigureAwait(false);
            path.Add(nameof(ISwitcher.FinishAsync));
            return await s.FinishAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not SwitchLeaseLostException && !s.Committed)
        {
            // A lost lease propagates: another process owns the journal now and ends the switch.
            path.Add(nameof(ISwitcher.RollbackAsync));
            return await s.RollbackAsync(null, e, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
