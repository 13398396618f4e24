namespace Durable.Workflows;

/// <summary>
/// The named steps of SwitchTraffic / ReverseTraffic. <see cref="SwitchPath"/> decides which are taken and in what
/// order; <see cref="Switcher"/> takes them on the cluster and <see cref="SwitchDryRun"/> only says what each would do,
/// so a dry run lists exactly the steps the real command takes (Vitess's switcher and dry-run switcher share one
/// interface for the same reason). A check returns why the command is refused (null: it may go on).
/// </summary>
public interface ISwitcher
{
    /// <summary>Reads alone onto a side whose inbound streams must serve them: refused while they are unhealthy.</summary>
    Task<string?> CheckReadStreamsAsync(CancellationToken ct);

    /// <summary>
    /// The workflow's mirror rules removed (MirrorTraffic mirrors source reads only until traffic moves; a refused switch
    /// keeps them). Idempotent: none left is no error.
    /// </summary>
    Task RemoveMirrorRulesAsync(CancellationToken ct);

    /// <summary>The routing rules flipped for the tablet types the command switches (reads only, no write refused).</summary>
    Task SwitchReadsAsync(CancellationToken ct);

    /// <summary>The inbound streams are Running and within --max-replication-lag-allowed.</summary>
    Task<string?> CheckStreamsAsync(CancellationToken ct);

    /// <summary>The reverse workflow's streams can be created (specs built and checked now, before anything changes).</summary>
    Task<string?> CheckReverseWorkflowAsync(CancellationToken ct);

    /// <summary>The inbound streams brought close to the source before the guards (not reaching the goal is no refusal; a stall is).</summary>
    Task<string?> CatchUpAsync(CancellationToken ct);

    /// <summary>The record of intent (the journal): from here a failure is rolled back, by this process or another.</summary>
    Task RecordIntentAsync(CancellationToken ct);

    /// <summary>The outbound workflow's old (frozen) streams removed and the workflow registered.</summary>
    Task PrepareReverseWorkflowAsync(CancellationToken ct);

    /// <summary>
    /// The gateways told to hold new statements on the moving tables (the hold saved in the journal with the announce),
    /// and their acknowledgements awaited within a bound: from here a gateway's clients wait instead of meeting the guards.
    /// </summary>
    Task HoldTrafficAsync(CancellationToken ct);

    /// <summary>Write guards armed where writes leave: writes are refused from here.</summary>
    Task ArmGuardsAsync(CancellationToken ct);

    /// <summary>In-flight writes drained and the final positions read.</summary>
    Task DrainAsync(CancellationToken ct);

    /// <summary>The inbound streams reach the final positions within --timeout; returns why not (null: they did).</summary>
    Task<string?> WaitForStreamsAsync(CancellationToken ct);

    Task StopInboundAsync(CancellationToken ct);

    /// <summary>
    /// --initialize-target-sequences, on a switch of writes to the target: each sequence of the moved tables set above
    /// the largest value of its column on every target shard (the streams are stopped at the final positions: no row is missing).
    /// </summary>
    Task InitializeSequencesAsync(CancellationToken ct);

    Task CreateReverseStreamsAsync(CancellationToken ct);

    /// <summary>The routing rules flipped: writes, and the reads the command moves, in one write.</summary>
    Task SwitchWritesAsync(CancellationToken ct);

    /// <summary>The cutover hooks called with the new routing; returns the first failure (null: none).</summary>
    Task<string?> CallHooksAsync(CancellationToken ct);

    /// <summary>The commit point: from here the switch only goes forward.</summary>
    Task CommitAsync(CancellationToken ct);

    /// <summary>True once <see cref="CommitAsync"/> has saved the commit.</summary>
    bool Committed { get; }

    /// <summary>Writes opened where they go, the reverse streams started, the inbound streams frozen; the answer.</summary>
    Task<SwitchResult> FinishAsync(CancellationToken ct);

    /// <summary>An attempt that did not commit, rolled back; the answer says why: <paramref name="reason"/>, or the failure <paramref name="cause"/>.</summary>
    Task<SwitchResult> RollbackAsync(string? reason, Exception? cause, CancellationToken ct);

    /// <summary>The answer to a command refused before anything changed.</summary>
    SwitchResult Refused(string reason);

    /// <summary>The answer to a command that needed no change, or switched reads only.</summary>
    SwitchResult Done(string message, bool changed);
}
