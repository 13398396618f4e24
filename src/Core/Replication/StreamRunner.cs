using Durable.MySql;
using Durable.Topology;
using Microsoft.Extensions.Logging;

namespace Durable.Replication;

public sealed record StreamRunnerOptions
{
    /// <summary>Consecutive failed attempts (with no progress between them) before the stream goes to Error.</summary>
    public int MaxAttempts { get; init; } = 12;

    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Runs one Running stream for its owner: takes it (epoch bump), picks a source tablet, applies the binlog until the
/// stream stops, another owner takes it, or the token is cancelled. Transient failures are retried with exponential
/// back-off on a re-picked source tablet, and each is written to the stream's message and log; a terminal failure, or
/// too many failures in a row, moves the stream to Error with the reason.
/// </summary>
/// <param name="metrics">Counts what the stream applies and its failed attempts; null: not measured.</param>
public sealed class StreamRunner(ReplicationEngine engine, ILogger logger, StreamRunnerOptions? options = null, StreamerMetrics? metrics = null)
{
    private readonly StreamRunnerOptions _options = options ?? new StreamRunnerOptions();

    /// <summary>How often a running stream logs where its apply time goes (see <see cref="ApplyProfile"/>).</summary>
    private static readonly TimeSpan ProfileLogInterval = TimeSpan.FromSeconds(10);

    public async Task RunAsync(TabletEndpoint targetTablet, long streamId, string owner, CancellationToken ct)
    {
        var attempts = 0;
        var excluded = new List<string>();
        while (!ct.IsCancellationRequested)
        {
            StreamApplier? applier = null;
            TabletEndpoint? source = null;
            try
            {
                await using var target = await engine.Connector.OpenAsync(targetTablet, ct: ct).ConfigureAwait(false);
                await engine.Sidecar.EnsureAsync(target, ct).ConfigureAwait(false);
                var stream = await engine.Store.GetRequiredAsync(target, streamId, ct).ConfigureAwait(false);
                if (stream.State != StreamState.Running)
                {
                    return;
                }

                stream = await engine.Store.TakeOwnershipAsync(target, streamId, owner, ct).ConfigureAwait(false);
                source = await PickSourceAsync(engine.Connector.Resolver, stream.SourceKeyspace, stream.SourceShard, stream.TabletTypes, excluded, ct).ConfigureAwait(false);

                string sqlMode;
                await using (var s = await engine.Connector.OpenAsync(source, ct: ct).ConfigureAwait(false))
                {
                    sqlMode = await s.QueryScalarAsync("SELECT @@global.sql_mode", ct).ConfigureAwait(false) ?? string.Empty;
                }

                await StreamApplier.PrepareSessionAsync(target, sqlMode, ct).ConfigureAwait(false);
                applier = new StreamApplier(target, engine.Store, stream);
                using var tracked = metrics?.Track(applier);
                logger.LogInformation("Stream {Stream} on {Target}: applying from {Source} at {Position} (epoch {Epoch})",
                    streamId, targetTablet.Alias, source.Alias, stream.Position?.Encode(), stream.OwnerEpoch);
                var profile = applier.Profile;
                using var profileLog = new Timer(_ => logger.LogInformation("Stream {Stream} apply profile: {Profile}", streamId, profile), null, ProfileLogInterval, ProfileLogInterval);
                try
                {
                    var stop = await engine.Replicator.RunAsync(applier, source, null, ct).ConfigureAwait(false);
                    logger.LogInformation("Stream {Stream} stopped: {Reason}", streamId, stop);
                }
                finally
                {
                    logger.LogInformation("Stream {Stream} apply profile: {Profile}", streamId, profile);
                }

                return;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (FencedOutException e)
            {
                logger.LogWarning("Stream {Stream}: {Message}; leaving it to its new owner", streamId, e.Message);
                return;
            }
            catch (StreamStoppedException e)
            {
                logger.LogInformation("Stream {Stream}: {Message}", streamId, e.Message);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var progressed = applier is { TotalRows: > 0 } || (applier is not null && applier.Position != applier.Stream.Position);
                attempts = progressed ? 1 : attempts + 1;
                var transient = TransientFailures.IsTransient(e) || e is OperationCanceledException;
                var message = $"{(transient ? "retrying after" : "terminal")} error (attempt {attempts}/{_options.MaxAttempts}){(source is null ? "" : $" from source {source.Alias}")}: {e.Message}";
                logger.LogWarning("Stream {Stream}: {Message}", streamId, message);
                metrics?.StreamFailed(retrying: transient && attempts < _options.MaxAttempts);
                if (!transient || attempts >= _options.MaxAttempts)
                {
                    await RecordAsync(targetTablet, streamId, StreamState.Error, message).ConfigureAwait(false);
                    return;
                }

                await RecordAsync(targetTablet, streamId, null, message).ConfigureAwait(false);
                if (source is not null && !excluded.Contains(source.Alias))
                {
                    excluded.Add(source.Alias);
                }

                var delay = TimeSpan.FromMilliseconds(Math.Min(_options.MaxRetryDelay.TotalMilliseconds,
                    _options.FirstRetryDelay.TotalMilliseconds * Math.Pow(2, attempts - 1) * (0.8 + (Random.Shared.NextDouble() * 0.4))));
                try
                {
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// The stream's source tablet, avoiding those that failed it since it last made progress. When only those are left,
    /// they are tried again rather than the stream stalling: with tablet_types PRIMARY the shard has one candidate, and
    /// one transient error on it (a timeout under load) used to exclude it for good, because the topology resolver
    /// says "no tablet" with a <see cref="NoHealthyTabletException"/>, not the <see cref="ReplicationException"/> the
    /// fallback waited for; the stream then failed its twelve attempts and the switch that waited for it (seen in the
    /// cutover-gateway benchmark: "zone1-0000000100 PRIMARY ... not a candidate here (excluded)").
    /// </summary>
    internal static async Task<TabletEndpoint> PickSourceAsync(ITabletResolver resolver, string keyspace, string shard, string tabletTypes, List<string> excluded, CancellationToken ct)
    {
        try
        {
            return await resolver.SourceAsync(keyspace, shard, tabletTypes, excluded, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (excluded.Count > 0 && e is ReplicationException or NoHealthyTabletException)
        {
            excluded.Clear();
            return await resolver.SourceAsync(keyspace, shard, tabletTypes, excluded, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the failure to the stream (message and log), and moves it to Error when asked.</summary>
    private async Task RecordAsync(TabletEndpoint targetTablet, long streamId, StreamState? state, string message)
    {
        try
        {
            await using var target = await engine.Connector.OpenAsync(targetTablet).ConfigureAwait(false);
            if (state is { } s)
            {
                var current = await engine.Store.GetRequiredAsync(target, streamId).ConfigureAwait(false);
                if (StreamStates.CanMove(current.State, s))
                {
                    await engine.Store.SetStateAsync(target, streamId, s, message).ConfigureAwait(false);
                }
            }
            else
            {
                await target.ExecuteAsync($"UPDATE {engine.Store.StreamsTable} SET message = {target.Quoter.String(StreamStore.Truncate(message))} WHERE id = {streamId}").ConfigureAwait(false);
                var current = await engine.Store.GetRequiredAsync(target, streamId).ConfigureAwait(false);
                await engine.Store.LogAsync(target, streamId, "Retry", current.State, message).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is MySqlException or ReplicationException or IOException)
        {
            logger.LogWarning("Stream {Stream}: could not record '{Message}' on the target: {Error}", streamId, message, e.Message);
        }
    }
}
