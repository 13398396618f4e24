namespace Durable.Workflows;

/// <summary>
/// Which command is allowed in which state, as the seeds say: switch only after the copy; complete only after all
/// traffic is switched; cancel not after writes are switched; reverse only what was switched. The HTTP API checks
/// these first (so a bad command fails at once and changes nothing) and the orchestration checks them again.
/// </summary>
public static class CommandRules
{
    public static void Check(WorkflowState state, WorkflowCommand command)
    {
        var action = WorkflowActions.Normalize(command.Action);
        var name = $"{state.Spec.TargetKeyspace}.{state.Spec.Workflow}";
        if (state.IsFinished)
        {
            throw new WorkflowStateException($"Workflow {name} is {state.Phase}; it takes no more commands.");
        }

        if (action is WorkflowActions.VDiffOverride or WorkflowActions.VDiffSchedule)
        {
            CheckVDiff(state, command, action, name);
            return;
        }

        if (state.Spec.IsMigrate)
        {
            CheckMigrate(state, command, action, name);
            return;
        }

        if (state.Spec.MountName is { } mount && action is WorkflowActions.SwitchTraffic or WorkflowActions.ReverseTraffic or WorkflowActions.MirrorTraffic)
        {
            // A source read through a mount is outside this topology: no routing rule here can name it, and a reverse
            // stream in its sidecar would never run (the Streamer runs the streams of this topology's primaries). The fix
            // is the Vitess way of adopting a server: make it a keyspace of this topology and move from that keyspace.
            var source = state.Spec.SourceKeyspace;
            throw new WorkflowStateException(
                $"{action} is not possible for {name}: its source keyspace {source} is outside this cluster's topology (mount {mount}), " +
                "so no routing rule can name it and no reverse stream could run there. " +
                $"Fix: register the server as a keyspace of this topology with `durablectl RegisterExternalSource --name {mount} --as-keyspace` " +
                $"(keyspace {source}: one PRIMARY tablet with the source's address and account; a mounted vitess cluster cannot be adopted this way), " +
                $"cancel this workflow (`durablectl MoveTables --workflow {state.Spec.Workflow} --target-keyspace {state.Spec.TargetKeyspace} cancel`), " +
                $"and create it again with --source-keyspace {source} and no --mount-name; that workflow can switch and reverse traffic.");
        }

        switch (action)
        {
            case WorkflowActions.SwitchTraffic:
            {
                var options = command.Switch ?? new SwitchOptions();
                options.Validate();
                if (!state.CopyDone || state.Phase is Phases.Copying or Phases.PreFlight or Phases.Creating)
                {
                    throw new WorkflowStateException($"Cannot switch traffic of {name}: the copy has not finished ({Progress(state)}).");
                }

                var types = options.Types();
                if (types.All(state.Traffic.IsSwitched))
                {
                    throw new WorkflowStateException($"Cannot switch traffic of {name}: {string.Join(",", types)} traffic is already switched ({state.Traffic}).");
                }

                if (types.Contains("PRIMARY") && !state.Traffic.Primary && state.Phase == Phases.Stopped)
                {
                    throw new WorkflowStateException($"Cannot switch writes of {name}: its streams are stopped; start the workflow first.");
                }

                break;
            }

            case WorkflowActions.ReverseTraffic:
            {
                var options = command.Switch ?? new SwitchOptions();
                options.Validate();
                var types = options.Types();
                if (!types.Any(state.Traffic.IsSwitched))
                {
                    throw new WorkflowStateException($"Cannot reverse traffic of {name}: no {string.Join(",", types)} traffic has been switched ({state.Traffic}).");
                }

                if (types.Contains("PRIMARY") && state.Traffic.Primary && state.ReverseStreams.Count == 0)
                {
                    throw new WorkflowStateException($"Cannot reverse writes of {name}: it was switched with --enable-reverse-replication=false, so no reverse workflow carries the target's writes back.");
                }

                break;
            }

            case WorkflowActions.Complete:
                if (!state.Traffic.AllSwitched)
                {
                    throw new WorkflowStateException($"Cannot complete {name}: not all traffic is switched ({state.Traffic}); run SwitchTraffic first.");
                }

                if (command.Cleanup is { KeepData: true, RenameTables: true })
                {
                    throw new WorkflowValidationException("Give --keep-data or --rename-tables, not both.");
                }

                break;
            case WorkflowActions.Cancel:
                if (state.Traffic.Primary)
                {
                    throw new WorkflowStateException($"Cannot cancel {name}: writes are switched ({state.Traffic}); run ReverseTraffic first, or Complete.");
                }

                if (command.Cleanup is { KeepData: true, RenameTables: true })
                {
                    throw new WorkflowValidationException("Give --keep-data or --rename-tables, not both.");
                }

                break;
            case WorkflowActions.Start:
            case WorkflowActions.Stop:
                if (state.Phase is Phases.PreFlight or Phases.Creating)
                {
                    throw new WorkflowStateException($"Workflow {name} is still being created.");
                }

                if (action == WorkflowActions.Start && state.Traffic.Primary)
                {
                    throw new WorkflowStateException($"Workflow {name} has its writes switched: its forward streams are frozen; the reverse workflow runs.");
                }

                break;
            case WorkflowActions.Approve:
                if (command.Approval is null)
                {
                    throw new WorkflowValidationException("An Approve command needs a signed \"approval\" {instance_id, action, generation, approver, nonce, expires_at, signature} (docs/approvals.md).");
                }

                break;
            case WorkflowActions.MirrorTraffic:
                CheckMirror(state, command, name);
                break;
        }
    }

