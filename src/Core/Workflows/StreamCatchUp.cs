using System.Diagnostics;
using Durable.Core.Positions;
using Durable.Replication;

namespace Durable.Workflows;

/// <summary>
/// How far the inbound streams of a write switch are behind, and waiting for them: their lag, the catch-up before the
/// guards and the wait for the final positions after them.
/// </summary>
public sealed class StreamCatchUp(ReplicationEngine engine, TimeSpan goal)
{
    /// <summary>
    /// How closely the inbound streams must follow the side writes leave before its guards are armed: the guarded wait
    /// for the final position then covers well under a second of writes (Vitess checks lag before it stops writes).
    /// </summary>
    public TimeSpan Goal { get; } = goal;

    /// <summary>The largest lag of the streams; null when one is not running (or there are none).</summary>
    public async Task<long?> MaxLagAsync(IReadOnlyList<StreamRef> streams, CancellationToken ct)
    {
        long max = 0;
        var now = DateTimeOffset.UtcNow;
        foreach (var s in streams)
        {
            var r = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (r is null || r.State != StreamState.Running)
            {
                return null;
            }

            max = Math.Max(max, r.LagSeconds(now));
        }

        return streams.Count == 0 ? null : max;
    }

    /// <summary>
    /// Before the guards: repeatedly reads the current position of the side writes leave and waits for the inbound
    /// streams to reach it, until one round takes at most <see cref="Goal"/> (the streams then follow the
    /// source that closely) or the budget is spent. True when the goal was met.
    /// </summary>
    internal async Task<bool> CatchUpAsync(IReadOnlyList<StreamRef> inbound, SidePrimaries from, SidePrimaries to, TimeSpan budget, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        while (total.Elapsed < budget)
        {
            var round = Stopwatch.StartNew();
            var now = await from.PositionsAsync(ct).ConfigureAwait(false);
            if (await WaitForStreamsAsync(inbound, now, to, budget - total.Elapsed, ct).ConfigureAwait(false) is not null)
            {
                return false;
            }

            if (round.Elapsed <= Goal)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Polls the inbound streams' positions (on the open connections of the side they write to) until each reaches its
    /// source shard's position. Null when they all did; else where each late stream stands, for the error.
    /// </summary>
    internal async Task<string?> WaitForStreamsAsync(IReadOnlyList<StreamRef> streams, IReadOnlyDictionary<string, string> finals, SidePrimaries to, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        var pending = streams.ToList();
        var targets = finals.ToDictionary(f => f.Key, f => GtidPosition.Decode(f.Value), StringComparer.Ordinal);
        while (true)
        {
            var still = new List<StreamRef>();
            var where = new List<string>();
            foreach (var s in pending)
            {
                var r = await engine.Store.GetAsync(to.For(s.Shard), s.Id, ct).ConfigureAwait(false);
                if (r?.Position is null || !r.Position.AtLeast(targets[s.SourceShard]))
                {
                    still.Add(s);
                    where.Add(r is null
                        ? $"stream {s.Id} on {s.Keyspace}/{s.Shard} is gone"
                        : $"stream {s.Id} on {s.Keyspace}/{s.Shard} is {r.State} at {r.Position?.Encode() ?? "no position"}, needs {finals[s.SourceShard]}{(string.IsNullOrEmpty(r.Message) ? "" : $" ({r.Message})")}");
                }
            }

            if (still.Count == 0)
            {
                return null;
            }

            if (deadline.Elapsed >= timeout)
            {
                return string.Join("; ", where);
            }

            pending = still;
            // Short: while writes are refused every poll interval adds to the window (one indexed read per stream).
            await Task.Delay(TimeSpan.FromMilliseconds(10), ct).ConfigureAwait(false);
        }
    }
}
