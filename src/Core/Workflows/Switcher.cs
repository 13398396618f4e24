using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.MySql.Flavors;
using Durable.MySql.Sql;
using Durable.Replication;
using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Workflows;

/// <summary>
/// The traffic switch on the cluster: each step of <see cref="ISwitcher"/> taken for real, in the order
/// <see cref="SwitchPath"/> walks them. For a write switch the journal is saved after each step, each save and each step
/// that changes MySQL checked against the switch's lease (<see cref="SwitchLease"/>), so an attempt that fails before the
/// commit is rolled back and one after it rolled forward (<see cref="WriteSwitchRecovery"/>), by this process or, when
/// it dies, by any live one (<see cref="InterruptedCommandRecovery"/>).
/// </summary>
public sealed class Switcher(
    ReplicationEngine engine, WorkflowRegistry registry, WriteGuards guards, KeyspaceShards shards, StreamPlanner planner, TrafficRules rules,
    StreamCatchUp catchUp, CutoverHookCaller hooks, WriteSwitchRecovery recovery, GatewayHolds holds, ILogger logger)
{
    // The services, for the attempts (a nested class cannot see the primary constructor's parameters).
    private ReplicationEngine Engine => engine;

    private WorkflowRegistry Registry => registry;

    private WriteGuards Guards => guards;

    private KeyspaceShards Shards => shards;

    private StreamPlanner Planner => planner;

    private TrafficRules Rules => rules;

    private StreamCatchUp CatchUp => catchUp;

    private CutoverHookCaller Hooks => hooks;

    private WriteSwitchRecovery Recovery => recovery;

    private ILogger Logger => logger;

    private GatewayHolds Holds => holds;

    private TargetSequenceInitialization Sequences { get; } = new(new WorkflowSequences(registry.Store, engine, shards), engine, shards);

    /// <summary>How long the switch tries to get the streams within <see cref="StreamCatchUp.Goal"/> before it goes on anyway.</summary>
    private const double CatchUpBudgetSeconds = 15;

    /// <summary>Checks a reverse stream needs: the side writes go to already holds the rows and may reference unmoved tables.</summary>
    private static readonly PreflightOptions ReverseStreamChecks = new() { AllowNonEmptyTargetTables = true, AllowForeignKeysToUnmovedTables = true };

    /// <summary>
    /// Switches what <paramref name="scope"/> moves from the traffic of <paramref name="state"/>: reads alone by the
    /// rules, or writes with the reads the command moves in the same flip of the rules. Refused, with nothing changed
    /// and no write refused, while a stream is not Running, lags over --max-replication-lag-allowed or has stalled; a
    /// failure before the commit restores everything.
    /// </summary>
    public async Task<SwitchResult> SwitchAsync(
        WorkflowState state, SwitchOptions options, bool reverse, string intentId, SwitchScope scope, SwitchLease lease, CancellationToken ct)
    {
        await using var attempt = new Attempt(this, state, options, reverse, intentId, scope, lease);
        return await SwitchPath.RunAsync(attempt, scope, options, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// One attempt at a switch: what its steps share (one connection per primary of both sides for the whole switch,
    /// the reverse streams' specs, the final positions) and its journal as far as it got.
    /// </summary>
    private sealed class Attempt(Switcher owner, WorkflowState state, SwitchOptions options, bool reverse, string intentId, SwitchScope scope, SwitchLease lease)
        : ISwitcher, IAsyncDisposable
    {
        private readonly SwitchDirection _d = SwitchDirection.Of(state.Spec, reverse);
        private readonly SwitchTimings _timings = new();
        private SidePrimaries? _from;
        private SidePrimaries? _to;
        private IReadOnlyList<StreamSpec> _outboundSpecs = [];
        private Dictionary<string, string> _finals = [];
        private Dictionary<string, string> _outboundPositions = [];
        private SwitchJournal? _journal;

        private MoveTablesCreate Spec => state.Spec;

        private IReadOnlyList<StreamRef> Inbound => reverse ? state.ReverseStreams : state.Streams;

        private TimeSpan LockWait => TimeSpan.FromSeconds(options.LockWaitSeconds);

        private SidePrimaries From => _from ?? throw new InvalidOperationException("the primaries are opened by CatchUpAsync or CheckReverseWorkflowAsync");

        private SidePrimaries To => _to ?? throw new InvalidOperationException("the primaries are opened by CatchUpAsync or CheckReverseWorkflowAsync");

        private SwitchJournal Journal => _journal ?? throw new InvalidOperationException("the journal is written by RecordIntentAsync");

        public bool Committed => _journal?.Step == SwitchSteps.Committed;

        public Task<string?> CheckReadStreamsAsync(CancellationToken ct)
        {
            // Reads moved to where writes go need no stream; reads moved to the other side are served by its inbound
            // streams, which must be Running and within --max-replication-lag-allowed (stale reads otherwise).
            return state.Traffic.Primary != reverse
                ? Task.FromResult<string?>(null)
                : owner.CatchUp.RefusalAsync(Inbound, _d.Inbound, options.MaxReplicationLagAllowedSeconds, TimeSpan.FromSeconds(options.TimeoutSeconds), ct);
        }

        public async Task RemoveMirrorRulesAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("remove the mirror rules", ct).ConfigureAwait(false);
            var removed = await new WorkflowMirrorRules(owner.Registry.Store).RemoveAsync(Spec, state.Tables, lease.For(Spec.TargetKeyspace), ct).ConfigureAwait(false);
            if (removed > 0)
            {
                owner.Logger.LogInformation("{Workflow}: {Count} mirror rule(s) removed before the switch", Spec.InstanceId, removed);
            }
        }

        public async Task SwitchReadsAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("switch reads", ct).ConfigureAwait(false);
            await owner.Rules.ApplyAsync(Spec, state.Tables, scope.ToTraffic, lease.For(Spec.TargetKeyspace), ct).ConfigureAwait(false);
            owner.Logger.LogInformation("{Workflow}: reads for {Types} switched {Direction}", Spec.InstanceId, string.Join(",", scope.ReadTypes), reverse ? "back" : "forward");
        }

        public async Task<string?> CheckStreamsAsync(CancellationToken ct)
        {
            var refusal = await owner.CatchUp.RefusalAsync(Inbound, _d.Inbound, options.MaxReplicationLagAllowedSeconds, TimeSpan.FromSeconds(options.TimeoutSeconds), ct).ConfigureAwait(false);
            _timings.Mark("streams checked");
            return refusal;
        }

        public async Task<string?> CheckReverseWorkflowAsync(CancellationToken ct)
        {
            await OpenPrimariesAsync(ct).ConfigureAwait(false);
            var current = await To.PositionsAsync(ct).ConfigureAwait(false);
            _outboundSpecs = await owner.Planner.SpecsAsync(Spec, _d.Outbound, _d.To, _d.From, state.Tables, To.ShardNames, From.ShardNames, current, ct).ConfigureAwait(false);
            var problems = new List<string>();
            foreach (var s in _outboundSpecs)
            {
                problems.AddRange(await owner.Engine.Preflight.CheckAsync(s, ReverseStreamChecks, ct).ConfigureAwait(false));
            }

            return problems.Count > 0 ? $"the reverse workflow {_d.Outbound} could not be created: {string.Join(" ", problems.Distinct())}" : null;
        }

        public async Task<string?> CatchUpAsync(CancellationToken ct)
        {
            // Everything that can be opened before writes are refused is opened now, so the guarded steps are short.
            await OpenPrimariesAsync(ct).ConfigureAwait(false);
            var caughtUp = await owner.CatchUp.CatchUpAsync(Inbound, From, To, TimeSpan.FromSeconds(Math.Min(options.TimeoutSeconds, CatchUpBudgetSeconds)), ct).ConfigureAwait(false);
            if (caughtUp.Stalled is { } stalled)
            {
                return $"the streams of workflow {_d.Inbound} are not following the source: {stalled}";
            }

            _timings.Mark(caughtUp.CaughtUp ? "streams caught up" : $"streams not within {owner.CatchUp.Goal.TotalSeconds:0.#} s of the source after {CatchUpBudgetSeconds:0} s, going on");
            return null;
        }

        public async Task RecordIntentAsync(CancellationToken ct)
        {
            var journal = new SwitchJournal(intentId, reverse, state.Traffic, scope.ToTraffic, SwitchSteps.Intent,
                new Dictionary<string, string>(), new Dictionary<string, string>(), DateTimeOffset.UtcNow)
            {
                State = state with { Audit = [], Commands = [] },
                Holder = lease.Holder,
            };
            await SaveJournalAsync(journal, ct).ConfigureAwait(false);
            FaultPoints.Hit(SwitchFaultPoints.AfterIntent);
            _timings.Mark("intent recorded");
        }

        public async Task PrepareReverseWorkflowAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("prepare the reverse workflow", ct).ConfigureAwait(false);
            // Frozen outbound streams of an earlier switch never run again; they make way for the new ones, and the
            // outbound workflow is registered, both before writes are refused.
            await From.ForEachAsync((_, _, c) => owner.Engine.Store.DeleteWorkflowAsync(c, _d.Outbound, ct)).ConfigureAwait(false);
            await owner.Registry.RegisterAsync(new WorkflowRecord(_d.Outbound, _d.From, _d.To, state.Tables, Spec.InstanceId, !reverse, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
        }

        /// <summary>
        /// The hold announced in the transaction that saves its id in the journal (a crash from here leaves a journal
        /// whose recovery ends it), then the gateways' acknowledgements awaited within the bound; silent ones are named.
        /// </summary>
        public async Task HoldTrafficAsync(CancellationToken ct)
        {
            var hold = GatewayHolds.HoldFor(Spec, state.Tables, intentId, lease.Holder);
            var journal = Journal with { HoldId = hold.Id };
            await owner.Holds.AnnounceAsync(hold, [owner.Registry.JournalOp(Spec.TargetKeyspace, Spec.Workflow, journal)], lease, ct).ConfigureAwait(false);
            _journal = journal; // from here a rollback ends the hold, even if the wait below fails
            var answer = await owner.Holds.WaitForAcknowledgementsAsync(hold, ct).ConfigureAwait(false);
            _timings.Mark(answer.ToString());
        }

        /// <summary>
        /// Guards on every primary of the side writes leave, all at once. The window's start is read from
        /// <see cref="WindowClock"/> and saved before the first guard, so whoever ends the switch (this process, or
        /// another after a crash) measures the window from the same instant on the same clock.
        /// </summary>
        /// <remarks>
        /// From here to the commit the journal is saved only where it gains something (the final positions, the
        /// rules with their step, the commit): a rollback undoes every step whatever step the journal names, so a save
        /// per step would only lengthen the window in which writes are refused, by one etcd write each.
        /// </remarks>
        public async Task ArmGuardsAsync(CancellationToken ct)
        {
            var opened = await WindowClock.NowAsync(From.First, ct).ConfigureAwait(false);
            await SaveJournalAsync(Journal with { Step = SwitchSteps.ArmingGuards, WindowOpenedAt = opened }, ct).ConfigureAwait(false);
            await From.ForEachAsync((_, tablet, c) => owner.Guards.InstallAsync(c, tablet.DbName, Spec.TargetKeyspace, Spec.Workflow, Spec.SourceKeyspace, _d.FromGuard, state.Tables, LockWait, ct)).ConfigureAwait(false);
            _timings.Mark("guards armed");
            FaultPoints.Hit(SwitchFaultPoints.AfterGuards);
        }

        public async Task DrainAsync(CancellationToken ct)
        {
            var tables = state.Tables;
            await lease.EnsureHeldAsync("drain in-flight writes", ct).ConfigureAwait(false);
            _finals = await From.MapAsync(async (_, tablet, c) =>
            {
                await c.ExecuteAsync($"SET SESSION lock_wait_timeout = {Math.Max(1, (int)Math.Ceiling(LockWait.TotalSeconds))}", ct).ConfigureAwait(false);
                // Waits for every transaction that wrote to these tables before the guards to commit or roll back.
                await c.ExecuteAsync("LOCK TABLES " + string.Join(", ", tables.Select(t => SqlQuoter.QualifiedName(tablet.DbName, t) + " READ")), ct).ConfigureAwait(false);
                await c.ExecuteAsync("UNLOCK TABLES", ct).ConfigureAwait(false);
                return (await ServerFlavor.For(c).CurrentPositionAsync(c, ct).ConfigureAwait(false)).Encode();
            }).ConfigureAwait(false);
            await SaveJournalAsync(Journal with { Step = SwitchSteps.Drained, FinalPositions = _finals }, ct).ConfigureAwait(false);
            FaultPoints.Hit(SwitchFaultPoints.AfterDrain);
            _timings.Mark("drained");
        }

        public async Task<string?> WaitForStreamsAsync(CancellationToken ct)
        {
            // A stalled stream ends the wait early instead of waiting out --timeout.
            if (await owner.CatchUp.WaitForStreamsAsync(Inbound, _finals, To, TimeSpan.FromSeconds(options.TimeoutSeconds), ct).ConfigureAwait(false) is { } late)
            {
                var why = late.Stalled ? "stopped following the source" : $"did not reach the final position within --timeout {options.TimeoutSeconds}s";
                return $"the streams of workflow {_d.Inbound} {why} ({late.Where})";
            }

            _timings.Mark("streams at final position");
            return null;
        }

        /// <summary>The inbound streams stopped, the shards in parallel (one connection each, so a shard's streams one by one).</summary>
        public async Task StopInboundAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("stop the inbound streams", ct).ConfigureAwait(false);
            await Task.WhenAll(Inbound.GroupBy(s => s.Shard, StringComparer.Ordinal).Select(async onShard =>
            {
                var c = To.For(onShard.Key);
                foreach (var s in onShard)
                {
                    if (await owner.Engine.Store.GetAsync(c, s.Id, ct).ConfigureAwait(false) is { State: StreamState.Running or StreamState.Copying or StreamState.Init or StreamState.Error })
                    {
                        await owner.Engine.Store.SetStateAsync(c, s.Id, StreamState.Stopped, $"stopped for the write switch {intentId}", ct).ConfigureAwait(false);
                    }
                }
            })).ConfigureAwait(false);
            FaultPoints.Hit(SwitchFaultPoints.AfterStopInbound);
            _timings.Mark("inbound stopped");
        }

        public async Task InitializeSequencesAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("initialize the target sequences", ct).ConfigureAwait(false);
            var lines = await owner.Sequences.InitializeAsync(Spec, state.Tables, To, ct).ConfigureAwait(false);
            owner.Logger.LogInformation("{Workflow}: target sequences initialized: {Sequences}", Spec.InstanceId, lines.Count == 0 ? "none named" : string.Join("; ", lines));
            _timings.Mark($"{lines.Count} sequence(s) initialized");
        }

        /// <summary>At the positions of the primaries writes go to, read now that nothing else writes there; the specs were checked before the guards.</summary>
        /// <remarks>The shards they are created on in parallel; their positions go into the journal with the rules.</remarks>
        public async Task CreateReverseStreamsAsync(CancellationToken ct)
        {
            await lease.EnsureHeldAsync("create the reverse streams", ct).ConfigureAwait(false);
            var positions = await To.PositionsAsync(ct).ConfigureAwait(false);
            await Task.WhenAll(_outboundSpecs.GroupBy(s => s.TargetShard, StringComparer.Ordinal).Select(async onShard =>
            {
                var c = From.For(onShard.Key);
                foreach (var s in onShard)
                {
                    await owner.Engine.Store.CreateAsync(c, s with { Position = GtidPosition.Decode(positions[s.SourceShard]) }, ct).ConfigureAwait(false);
                }
            })).ConfigureAwait(false);
            _outboundPositions = positions;
            FaultPoints.Hit(SwitchFaultPoints.AfterReverseCreated);
            _timings.Mark("reverse streams created");
        }

        /// <summary>The rules flipped and the journal's step with them, in one etcd transaction compared against the lease.</summary>
        public async Task SwitchWritesAsync(CancellationToken ct)
        {
            var journal = Journal with { Step = SwitchSteps.RulesFlipped, OutboundPositions = _outboundPositions };
            if (TrafficRules.Change(Spec, state.Tables, scope.ToTraffic) is { } change)
            {
                await owner.Registry.SaveJournalWithRulesAsync(Spec.TargetKeyspace, Spec.Workflow, journal, change, lease, ct).ConfigureAwait(false);
                _journal = journal;
            }
            else
            {
                await SaveJournalAsync(journal, ct).ConfigureAwait(false);
            }

            FaultPoints.Hit(SwitchFaultPoints.AfterRules);
            _timings.Mark("rules flipped");
        }

        public async Task<string?> CallHooksAsync(CancellationToken ct)
        {
            var hookError = await owner.Hooks.CallHooksAsync(Spec, state.Tables, scope.ToTraffic, reverse, ct).ConfigureAwait(false);
            _timings.Mark("cutover hooks");
            return hookError;
        }

        public async Task CommitAsync(CancellationToken ct)
        {
            await SaveJournalAsync(Journal with { Step = SwitchSteps.Committed }, ct).ConfigureAwait(false);
            FaultPoints.Hit(SwitchFaultPoints.AfterCommit);
            _timings.Mark("committed");
        }

        public async Task<SwitchResult> FinishAsync(CancellationToken ct)
        {
            return await owner.Recovery.FinishAsync(state, Journal, lease, ct, From, To, _timings).ConfigureAwait(false);
        }

        /// <summary>Rolled back, its journal ended and the refusal recorded as the intent's answer.</summary>
        public async Task<SwitchResult> RollbackAsync(string? reason, Exception? cause, CancellationToken ct)
        {
            if (cause is not null)
            {
                owner.Logger.LogWarning(cause, "{Workflow}: write switch {Intent} failed at step {Step}; rolling back", Spec.InstanceId, intentId, Journal.Step);
                reason = $"write switch failed at step '{Journal.Step}' and was rolled back: {cause.Message}";
            }

            var closed = await owner.Recovery.RollbackAsync(state, Journal, lease, ct).ConfigureAwait(false);
            _timings.Mark("rolled back");
            if (Journal.WindowOpenedAt is { } opened && closed is { } at)
            {
                _timings.WindowMs = WindowClock.Milliseconds(opened, at);
            }

            var failed = Refused(reason ?? "the switch was rolled back");
            await owner.Registry.FinishJournalAsync(Spec.TargetKeyspace, Spec.Workflow, new FinishedSwitch(intentId, failed, DateTimeOffset.UtcNow), lease, ct).ConfigureAwait(false);
            return failed;
        }

        /// <summary>A switch that did not happen: the traffic is as the command found it, and the message says so.</summary>
        public SwitchResult Refused(string reason) =>
            new(false, $"{reason}. Traffic is unchanged: {state.Traffic}", state.Traffic, state.Streams, state.ReverseStreams, scope.Writes ? _timings.ToString() : null) { WindowMs = _timings.WindowMs };

        public SwitchResult Done(string message, bool changed) =>
            new(true, message, changed ? scope.ToTraffic : state.Traffic, state.Streams, state.ReverseStreams);

        public async ValueTask DisposeAsync()
        {
            if (_to is not null)
            {
                await _to.DisposeAsync().ConfigureAwait(false);
            }

            if (_from is not null)
            {
                await _from.DisposeAsync().ConfigureAwait(false);
            }
        }

        private async Task OpenPrimariesAsync(CancellationToken ct)
        {
            if (_from is not null)
            {
                return;
            }

            _from = await SidePrimaries.OpenAsync(owner.Engine, owner.Shards, _d.From, ct).ConfigureAwait(false);
            _to = await SidePrimaries.OpenAsync(owner.Engine, owner.Shards, _d.To, ct).ConfigureAwait(false);
            _timings.Mark("primaries opened");
        }

        /// <summary>The journal moved on to <paramref name="journal"/> (what a rollback reads) and saved under the lease.</summary>
        private async Task SaveJournalAsync(SwitchJournal journal, CancellationToken ct)
        {
            await owner.Registry.SaveJournalAsync(Spec.TargetKeyspace, Spec.Workflow, journal, lease, ct).ConfigureAwait(false);
            _journal = journal;
        }
    }
}
