using Durable.Replication;
using Durable.Topology;

namespace Durable.Workflows;

/// <summary>
/// The copy and the streams after it: one bounded copy chunk at a time (or why it has to wait), the progress the
/// workflow shows, and starting or stopping the forward streams.
/// </summary>
public sealed class MoveTablesCopy(ReplicationEngine engine, KeyspaceShards shards, MoveTablesSettings settings)
{
    public async Task<CopyChunkResult> CopyChunkAsync(MoveTablesCreate spec, StreamRef stream, CancellationToken ct)
    {
        try
        {
            var result = await engine.CopyChunkAsync(stream.Keyspace, stream.Shard, stream.Id, $"{spec.InstanceId}/copy", settings.CopyBudget, ct).ConfigureAwait(false);
            return new CopyChunkResult(result.Done, result.Table, result.RowsCopied);
        }
        catch (Exception e) when (TransientFailures.WaitingReason(e) is { } reason)
        {
            // Not a failure of the copy: it waits for a source tablet (or the mounted topology) and says why, instead
            // of sitting at 0% silently (the seeds' "No tablet found for streaming").
            return new CopyChunkResult(false, null, 0, reason);
        }
    }


    public async Task<ProgressResult> ProgressAsync(WorkflowState state, CancellationToken ct)
    {
        var copied = state.Tables.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        var done = state.Tables.ToDictionary(t => t, _ => true, StringComparer.Ordinal);
        long? lag = null;
        string? error = null;
        var now = DateTimeOffset.UtcNow;
        foreach (var s in state.Streams)
        {
            await engine.OnTargetAsync(s.Keyspace, s.Shard, async c =>
            {
                var record = await engine.Store.GetAsync(c, s.Id, ct).ConfigureAwait(false);
                if (record is null)
                {
                    return 0;
                }

                if (record.State == StreamState.Error)
                {
                    error = $"Stream {s.Id} on {s.Keyspace}/{s.Shard}: {record.Message}";
                }

                // Unknown (nothing applied, no heartbeat yet) stays null rather than the age of the epoch.
                if (record.State == StreamState.Running && StreamLag.TransactionLag(record, now) is { } known)
                {
                    lag = Math.Max(lag ?? 0, known);
                }

                var copyStates = await engine.Store.GetCopyStateAsync(c, s.Id, ct).ConfigureAwait(false);
                foreach (var cs in copyStates.Where(cs => copied.ContainsKey(cs.Table)))
                {
                    copied[cs.Table] += cs.RowsCopied;
                    done[cs.Table] &= cs.Done;
                }

                return 0;
            }, ct).ConfigureAwait(false);
        }

        var totals = await SourceRowEstimatesAsync(state.Spec, state.Tables, ct).ConfigureAwait(false);
        var copy = state.Tables.Select(t => new TableProgress(t, copied[t], Math.Max(totals[t], copied[t]), done[t] && state.Streams.Count > 0)).ToList();
        return new ProgressResult(copy, lag, error);
    }

    /// <summary>The source's row estimate of each table, summed over the shards that have a tablet the workflow may read.</summary>
    private async Task<Dictionary<string, long>> SourceRowEstimatesAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var totals = tables.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        foreach (var shard in await shards.NamesAsync(spec.SourceRef, ct).ConfigureAwait(false))
        {
            // The estimate comes from a tablet the workflow may read (Migrate may be limited to replicas).
            TabletEndpoint primary;
            try
            {
                primary = await engine.Connector.Resolver.SourceAsync(spec.SourceRef, shard, spec.TabletTypes, [], ct).ConfigureAwait(false);
            }
            catch (NoHealthyTabletException)
            {
                continue; // no estimate while no tablet is reachable; the copy's status says why
            }

            await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
            foreach (var (t, n) in await TableCatalog.EstimateRowsAsync(c, primary.DbName, tables, ct).ConfigureAwait(false))
            {
                totals[t] += n;
            }
        }

        return totals;
    }

    /// <summary>Starts (hands to the Streamer) or stops the forward streams; frozen streams stay as they are.</summary>
    public async Task SetStreamsAsync(StreamsRequest request, CancellationToken ct)
    {
        foreach (var s in request.State.Streams)
        {
            var record = await engine.OnTargetAsync(s.Keyspace, s.Shard, c => engine.Store.GetAsync(c, s.Id, ct), ct).ConfigureAwait(false);
            if (record is null || record.State == StreamState.Frozen)
            {
                continue;
            }

            if (request.Start && record.State != StreamState.Running && record.State != StreamState.Copying)
            {
                await engine.StartStreamAsync(s.Keyspace, s.Shard, s.Id, ct).ConfigureAwait(false);
            }
            else if (!request.Start && record.State != StreamState.Stopped)
            {
                await engine.StopStreamAsync(s.Keyspace, s.Shard, s.Id, "stopped by Workflow stop", ct).ConfigureAwait(false);
            }
        }
    }
}
