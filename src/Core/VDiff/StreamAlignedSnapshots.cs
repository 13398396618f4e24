using Durable.Core.Faults;
using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Flavors;
using Durable.Replication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.VDiff;

/// <summary>
/// Aligned snapshots of one stream's source and target (Vitess VDiff v2): stop the stream and read its position P; wait
/// until the chosen source tablet has P (MASTER_GTID_WAIT); open the source snapshot and read its position G; run the
/// stream to G (stop position G, applied here by an in-process runner so it does not depend on a Streamer being up);
/// open the target snapshot — it now holds exactly the source's rows at G — and restart the stream at once, so the
/// stream is parked only for the alignment, not for the compare.
/// </summary>
public sealed class StreamAlignedSnapshots(ReplicationEngine engine, TabletEndpoint targetPrimary, long streamId, VDiffOptions options, string owner, ILogger? logger = null) : ISnapshotSource
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>
    /// Keep the stream parked at G until the pair is disposed (repair writes the target at G, so the stream must not move
    /// under it); otherwise it restarts as soon as the target snapshot is open.
    /// </summary>
    public bool ParkWhileInUse { get; init; }

    /// <summary>
    /// Where the aligner notes that it stopped a Running stream (the VDiff sidecar), so a run after a kill -9 in the middle
    /// of an alignment restarts the stream it left stopped. Without it a crash there leaves the stream Stopped.
    /// </summary>
    public VDiffStore? ParkedMarks { get; init; }

    /// <summary>The same stream's aligner, parking the stream until the pair is disposed (for repair).</summary>
    public StreamAlignedSnapshots(StreamAlignedSnapshots other)
        : this(other.Engine, other.TargetPrimary, other.StreamId, other.Options, other.Owner, other._logger)
    {
        ParkWhileInUse = true;
        ParkedMarks = other.ParkedMarks;
    }

    private ReplicationEngine Engine => engine;

    private TabletEndpoint TargetPrimary => targetPrimary;

    private long StreamId => streamId;

    private VDiffOptions Options => options;

    private string Owner => owner;

    public async Task<SnapshotPair> OpenAsync(CancellationToken ct)
    {
        await using var control = await engine.Connector.OpenAsync(targetPrimary, ct: ct).ConfigureAwait(false);
        var stream = await engine.Store.GetRequiredAsync(control, streamId, ct).ConfigureAwait(false);
        switch (stream.State)
        {
            case StreamState.Frozen:
                throw new VDiffException($"Stream {streamId} of workflow {stream.Workflow} is Frozen (traffic was switched); run VDiff on the reverse workflow.");
            case StreamState.Copying or StreamState.Init:
                throw new VDiffException($"Stream {streamId} of workflow {stream.Workflow} is {stream.State}; VDiff runs once the copy is done.");
            case StreamState.Error:
                throw new VDiffException($"Stream {streamId} of workflow {stream.Workflow} is in Error ({stream.Message}); fix and start it before a VDiff.");
        }

        // Running to a stop position of this VDiff is the state of an alignment killed half-way, not the stream's own;
        // Stopped with this VDiff's mark is an alignment killed after its stop: both were Running before the VDiff.
        var ownRunTo = stream.StopPosition is not null && stream.Message.StartsWith(owner + ":", StringComparison.Ordinal);
        var wasRunning = (stream.State == StreamState.Running && !ownRunTo)
            || (ParkedMarks is not null && await ParkedMarks.IsParkedByAsync(control, streamId, owner, ct).ConfigureAwait(false));
        if (stream.State == StreamState.Running && ParkedMarks is not null)
        {
            await ParkedMarks.MarkParkedAsync(control, streamId, owner, ct).ConfigureAwait(false);
        }

        // Take the stream first (epoch bump), then stop it: an owner that applied meanwhile is fenced out, and every apply
        // transaction checks the state, so the position read after the stop is final.
        await engine.Store.TakeOwnershipAsync(control, streamId, owner, ct).ConfigureAwait(false);
        if (stream.State == StreamState.Running)
        {
            await engine.Store.SetStateAsync(control, streamId, StreamState.Stopped, $"{owner}: aligning for VDiff", ct).ConfigureAwait(false);
        }

        FaultPoints.Hit("vdiff.align-stopped");
        var restarted = false;
        try
        {
            stream = await engine.Store.GetRequiredAsync(control, streamId, ct).ConfigureAwait(false);
            var p = stream.Position ?? throw new VDiffException($"Stream {streamId} has no position; it was never copied.");
            var sourceTablet = await engine.Connector.Resolver.SourceAsync(stream.SourceKeyspace, stream.SourceShard, options.TabletTypes, [], ct).ConfigureAwait(false);
            var source = await engine.Connector.OpenAsync(sourceTablet, ct: ct).ConfigureAwait(false);
            MySqlConnection? target = null;
            try
            {
                var flavor = ServerFlavor.For(source);
                // MASTER_GTID_WAIT follows the replication threads (gtid_slave_pos), so on a primary it never sees the
                // primary's own transactions; the binlog position (which on replicas includes applied GTIDs via
                // log_slave_updates) answers at once when the tablet is already there.
                var reached = (await flavor.CurrentPositionAsync(source, ct).ConfigureAwait(false)).AtLeast(p);
                if (!reached && !string.Equals(sourceTablet.Type, "PRIMARY", StringComparison.OrdinalIgnoreCase))
                {
                    reached = await flavor.WaitForPositionAsync(source, p, options.WaitTimeout, ct).ConfigureAwait(false);
                }

                if (!reached)
                {
                    throw new VDiffException($"Source tablet {sourceTablet} did not reach the stream position {p} within {options.WaitTimeout}; it lags or is stopped. Retry, raise --wait-timeout, or pick other --tablet-types.");
                }

                await TableDiffer.PrepareSessionAsync(source, ct).ConfigureAwait(false);
                var g = await flavor.StartConsistentSnapshotAsync(source, ct).ConfigureAwait(false);
                if (!p.AtLeast(g))
                {
                    await RunStreamToAsync(control, g, ct).ConfigureAwait(false);
                }

                target = await engine.Connector.OpenAsync(targetPrimary, ct: ct).ConfigureAwait(false);
                await TableDiffer.PrepareSessionAsync(target, ct).ConfigureAwait(false);
                await ServerFlavor.For(target).StartConsistentSnapshotAsync(target, ct).ConfigureAwait(false);
                // Inside the target snapshot the stream row must say G: that is the proof both sides show the same moment.
                var seen = await target.QueryScalarAsync($"SELECT pos FROM {engine.Store.StreamsTable} WHERE id = {streamId}", ct).ConfigureAwait(false);
                var atSnapshot = string.IsNullOrEmpty(seen) ? null : GtidPosition.Decode(seen);
                if (atSnapshot is null || !atSnapshot.AtLeast(g) || !g.AtLeast(atSnapshot))
                {
                    throw new VDiffException($"Alignment failed: the target snapshot shows stream {streamId} at {atSnapshot} but the source snapshot is at {g}.");
                }

                FaultPoints.Hit("vdiff.align-snapshots");
                _logger.LogInformation("VDiff {Owner}: stream {Stream} aligned at {Position} (source {Source})", owner, streamId, g, sourceTablet.Alias);
                restarted = true;
                if (!ParkWhileInUse)
                {
                    await RestartAsync(control, wasRunning, ct).ConfigureAwait(false);
                    return new SnapshotPair(source, target, g);
                }

                return new SnapshotPair(source, target, g, async () =>
                {
                    await using var again = await engine.Connector.OpenAsync(targetPrimary, ct: CancellationToken.None).ConfigureAwait(false);
                    await RestartAsync(again, wasRunning, CancellationToken.None).ConfigureAwait(false);
                });
            }
            catch
            {
                await source.DisposeAsync().ConfigureAwait(false);
                if (target is not null)
                {
                    await target.DisposeAsync().ConfigureAwait(false);
                }

                throw;
            }
        }
        finally
        {
            if (!restarted)
            {
                // Never leave a stream parked because a VDiff failed: clear the stop position and let it run again.
                await RestartAsync(control, wasRunning, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sets stop position G, runs the stream in-process until it stopped there, within the wait timeout.</summary>
    private async Task RunStreamToAsync(MySqlConnection control, GtidPosition g, CancellationToken ct)
    {
        await engine.Store.SetStopPositionAsync(control, streamId, g, ct).ConfigureAwait(false);
        await engine.Store.SetStateAsync(control, streamId, StreamState.Running, $"{owner}: running to {g} for VDiff", ct).ConfigureAwait(false);
        using var runnerCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var runner = new StreamRunner(engine, _logger).RunAsync(targetPrimary, streamId, owner, runnerCts.Token);
        try
        {
            var deadline = DateTime.UtcNow + options.WaitTimeout;
            while (true)
            {
                var s = await engine.Store.GetRequiredAsync(control, streamId, ct).ConfigureAwait(false);
                if (s.State == StreamState.Stopped && s.Position is { } at && at.AtLeast(g))
                {
                    return;
                }

                if (s.State == StreamState.Error)
                {
                    throw new VDiffException($"Stream {streamId} went to Error while running to the VDiff position {g}: {s.Message}");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new VDiffException($"Stream {streamId} did not reach the VDiff position {g} within {options.WaitTimeout} (it is {s.State} at {s.Position}). Raise --wait-timeout.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await runnerCts.CancelAsync().ConfigureAwait(false);
            try
            {
                await runner.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The runner ends with our cancellation once the stream stopped at G.
            }
        }
    }

    private async Task RestartAsync(MySqlConnection control, bool wasRunning, CancellationToken ct)
    {
        if (!control.IsUsable)
        {
            return;
        }

        await engine.Store.SetStopPositionAsync(control, streamId, null, ct).ConfigureAwait(false);
        var s = await engine.Store.GetRequiredAsync(control, streamId, ct).ConfigureAwait(false);
        if (wasRunning && s.State == StreamState.Stopped)
        {
            await engine.Store.StartAsync(control, streamId, ct).ConfigureAwait(false);
        }

        if (ParkedMarks is not null)
        {
            await ParkedMarks.ClearParkedAsync(control, streamId, ct).ConfigureAwait(false);
        }
    }
}
