namespace Durable.Workflows;

/// <summary>
/// The named steps of Complete and Cancel. <see cref="CleanupPath"/> decides which are taken and in what order;
/// <see cref="MoveTablesCleanup"/> takes them on the cluster under the command's lease and <see cref="CleanupDryRun"/>
/// only says what each would do, so a dry run lists exactly what the command would remove.
/// </summary>
public interface ICleaner
{
    /// <summary>Which target tables the workflow created (Cancel drops only those); read before anything is removed.</summary>
    Task<TableOwnership?> ReadOwnershipAsync(CancellationToken ct);

    Task DeleteStreamsAsync(string keyspace, string workflow, CancellationToken ct);

    /// <summary>The moved tables of <paramref name="keyspace"/> dropped, renamed to <c>_&lt;table&gt;_old</c> or kept, as the options say.</summary>
    Task DropTablesAsync(string keyspace, CancellationToken ct);

    Task LiftGuardsAsync(string keyspace, GuardSide side, CancellationToken ct);

    /// <summary>Cancel: the target guards lifted and the target tables the workflow created dropped (or renamed, or kept).</summary>
    Task RemoveTargetGuardsAndTablesAsync(TableOwnership? ownership, CancellationToken ct);

    Task RemoveRoutingRulesAsync(CancellationToken ct);

    /// <summary>The workflow's mirror rules (MirrorTraffic) removed; none left is no error.</summary>
    Task RemoveMirrorRulesAsync(CancellationToken ct);

    /// <summary>A switch journal left behind (a Cancel after a switch that never ended) goes with the workflow.</summary>
    Task DeleteSwitchJournalAsync(CancellationToken ct);

    Task RemoveRecordAsync(string keyspace, string workflow, CancellationToken ct);

    /// <summary>A named point between steps, where the crash tests stop a host (<see cref="SwitchFaultPoints"/>); nothing in a dry run.</summary>
    void Reached(string faultPoint);
}
