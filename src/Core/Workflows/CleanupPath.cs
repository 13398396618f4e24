namespace Durable.Workflows;

/// <summary>
/// The order of Complete's and Cancel's steps, walked by the real command (<see cref="MoveTablesCleanup"/>) and its dry
/// run (<see cref="CleanupDryRun"/>) alike. Every step is idempotent, so a command a crash interrupted is run again from
/// the top (<see cref="CleanupCommand"/>). Returns the names of the steps taken.
/// </summary>
public static class CleanupPath
{
    /// <summary>After the switch: the source side goes (for Migrate, only this cluster's streams, guards and record).</summary>
    public static async Task<IReadOnlyList<string>> CompleteAsync(ICleaner c, WorkflowState state, CleanupOptions options, CancellationToken ct)
    {
        var spec = state.Spec;
        var path = new Steps();
        if (spec.IsMigrate)
        {
            // The source is another cluster's: its tables and data stay; there are no routing rules or reverse streams.
            await path.Take(nameof(c.DeleteStreamsAsync), () => c.DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct)).ConfigureAwait(false);
            await path.Take(nameof(c.LiftGuardsAsync), () => c.LiftGuardsAsync(spec.TargetKeyspace, GuardSide.Target, ct)).ConfigureAwait(false);
            await path.Take(nameof(c.DeleteSwitchJournalAsync), () => c.DeleteSwitchJournalAsync(ct)).ConfigureAwait(false);
            await path.Take(nameof(c.RemoveRecordAsync), () => c.RemoveRecordAsync(spec.TargetKeyspace, spec.Workflow, ct)).ConfigureAwait(false);
            return path.Names;
        }

        // Forward (frozen) and reverse streams go; the source guards go with the source tables (or stay on kept data).
        await path.Take(nameof(c.DeleteStreamsAsync), () => c.DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct)).ConfigureAwait(false);
        await path.Take(nameof(c.DeleteStreamsAsync), () => c.DeleteStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct)).ConfigureAwait(false);
        c.Reached(SwitchFaultPoints.CompleteAfterStreams);
        await path.Take(nameof(c.DropTablesAsync), () => c.DropTablesAsync(spec.SourceKeyspace, ct)).ConfigureAwait(false);
        c.Reached(SwitchFaultPoints.CompleteAfterTables);
        await path.Take(nameof(c.LiftGuardsAsync), () => c.LiftGuardsAsync(spec.SourceKeyspace, GuardSide.Source, ct)).ConfigureAwait(false);
        await path.Take(nameof(c.LiftGuardsAsync), () => c.LiftGuardsAsync(spec.TargetKeyspace, GuardSide.Target, ct)).ConfigureAwait(false);
        c.Reached(SwitchFaultPoints.CompleteAfterGuards);
        if (!options.KeepRoutingRules)
        {
            await path.Take(nameof(c.RemoveRoutingRulesAsync), () => c.RemoveRoutingRulesAsync(ct)).ConfigureAwait(false);
        }

        await path.Take(nameof(c.RemoveMirrorRulesAsync), () => c.RemoveMirrorRulesAsync(ct)).ConfigureAwait(false);
        c.Reached(SwitchFaultPoints.CompleteAfterRules);
        await path.Take(nameof(c.RemoveRecordAsync), () => c.RemoveRecordAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct)).ConfigureAwait(false);
        await path.Take(nameof(c.RemoveRecordAsync), () => c.RemoveRecordAsync(spec.TargetKeyspace, spec.Workflow, ct)).ConfigureAwait(false);
        return path.Names;
    }

    /// <summary>
    /// Before the write switch: the target side goes. A mounted source belongs to another cluster (or no cluster):
    /// nothing of this workflow lives there, so its side is left alone. Only the target tables the workflow created
    /// are dropped (<see cref="TableOwnership"/>); the ones it adopted stay.
    /// </summary>
    public static async Task<IReadOnlyList<string>> CancelAsync(ICleaner c, WorkflowState state, CleanupOptions options, CancellationToken ct)
    {
        var spec = state.Spec;
        var mounted = spec.MountName is not null;
        var path = new Steps();
        TableOwnership? ownership = null;
        await path.Take(nameof(c.ReadOwnershipAsync), async () => ownership = await c.ReadOwnershipAsync(ct).ConfigureAwait(false)).ConfigureAwait(false);
        await path.Take(nameof(c.DeleteStreamsAsync), () => c.DeleteStreamsAsync(spec.TargetKeyspace, spec.Workflow, ct)).ConfigureAwait(false);
        if (!mounted)
        {
            await path.Take(nameof(c.DeleteStreamsAsync), () => c.DeleteStreamsAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct)).ConfigureAwait(false);
        }

        await path.Take(nameof(c.RemoveTargetGuardsAndTablesAsync), () => c.RemoveTargetGuardsAndTablesAsync(ownership, ct)).ConfigureAwait(false);
        if (!mounted)
        {
            await path.Take(nameof(c.LiftGuardsAsync), () => c.LiftGuardsAsync(spec.SourceKeyspace, GuardSide.Source, ct)).ConfigureAwait(false);
            if (!options.KeepRoutingRules)
            {
                await path.Take(nameof(c.RemoveRoutingRulesAsync), () => c.RemoveRoutingRulesAsync(ct)).ConfigureAwait(false);
            }

            // Mirror rules are not routing rules: --keep-routing-rules keeps the routing, never a mirror of a workflow that is gone.
            await path.Take(nameof(c.RemoveMirrorRulesAsync), () => c.RemoveMirrorRulesAsync(ct)).ConfigureAwait(false);
        }

        await path.Take(nameof(c.DeleteSwitchJournalAsync), () => c.DeleteSwitchJournalAsync(ct)).ConfigureAwait(false);
        if (!mounted)
        {
            await path.Take(nameof(c.RemoveRecordAsync), () => c.RemoveRecordAsync(spec.SourceKeyspace, spec.ReverseWorkflow, ct)).ConfigureAwait(false);
        }

        await path.Take(nameof(c.RemoveRecordAsync), () => c.RemoveRecordAsync(spec.TargetKeyspace, spec.Workflow, ct)).ConfigureAwait(false);
        return path.Names;
    }

    /// <summary>The names of the steps taken, in order.</summary>
    private sealed class Steps
    {
        private readonly List<string> _names = [];

        public IReadOnlyList<string> Names => _names;

        public Task Take(string name, Func<Task> step)
        {
            _names.Add(name);
            return step();
        }
    }
}
