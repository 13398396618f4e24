using Durable.Replication;
using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// The MoveTables side effects on the real cluster: topology in etcd, tablets over the MySQL protocol, streams through
/// the replication engine (the Streamer runs Running streams). Every method is idempotent. Each activity's work is done
/// by the class named for it (<see cref="MoveTablesPreflight"/>, <see cref="MoveTablesCreation"/>,
/// <see cref="MoveTablesCopy"/>, <see cref="TrafficSwitch"/>, <see cref="MoveTablesCleanup"/>); this builds them and
/// hands each call on.
/// </summary>
public sealed class ClusterMoveTablesOperations : IMoveTablesOperations
{
    private readonly ApprovalVerifier _approvals;
    private readonly MoveTablesPreflight _preflight;
    private readonly MoveTablesCreation _creation;
    private readonly MoveTablesCopy _copy;
    private readonly TrafficSwitch _switch;
    private readonly CleanupCommand _cleanup;

    public ClusterMoveTablesOperations(
        TopologyStore store, ReplicationEngine engine, ApprovalVerifier approvals, MoveTablesSettings settings, HttpClient http, ILogger logger)
    {
        Registry = new WorkflowRegistry(store);
        Guards = new WriteGuards(settings.ExemptUsers.Count > 0 ? settings.ExemptUsers : [engine.Connector.Credentials.User]);
        _approvals = approvals;
        Settings = settings;
        var shards = new KeyspaceShards(store, engine);
        var planner = new StreamPlanner(store, engine);
        var rules = new TrafficRules(store);
        var holds = new GatewayHolds(store, Registry, settings.GatewayAckBound, logger);
        var recovery = new WriteSwitchRecovery(engine, Registry, Guards, shards, rules, holds, logger);
        var catchUp = new StreamCatchUp(engine, settings.CatchUpGoal);
        var switcher = new Switcher(engine, Registry, Guards, shards, planner, rules, catchUp, new CutoverHookCaller(store, http), recovery, holds, logger);
        _preflight = new MoveTablesPreflight(store, engine, Registry, shards, planner, settings);
        _copy = new MoveTablesCopy(engine, shards, settings);
        _creation = new MoveTablesCreation(store, engine, Registry, Guards, shards, planner, _copy);
        _switch = new TrafficSwitch(store, Registry, shards, rules, catchUp, switcher, recovery, settings, logger);
        _cleanup = new CleanupCommand(store, Registry, new MoveTablesCleanup(store, engine, Registry, shards), settings);
        Recovery = new InterruptedCommandRecovery(store, Registry, recovery, _cleanup, settings, logger);
    }

    public WorkflowRegistry Registry { get; }

    /// <summary>Complete and Cancel under their lease and journal (the activities call them through <see cref="CompleteAsync"/>, <see cref="CancelAsync"/>).</summary>
    public CleanupCommand Cleanup => _cleanup;

    public WriteGuards Guards { get; }

    /// <summary>The sweep every host and Streamer runs to end the traffic commands of dead holders.</summary>
    public InterruptedCommandRecovery Recovery { get; }

    /// <summary>The settings the operations run with (copy budget, exempt accounts, the write switch's catch-up goal).</summary>
    public MoveTablesSettings Settings { get; }

    public Task<PreflightResult> PreflightAsync(MoveTablesCreate spec, CancellationToken ct) => _preflight.PreflightAsync(spec, ct);

    public Task<CreateResult> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct) => _creation.CreateAsync(spec, tables, ct);

    public Task<CopyChunkResult> CopyChunkAsync(MoveTablesCreate spec, StreamRef stream, CancellationToken ct) => _copy.CopyChunkAsync(spec, stream, ct);

    public Task<ProgressResult> ProgressAsync(WorkflowState state, CancellationToken ct) => _copy.ProgressAsync(state, ct);

    public Task SetStreamsAsync(StreamsRequest request, CancellationToken ct) => _copy.SetStreamsAsync(request, ct);

    public Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct) => _switch.SwitchAsync(request, ct);

    /// <summary>SwitchTraffic / ReverseTraffic <c>--dry-run</c>: the steps the command would take now, changing nothing.</summary>
    public Task<DryRunReport> DryRunSwitchAsync(WorkflowState state, SwitchOptions options, bool reverse, CancellationToken ct) =>
        _switch.DryRunAsync(state, options, reverse, ct);

    /// <summary>Complete / Cancel <c>--dry-run</c>: what the command would remove now, changing nothing.</summary>
    public Task<DryRunReport> DryRunCleanupAsync(string action, CleanupRequest request, CancellationToken ct) => _cleanup.DryRunAsync(action, request, ct);

    public Task CompleteAsync(CleanupRequest request, CancellationToken ct) => _cleanup.CompleteAsync(request, ct);

    public Task CancelAsync(CleanupRequest request, CancellationToken ct) => _cleanup.CancelAsync(request, ct);

    public Task<ApprovalVerdict> VerifyApprovalAsync(VerifyApprovalRequest request, CancellationToken ct) =>
        _approvals.VerifyAsync(request, ct);
}
