using Durable.Core.Failures;
using Durable.Replication;
using Microsoft.DurableTask;

namespace Durable.Activities;

/// <summary>
/// Base of every activity: a thin, idempotent step whose dependencies come through its constructor (one instance per
/// work item, from a service scope of the host's provider). At its boundary a failure that another attempt may fix is
/// marked as <see cref="TransientFailureException"/>, decided by <see cref="TransientFailures"/>: the orchestration
/// sees only an error type and message, and its retry policy retries exactly the marked ones (terminal errors are
/// never retried).
/// </summary>
public abstract class DurableActivity<TInput, TOutput> : TaskActivity<TInput, TOutput>, IHostStoppingAware
{
    /// <inheritdoc />
    public CancellationToken HostStopping { get; set; }

    public sealed override async Task<TOutput> RunAsync(TaskActivityContext context, TInput input)
    {
        try
        {
            return await ExecuteAsync(context, input, HostStopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && TransientFailures.IsTransient(e))
        {
            throw new TransientFailureException(e);
        }
    }

    /// <summary>The step itself; it must be safe to run more than once (activities are delivered at least once).</summary>
    protected abstract Task<TOutput> ExecuteAsync(TaskActivityContext context, TInput input, CancellationToken cancellationToken);
}