    /// <summary>
    /// MirrorTraffic, as Vitess allows it: a percent from 0 to 100, and only while all traffic is still on the source
    /// (mirroring sends copies of source reads to the target; once anything is switched the rules would mirror nothing
    /// the target does not already serve, and SwitchTraffic has removed them).
    /// </summary>
    private static void CheckMirror(WorkflowState state, WorkflowCommand command, string name)
    {
        var options = command.Mirror ?? throw new WorkflowValidationException(
            $"MirrorTraffic of {name} needs \"mirror\": {{\"percent\": P, \"tablet_types\": [...]}} (the CLI's --percent and --tablet-types).");
        options.Validate();
        if (!state.Traffic.NoneSwitched)
        {
            throw new WorkflowStateException(
                $"Cannot mirror traffic of {name}: traffic is already switched ({state.Traffic}). MirrorTraffic runs before SwitchTraffic, " +
                "while reads and writes are still on the source; run ReverseTraffic first to mirror again.");
        }
    }

    /// <summary>
    /// Migrate copies from another cluster: no routing rules, no traffic to switch, no reverse stream (that would need
    /// streams in the source cluster's sidecar, which belongs to that cluster). Complete once the copy is done; Cancel
    /// any time; Start/Stop/Approve as MoveTables.
    /// </summary>
    private static void CheckMigrate(WorkflowState state, WorkflowCommand command, string action, string name)
    {
        switch (action)
        {
            case WorkflowActions.SwitchTraffic:
            case WorkflowActions.ReverseTraffic:
            case WorkflowActions.MirrorTraffic:
                throw new WorkflowStateException(
                    $"{action} is not available for Migrate workflow {name}: the source is a separate, mounted cluster, so switching traffic is not meaningful " +
                    "and would need reverse replication streams in the source cluster's sidecar database, which belongs to that cluster. " +
                    "Stop the application's writes to the source, check with VDiff, run Migrate complete, then point the application at the target.");
            case WorkflowActions.Complete:
                if (!state.CopyDone || state.Phase is Phases.Copying or Phases.PreFlight or Phases.Creating)
                {
                    throw new WorkflowStateException($"Cannot complete Migrate workflow {name}: the copy has not finished ({Progress(state)}).");
                }

                if (command.Cleanup is { RenameTables: true })
                {
                    throw new WorkflowValidationException("Migrate complete keeps the source tables in place (they are another cluster's): --rename-tables does not apply.");
                }

                break;
            case WorkflowActions.Cancel:
                if (command.Cleanup is { KeepData: true, RenameTables: true })
                {
                    throw new WorkflowValidationException("Give --keep-data or --rename-tables, not both.");
                }

                break;
            case WorkflowActions.Start:
            case WorkflowActions.Stop:
                if (state.Phase is Phases.PreFlight or Phases.Creating)
                {
                    throw new WorkflowStateException($"Workflow {name} is still being created.");
                }

                break;
            case WorkflowActions.Approve:
                if (command.Approval is null)
                {
                    throw new WorkflowValidationException("An Approve command needs a signed \"approval\" {instance_id, action, generation, approver, nonce, expires_at, signature} (docs/approvals.md).");
                }

                break;
        }
    }

    /// <summary>The VDiff interval a VDiffSchedule command asks for: null for "off" (<see cref="VDiffIntervals.Parse"/>).</summary>
    public static TimeSpan? VDiffInterval(string? text) => VDiffIntervals.Parse(text);

    private static void CheckVDiff(WorkflowState state, WorkflowCommand command, string action, string name)
    {
        if (action == WorkflowActions.VDiffOverride)
        {
            // Retired: nothing waits for a VDiff any more, so there is nothing to release.
            throw new WorkflowValidationException(
                $"VDiffOverride is retired: a SwitchTraffic or Complete of {name} that the VDiff gate holds is refused at once and does not wait; " +
                "send it again with --ignore-vdiff <reason> (HTTP: \"ignore_vdiff\": true, \"reason\": ...), which is audited.");
        }

        if (state.Spec.IsMigrate)
        {
            throw new WorkflowValidationException($"VDiffSchedule is not available for Migrate workflow {name}: a Migrate runs VDiff when you ask for it (durablectl VDiff ... create).");
        }

        // Validates the interval (a duration such as 30m or 1h, or off) before anything is sent.
        _ = VDiffInterval(command.VDiffInterval);
    }

    public static string Progress(WorkflowState state) =>
        state.Copy.Count == 0 ? "nothing copied yet" : string.Join(", ", state.Copy.Select(t => $"{t.Table} {t.RowsCopied}/{t.RowsTotal}"));
}
