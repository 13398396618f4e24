using System.Text.Json.Serialization;
using Durable.Core.Faults;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>The journal of a running Complete or Cancel: the request itself, so any process can run it to its end.</summary>
public sealed record CleanupJournal(
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("request")] CleanupRequest Request,
    [property: JsonPropertyName("holder")] string Holder,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt);

/// <summary>
/// Complete and Cancel as commands that survive their host: under a short lease of the keyspaces they change, with a
/// journal written first, so that when the host dies mid-way a live process (<see cref="InterruptedCommandRecovery"/>)
/// runs the same, idempotent steps to their end from the journal within seconds, instead of the workflow waiting for
/// the activity to be delivered again.
/// </summary>
public sealed class CleanupCommand(TopologyStore store, WorkflowRegistry registry, MoveTablesCleanup cleanup, MoveTablesSettings settings)
{
    public const string Complete = "Complete";
    public const string Cancel = "Cancel";

    /// <summary>Complete; returns the names of the steps it took (<see cref="CleanupPath"/>).</summary>
    public Task<IReadOnlyList<string>> CompleteAsync(CleanupRequest request, CancellationToken ct) => RunAsync(Complete, request, HolderName(request, Complete), ct);

    /// <summary>Cancel; returns the names of the steps it took (<see cref="CleanupPath"/>).</summary>
    public Task<IReadOnlyList<string>> CancelAsync(CleanupRequest request, CancellationToken ct) => RunAsync(Cancel, request, HolderName(request, Cancel), ct);

    /// <summary>Runs <paramref name="action"/> under its lease, with its journal saved first and ended last.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(string action, CleanupRequest request, string holder, CancellationToken ct)
    {
        var spec = request.State.Spec;
        await using var lease = await SwitchLease.AcquireAsync(store, KeyspacesOf(spec), holder, $"{action} {spec.TargetKeyspace}.{spec.Workflow}",
            settings.SwitchLeaseTtl, store.Options.LockTtl * 2, ct).ConfigureAwait(false);
        return await ResumeAsync(new CleanupJournal(action, request, holder, DateTimeOffset.UtcNow), lease, ct).ConfigureAwait(false);
    }

    /// <summary>Saves the journal (again: a process taking over rewrites it under its own lease), runs the steps, ends it.</summary>
    public async Task<IReadOnlyList<string>> ResumeAsync(CleanupJournal journal, SwitchLease lease, CancellationToken ct)
    {
        var spec = journal.Request.State.Spec;
        await registry.SaveCleanupJournalAsync(journal with { Holder = lease.Holder }, lease, ct).ConfigureAwait(false);
        IReadOnlyList<string> path;
        if (journal.Action == Complete)
        {
            FaultPoints.Hit(SwitchFaultPoints.CompleteAfterIntent);
            path = await cleanup.CompleteAsync(journal.Request, lease, ct).ConfigureAwait(false);
        }
        else
        {
            path = await cleanup.CancelAsync(journal.Request, lease, ct).ConfigureAwait(false);
        }

        await registry.EndCleanupJournalAsync(spec, lease, ct).ConfigureAwait(false);
        return path;
    }

    /// <summary>
    /// The command's dry run: the lock it would take and the steps <see cref="CleanupPath"/> would walk for this
    /// workflow's state and options, read from the cluster (table ownership) and changing nothing.
    /// </summary>
    public async Task<DryRunReport> DryRunAsync(string action, CleanupRequest request, CancellationToken ct)
    {
        var spec = request.State.Spec;
        var keyspaces = KeyspacesOf(spec);
        var dry = new CleanupDryRun(request.State, request.Options, new TableOwnershipStore(registry));
        var path = action == Complete
            ? await CleanupPath.CompleteAsync(dry, request.State, request.Options, ct).ConfigureAwait(false)
            : await CleanupPath.CancelAsync(dry, request.State, request.Options, ct).ConfigureAwait(false);
        string[] lines = [.. keyspaces.Select(k => $"Lock keyspace {k}"), .. dry.Lines, .. keyspaces.Reverse().Select(k => $"Unlock keyspace {k}")];
        return new DryRunReport(true, $"{action} would remove workflow {spec.TargetKeyspace}.{spec.Workflow}", lines, path);
    }

    /// <summary>
    /// The keyspaces a cleanup changes: both sides, except a Migrate's or a mounted source's, which is another
    /// cluster's (nothing of the workflow lives there, and its name is not a keyspace of this topology).
    /// </summary>
    public static IReadOnlyList<string> KeyspacesOf(MoveTablesCreate spec) =>
        spec.IsMigrate || spec.MountName is not null ? [spec.TargetKeyspace] : [spec.SourceKeyspace, spec.TargetKeyspace];

    private static string HolderName(CleanupRequest request, string action) =>
        $"{request.State.Spec.InstanceId}/{action}@{Environment.MachineName}:{Environment.ProcessId}";
}
