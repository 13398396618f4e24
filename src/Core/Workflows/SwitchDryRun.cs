namespace Durable.Workflows;

/// <summary>
/// The dry-run switcher: each step of <see cref="ISwitcher"/> says what it would do, in the seeds' dry-run style, and
/// changes nothing. Walked by the same <see cref="SwitchPath"/> as the real switch, so the lines are the steps the real
/// command takes for the same state and flags. The checks that only read (stream health and lag) are run for real
/// when a <see cref="StreamCatchUp"/> is given, so a dry run of a switch the streams would refuse says so.
/// </summary>
public sealed class SwitchDryRun(
    WorkflowState state, SwitchOptions options, bool reverse, SwitchScope scope, TimeSpan catchUpGoal, StreamCatchUp? checks = null, TimeSpan? gatewayAckBound = null)
    : ISwitcher
{
    private readonly SwitchDirection _d = SwitchDirection.Of(state.Spec, reverse);
    private readonly List<string> _lines = [];

    /// <summary>How long a check waits for streams that have not reported yet (the real switch waits up to --timeout).</summary>
    private TimeSpan ReportWait => TimeSpan.FromSeconds(Math.Min(options.TimeoutSeconds, 5));

    /// <summary>What the command would do, one line per action.</summary>
    public IReadOnlyList<string> Lines => _lines;

    private string Tables => "[" + string.Join(" ", state.Tables) + "]";

    private IReadOnlyList<StreamRef> Inbound => reverse ? state.ReverseStreams : state.Streams;

    public bool Committed { get; private set; }

    public async Task<string?> CheckReadStreamsAsync(CancellationToken ct)
    {
        if (state.Traffic.Primary != reverse)
        {
            return null; // reads go where writes are: no stream serves them
        }

        return await CheckAsync($"Check that the streams of workflow {_d.Inbound} are Running with lag at most {options.MaxReplicationLagAllowedSeconds}s (they serve the switched reads)", ct).ConfigureAwait(false);
    }

    public Task RemoveMirrorRulesAsync(CancellationToken ct) =>
        Say($"Remove the mirror rules (MirrorTraffic) from tables {Tables} of keyspace {state.Spec.SourceKeyspace} to keyspace {state.Spec.TargetKeyspace}, if any");

    public Task SwitchReadsAsync(CancellationToken ct)
    {
        _lines.Add($"Switch reads for tables {Tables} to keyspace {_d.To} for tablet types [{string.Join(" ", scope.ReadTypes)}]");
        _lines.Add($"Routing rules for tables {Tables} will be updated");
        return Task.CompletedTask;
    }

    public Task<string?> CheckStreamsAsync(CancellationToken ct) =>
        CheckAsync($"Check that the lag of workflow {_d.Inbound} is at most {options.MaxReplicationLagAllowedSeconds}s and its streams are Running", ct);

    public Task<string?> CheckReverseWorkflowAsync(CancellationToken ct) =>
        Say($"Check that reverse replication workflow {_d.Outbound} can be created from keyspace {_d.To}");

    public Task<string?> CatchUpAsync(CancellationToken ct) =>
        Say($"Wait until the streams of workflow {_d.Inbound} follow keyspace {_d.From} within {catchUpGoal.TotalSeconds:0.#}s (then go on regardless; a stalled stream refuses the switch)");

    public Task RecordIntentAsync(CancellationToken ct) =>
        Say("Record the switch in the workflow's journal: a failure from here is rolled back, by this host or, if it dies, by another");

    public Task PrepareReverseWorkflowAsync(CancellationToken ct) =>
        Say($"Remove the frozen streams of an earlier reverse workflow {_d.Outbound} in keyspace {_d.From} and register it");

    public Task HoldTrafficAsync(CancellationToken ct) =>
        Say($"Tell the gateways to hold new statements on tables {Tables} and wait up to {(gatewayAckBound ?? new MoveTablesSettings().GatewayAckBound).TotalSeconds:0.#}s " +
            "for every registered gateway to acknowledge (one that does not is named, and the switch goes on)");

    public Task ArmGuardsAsync(CancellationToken ct) =>
        Say($"Arm write guards on tables {Tables} in keyspace {_d.From} (writes fail naming workflow {state.Spec.TargetKeyspace}.{state.Spec.Workflow})");

    public Task DrainAsync(CancellationToken ct)
    {
        _lines.Add($"Drain in-flight writes: LOCK TABLES {string.Join(", ", state.Tables.Select(t => t + " READ"))} in keyspace {_d.From} (lock wait {options.LockWaitSeconds}s)");
        _lines.Add($"Read the final position from the primaries of keyspace {_d.From}");
        return Task.CompletedTask;
    }

    public Task<string?> WaitForStreamsAsync(CancellationToken ct) =>
        Say($"Wait up to {options.TimeoutSeconds}s for the streams of workflow {_d.Inbound} to reach it, else lift the guards and fail");

    public Task StopInboundAsync(CancellationToken ct) => Say($"Stop the streams of workflow {_d.Inbound}");

    public Task InitializeSequencesAsync(CancellationToken ct) =>
        Say($"Set each sequence named in the VSchema of keyspace {_d.To} for tables {Tables} above the largest value of its column on every shard of keyspace {_d.To}");

    public Task CreateReverseStreamsAsync(CancellationToken ct) =>
        Say($"Create reverse replication workflow {_d.Outbound} in keyspace {_d.From} at the position of the primaries of keyspace {_d.To}");

    public Task SwitchWritesAsync(CancellationToken ct)
    {
        if (scope.ReadTypes.Count > 0)
        {
            _lines.Add($"Switch reads for tables {Tables} to keyspace {_d.To} for tablet types [{string.Join(" ", scope.ReadTypes)}], with the writes");
        }

        _lines.Add($"Switch writes for tables {Tables} to keyspace {_d.To}; routing rules will be updated");
        return Task.CompletedTask;
    }

    public Task<string?> CallHooksAsync(CancellationToken ct) =>
        Say($"Call {scope.Hooks} cutover hook(s) with the new routing; a failure rolls the switch back");

    public Task CommitAsync(CancellationToken ct)
    {
        Committed = true;
        return Say("Commit the switch in the journal: from here it only goes forward");
    }

    /// <summary>The three steps of <see cref="WriteSwitchRecovery.FinishAsync"/>, in its order.</summary>
    public Task<SwitchResult> FinishAsync(CancellationToken ct)
    {
        _lines.Add($"Lift write guards on tables {Tables} in keyspace {_d.To}");
        _lines.Add($"End the gateways' hold: they release what they hold onto the new routing");
        if (options.EnableReverseReplication)
        {
            _lines.Add($"Start the streams of workflow {_d.Outbound}");
        }

        _lines.Add($"Freeze the streams of workflow {_d.Inbound}");
        return Task.FromResult(Done("writes switched", changed: true));
    }

    public Task<SwitchResult> RollbackAsync(string? reason, Exception? cause, CancellationToken ct) =>
        Task.FromResult(Refused(reason ?? cause?.Message ?? "rolled back"));

    public SwitchResult Refused(string reason) =>
        new(false, $"{reason}. Traffic is unchanged: {state.Traffic}", state.Traffic, state.Streams, state.ReverseStreams);

    public SwitchResult Done(string message, bool changed)
    {
        if (!changed)
        {
            _lines.Add("Nothing to switch: the traffic already is where the command would take it");
        }

        return new SwitchResult(true, message, changed ? scope.ToTraffic : state.Traffic, state.Streams, state.ReverseStreams);
    }

    private Task<string?> Say(string line)
    {
        _lines.Add(line);
        return Task.FromResult<string?>(null);
    }

    /// <summary>A check: run for real when it only reads, and its refusal noted on its line.</summary>
    private async Task<string?> CheckAsync(string line, CancellationToken ct)
    {
        var refusal = checks is null
            ? null
            : await checks.RefusalAsync(Inbound, _d.Inbound, options.MaxReplicationLagAllowedSeconds, ReportWait, ct).ConfigureAwait(false);
        _lines.Add(refusal is null ? line : $"{line}: REFUSED, {refusal}");
        return refusal;
    }
}
