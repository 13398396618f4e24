namespace Durable.Activities;

/// <summary>
/// An activity that wants to stop early when its host shuts down. Microsoft.DurableTask's activity context carries no
/// cancellation token, so the engine sets this before the run; a stopped activity's work item is abandoned and runs
/// again elsewhere, which its idempotence makes safe.
/// </summary>
public interface IHostStoppingAware
{
    CancellationToken HostStopping { set; }
}
