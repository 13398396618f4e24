using System.Diagnostics;
using Durable.Core.Positions;
using Durable.Replication;

namespace Durable.Workflows;

/// <summary>
/// How far the inbound streams of a switch are behind, and waiting for them: their health before anything changes,
/// the catch-up before the guards and the wait for the final positions after them.
/// </summary>
public sealed class StreamCatchUp(ReplicationEngine engine, TimeSpan goal)
{
    /// <summary>A lag this large (ten years) means the stream has reported nothing since it was started (its lag counts from 1970).</summary>
    internal const long NeverReportedLagSeconds = 10L * 365 * 86400;

    /// <summary>
    /// A stream whose position has not moved for this long while its source has transactions it has not applied is
    /// stalled: the switch refuses (before the guards) or gives up (after them) instead of waiting out --timeout.
    /// </summary>
    public static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How closely the inbound streams must follow the side writes leave before its guards are armed: the guarded wait
    /// for the final position then covers well under a second of writes (Vitess checks lag before it stops writes).
    /// </summary>
    public TimeSpan Goal { get; } = goal;

    /// <summary>The largest lag of the streams; null when one is not running (or there are none).</summary>
    public async Task<long?> MaxLagAsync(IReadOnlyList<StreamRef> streams, CancellationToken ct)
    {
        var health = await HealthAsync(streams, ct).ConfigureAwait(false);
        return health.Count == 0 || health.Any(h => h.State != StreamState.Running) ? null : health.Max(h => h.LagSeconds);
    }

    /// <summary>Each stream's state and lag, as the refusals name them.</summary>
    public async Task<IReadOnlyList<StreamHealth>> HealthAsync(IReadOnlyList<StreamRef> streams, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var result = new List<StreamHealth>();
        foreach (var s in streams)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            result.Add(r is null
                ? new StreamHealth(s, null, 0, "the stream is gone")
                : new StreamHealth(s, r.State, r.LagSeconds(now), r.Message));
        }

