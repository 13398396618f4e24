using Durable.Replication;

namespace Durable.Streamer;

/// <summary>
/// What /readyz reports: the Streamer is ready while its supervisor runs and has completed a sidecar scan recently. A
/// scan resolves the primaries from the topology (etcd, unless a fixed tablet list is configured) and takes ownership
/// through etcd, so a scan that keeps failing or hangs means this replica cannot take or keep streams. Not ready before
/// the first scan and from the moment shutdown begins, so a load balancer or orchestrator stops counting on it.
/// </summary>
public sealed class StreamerStatus
{
    private volatile StreamerSupervisor? _supervisor;

    /// <summary>How old the last successful scan may be: several poll intervals, and at least the ownership TTL.</summary>
    public TimeSpan MaxScanAge { get; init; } = TimeSpan.FromSeconds(5);

    public void Running(StreamerSupervisor supervisor) => _supervisor = supervisor;

    public void Stopping() => _supervisor = null;

    public (bool Ready, string Reason) Readiness()
    {
        if (_supervisor is not { } supervisor)
        {
            return (false, "the stream supervisor is not running (starting or shutting down)");
        }

        return supervisor.SinceLastSuccessfulScan switch
        {
            null => (false, "no sidecar scan has completed yet"),
            { } age when age > MaxScanAge => (false, $"the last successful sidecar scan was {age.TotalSeconds:0.0} s ago (limit {MaxScanAge.TotalSeconds:0.0} s): the topology, etcd or the primaries do not answer"),
            { } age => (true, $"scanning; last scan {age.TotalMilliseconds:0} ms ago, {supervisor.OwnedStreams.Count} streams owned"),
        };
    }
}
