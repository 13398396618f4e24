using System.Diagnostics.Metrics;

namespace Durable.Replication;

/// <summary>
/// The Streamer's instruments (meter "Durable.Streamer"): streams owned, ownership changes, sidecar scans, stream
/// failures, and what the owned streams apply (binlog events, rows, source transactions, target commits) with their lag.
/// The apply counts are read from each running stream's <see cref="ApplyProfile"/> when the exporter collects, so the
/// apply loop does no extra work for them; a stream that stops adds its final counts to the totals. Names as scraped:
/// docs/metrics.md.
/// </summary>
public sealed class StreamerMetrics : IDisposable
{
    public const string MeterName = "Durable.Streamer";

    private readonly Meter _meter;
    private readonly UpDownCounter<int> _owned;
    private readonly Counter<long> _ownershipChanges;
    private readonly Counter<long> _scans;
    private readonly Counter<long> _failures;
    private readonly HashSet<StreamApplier> _live = [];
    private readonly Lock _lock = new();
    private Totals _finished;

    /// <param name="scope">Ties the meter to one host (MeterOptions.Scope), as the Functions host's meters are.</param>
    public StreamerMetrics(object? scope = null)
    {
        _meter = new Meter(new MeterOptions(MeterName) { Scope = scope });
        _owned = _meter.CreateUpDownCounter<int>("durable_streamer_streams_owned", description: "Streams this replica owns (holds the ownership lease of and runs) now.");
        _ownershipChanges = _meter.CreateCounter<long>("durable_streamer_ownership_changes", description: "Streams this replica took (change=acquired) or gave up (change=released: stopped, finished, lease lost, or shutdown).");
        _scans = _meter.CreateCounter<long>("durable_streamer_scans", description: "Sidecar scans for Running streams, by outcome (succeeded, failed).");
        _failures = _meter.CreateCounter<long>("durable_streamer_stream_failures", description: "Failed apply attempts of owned streams, by outcome (retrying, error: the stream was moved to Error).");
        _meter.CreateObservableCounter("durable_streamer_binlog_events", () => Sum(p => p.Events), description: "Binlog events read by this replica's streams.");
        _meter.CreateObservableCounter("durable_streamer_rows_applied", () => Sum(p => p.Rows), description: "Row changes in the streams' row events (before key-range and copy filtering).");
        _meter.CreateObservableCounter("durable_streamer_source_transactions", () => Sum(p => p.Transactions), description: "Source transactions read by this replica's streams.");
        _meter.CreateObservableCounter("durable_streamer_commits", () => Sum(p => p.Commits), description: "Fenced target commits (batches with their position, and heartbeats).");
        _meter.CreateObservableGauge("durable_streamer_apply_lag_seconds", MaxLag, unit: "s",
            description: "The largest replication lag among the streams this replica runs, as of their last commit (0 when it runs none).");
    }

    public void StreamAcquired()
    {
        _owned.Add(1);
        _ownershipChanges.Add(1, new KeyValuePair<string, object?>("change", "acquired"));
    }

    public void StreamReleased()
    {
        _owned.Add(-1);
        _ownershipChanges.Add(1, new KeyValuePair<string, object?>("change", "released"));
    }

    public void ScanCompleted(bool succeeded) => _scans.Add(1, new KeyValuePair<string, object?>("outcome", succeeded ? "succeeded" : "failed"));

    public void StreamFailed(bool retrying) => _failures.Add(1, new KeyValuePair<string, object?>("outcome", retrying ? "retrying" : "error"));

    /// <summary>Counts what <paramref name="applier"/> applies from now until the returned handle is disposed.</summary>
    public IDisposable Track(StreamApplier applier)
    {
        lock (_lock)
        {
            _live.Add(applier);
        }

        return new Tracked(this, applier);
    }

    public void Dispose() => _meter.Dispose();

    private void Untrack(StreamApplier applier)
    {
        lock (_lock)
        {
            if (_live.Remove(applier))
            {
                _finished = _finished.Add(applier.Profile);
            }
        }
    }

    private long Sum(Func<Totals, long> field)
    {
        lock (_lock)
        {
            var totals = _finished;
            foreach (var a in _live)
            {
                totals = totals.Add(a.Profile);
            }

            return field(totals);
        }
    }

    private double MaxLag()
    {
        var now = DateTimeOffset.UtcNow;
        lock (_lock)
        {
            return _live.Count == 0 ? 0 : _live.Max(a => a.LagSeconds(now));
        }
    }

    private readonly record struct Totals(long Events, long Rows, long Transactions, long Commits)
    {
        public Totals Add(ApplyProfile p) => new(Events + p.Events, Rows + p.Rows, Transactions + p.Transactions, Commits + p.Commits);
    }

    private sealed class Tracked(StreamerMetrics metrics, StreamApplier applier) : IDisposable
    {
        public void Dispose() => metrics.Untrack(applier);
    }
}