        return result;
    }

    /// <summary>
    /// Null when every stream runs within <paramref name="maxLagSeconds"/>; else why reads or writes cannot be moved
    /// onto them, naming each stream's state and lag. A stream just (re)started has not reported yet (its lag reads as
    /// decades): it gets up to <paramref name="reportWait"/> to report, as a Streamer on a loaded host may take
    /// seconds to pick it up; a stream that is not Running is refused at once.
    /// </summary>
    public async Task<string?> RefusalAsync(IReadOnlyList<StreamRef> streams, string workflow, double maxLagSeconds, TimeSpan reportWait, CancellationToken ct)
    {
        if (streams.Count == 0)
        {
            return $"workflow {workflow} has no streams to follow the writes";
        }

        var waited = Stopwatch.StartNew();
        while (true)
        {
            var health = await HealthAsync(streams, ct).ConfigureAwait(false);
            var notRunning = health.Where(h => h.State != StreamState.Running).ToList();
            if (notRunning.Count > 0)
            {
                return $"the streams of workflow {workflow} are not all Running: {Describe(health)}; start the workflow (or fix the stream's error) first";
            }

            var unreported = health.Any(h => h.LagSeconds > NeverReportedLagSeconds);
            var over = health.Where(h => h.LagSeconds > maxLagSeconds).ToList();
            if (over.Count == 0)
            {
                return null;
            }

            if (!unreported || waited.Elapsed >= reportWait)
            {
                return unreported
                    ? $"the streams of workflow {workflow} have not reported (no heartbeat or applied transaction) since they were started: {Describe(health)}; check that a Streamer runs them, then try again"
                    : $"replication lag of workflow {workflow} is over --max-replication-lag-allowed {maxLagSeconds}s: {Describe(health)}";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
        }
    }

    private static string Describe(IReadOnlyList<StreamHealth> health) => string.Join("; ", health.Select(h => h.ToString()));

    /// <summary>
    /// Before the guards: repeatedly reads the current position of the side writes leave and waits for the inbound
    /// streams to reach it, until one round takes at most <see cref="Goal"/> (the streams then follow the source that
    /// closely), the budget is spent, or a stream is found stalled (<see cref="StallLimit"/>).
    /// </summary>
    internal async Task<CatchUpOutcome> CatchUpAsync(IReadOnlyList<StreamRef> inbound, SidePrimaries from, SidePrimaries to, TimeSpan budget, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        while (total.Elapsed < budget)
        {
            var round = Stopwatch.StartNew();
            var now = await from.PositionsAsync(ct).ConfigureAwait(false);
            var late = await WaitForStreamsAsync(inbound, now, to, budget - total.Elapsed, ct).ConfigureAwait(false);
            if (late is { Stalled: true })
            {
                return new CatchUpOutcome(false, late.Where);
            }

            if (late is not null)
            {
                return new CatchUpOutcome(false, null);
            }

            if (round.Elapsed <= Goal)
            {
                return new CatchUpOutcome(true, null);
            }
        }

        return new CatchUpOutcome(false, null);
    }

    /// <summary>
    /// Polls the inbound streams' positions (on the open connections of the side they write to) until each reaches its
    /// source shard's position. Null when they all did; else where each late stream stands, and whether one of them
    /// stopped moving for <see cref="StallLimit"/> (the wait ends early then: it would not get there).
    /// </summary>
    internal async Task<LateStreams?> WaitForStreamsAsync(IReadOnlyList<StreamRef> streams, IReadOnlyDictionary<string, string> finals, SidePrimaries to, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        var pending = streams.ToList();
        var targets = finals.ToDictionary(f => f.Key, f => GtidPosition.Decode(f.Value), StringComparer.Ordinal);
        var lastMove = new Dictionary<long, (string? Position, TimeSpan At)>();
        while (true)
        {
            var still = new List<StreamRef>();
            var where = new List<string>();
            var stalled = false;
            foreach (var s in pending)
            {
                var r = await engine.Store.GetAsync(to.For(s.Shard), s.Id, ct).ConfigureAwait(false);
                if (r?.Position is null || !r.Position.AtLeast(targets[s.SourceShard]))
                {
                    still.Add(s);
                    var position = r?.Position?.Encode();
                    if (!lastMove.TryGetValue(s.Id, out var seen) || seen.Position != position)
                    {
                        lastMove[s.Id] = (position, deadline.Elapsed);
                    }

                    var idle = deadline.Elapsed - lastMove[s.Id].At;
                    var isStalled = r is null || r.State != StreamState.Running || idle >= StallLimit;
                    stalled |= isStalled;
                    where.Add(r is null
                        ? $"stream {s.Id} on {s.Keyspace}/{s.Shard} is gone"
                        : $"stream {s.Id} on {s.Keyspace}/{s.Shard} is {r.State} at {position ?? "no position"}, needs {finals[s.SourceShard]}" +
                          (isStalled && r.State == StreamState.Running ? $", and has not moved for {idle.TotalSeconds:0.#} s" : "") +
                          (string.IsNullOrEmpty(r.Message) ? "" : $" ({r.Message})"));
                }
            }

            if (still.Count == 0)
            {
                return null;
            }

            if (stalled || deadline.Elapsed >= timeout)
            {
                return new LateStreams(stalled, string.Join("; ", where));
            }

            pending = still;
            // Short: while writes are refused every poll interval adds to the window (one indexed read per stream).
            await Task.Delay(TimeSpan.FromMilliseconds(10), ct).ConfigureAwait(false);
        }
    }
}

/// <summary>One stream's state and lag when a switch checked it.</summary>
public sealed record StreamHealth(StreamRef Stream, StreamState? State, long LagSeconds, string? Message)
{
    public override string ToString() =>
        $"stream {Stream.Id} on {Stream.Keyspace}/{Stream.Shard} is {(State is null ? "gone" : State.ToString())}" +
        (State == StreamState.Running ? (LagSeconds > StreamCatchUp.NeverReportedLagSeconds ? ", no report yet" : $", lag {LagSeconds}s") : "") +
        (string.IsNullOrEmpty(Message) ? "" : $" ({Message})");
}

/// <summary>Streams that did not reach their positions: where they stand, and whether one has stalled.</summary>
internal sealed record LateStreams(bool Stalled, string Where);

/// <summary>The catch-up before the guards: met the goal, or not; <see cref="Stalled"/> names a stalled stream (the switch is refused).</summary>
internal sealed record CatchUpOutcome(bool CaughtUp, string? Stalled);
