namespace Durable.Workflows;

/// <summary>
/// Complete's and Cancel's dry run: each step of <see cref="ICleaner"/> says what it would remove and changes nothing,
/// walked by the same <see cref="CleanupPath"/> as the real command. The table ownership record is read for real, so
/// the tables Cancel would drop are the ones it would drop.
/// </summary>
public sealed class CleanupDryRun(WorkflowState state, CleanupOptions options, TableOwnershipStore ownership) : ICleaner
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines => _lines;

    private MoveTablesCreate Spec => state.Spec;

    private static string List(IEnumerable<string> tables) => "[" + string.Join(" ", tables) + "]";

    public async Task<TableOwnership?> ReadOwnershipAsync(CancellationToken ct) =>
        await ownership.GetAsync(Spec.TargetKeyspace, Spec.Workflow, ct).ConfigureAwait(false);

    public Task DeleteStreamsAsync(string keyspace, string workflow, CancellationToken ct) =>
        Say($"Delete the streams of workflow {workflow} in keyspace {keyspace}");

    public Task DropTablesAsync(string keyspace, CancellationToken ct) => Say(TablesLine(keyspace, state.Tables));

    public Task LiftGuardsAsync(string keyspace, GuardSide side, CancellationToken ct) =>
        Say($"Remove the write guards (denied tables) on tables {List(state.Tables)} in keyspace {keyspace}");

    public Task RemoveTargetGuardsAndTablesAsync(TableOwnership? owned, CancellationToken ct)
    {
        _lines.Add($"Remove the write guards (denied tables) on tables {List(state.Tables)} in keyspace {Spec.TargetKeyspace}");
        // Without this workflow's ownership record the real command drops nothing (MoveTablesCleanup.OwnedTargetTables);
        // with it, everything but the shard tables the workflow adopted.
        var recorded = owned is not null && owned.InstanceId == Spec.InstanceId;
        var adopted = recorded ? owned!.Adopted.Where(a => state.Tables.Contains(a.Table)).ToList() : [];
        if (!recorded)
        {
            _lines.Add($"Keep the tables {List(state.Tables)} in keyspace {Spec.TargetKeyspace}: no record shows the workflow created them");
        }
        else
        {
            _lines.Add(TablesLine(Spec.TargetKeyspace, state.Tables) + (adopted.Count > 0 ? $", except where the workflow adopted them: {TableOwnership.Describe(adopted)}" : ""));
        }

        return Task.CompletedTask;
    }

    public Task RemoveRoutingRulesAsync(CancellationToken ct) => Say($"Remove the routing rules for tables {List(state.Tables)}");

    public Task RemoveMirrorRulesAsync(CancellationToken ct) => Say($"Remove the mirror rules for tables {List(state.Tables)}, if any");

    public Task DeleteSwitchJournalAsync(CancellationToken ct) => Say($"Remove the switch journal of workflow {Spec.TargetKeyspace}.{Spec.Workflow}, if any");

    public Task RemoveRecordAsync(string keyspace, string workflow, CancellationToken ct) => Say($"Remove workflow {workflow} from keyspace {keyspace}");

    public void Reached(string faultPoint)
    {
        // Fault points stop a real command between steps; a dry run has nothing to stop.
    }

    private string TablesLine(string keyspace, IReadOnlyList<string> tables) =>
        options.KeepData ? $"Keep the tables {List(tables)} in keyspace {keyspace} (--keep-data)"
        : options.RenameTables ? $"Rename the tables {List(tables)} in keyspace {keyspace} to _<table>_old"
        : $"Drop the tables {List(tables)} in keyspace {keyspace}";

    private Task Say(string line)
    {
        _lines.Add(line);
        return Task.CompletedTask;
    }
}
