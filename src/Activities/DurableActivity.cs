using Durable.Core.Failures;
using Durable.Replication;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace Durable.Activities;

/// <summary>
/// Base of every activity: a thin, idempotent step whose dependencies come through its constructor (one instance per
/// invocation, from the host's services). Each activity class declares its own <c>[Function]</c> entry point with an
/// <c>[ActivityTrigger]</c> input (the Functions SDK lists it in functions.metadata, the local runner binds it onto
/// the durable engine) and hands over to <see cref="RunAsync(TInput, FunctionContext)"/>. At this boundary a failure
/// that another attempt may fix is marked as <see cref="TransientFailureException"/>, decided by
/// <see cref="TransientFailures"/>: the orchestration sees only an error type and message, and its retry policy
/// retries exactly the marked ones (terminal errors are never retried).
/// </summary>
/// <remarks>
/// It is also a Microsoft.DurableTask <see cref="TaskActivity{TInput,TOutput}"/>, so an engine test can register it on
/// a registry directly; the product's hosts always go through the function entry point.
/// </remarks>
public abstract class DurableActivity<TInput, TOutput> : TaskActivity<TInput, TOutput>, IHostStoppingAware
{
    /// <inheritdoc />
    public CancellationToken HostStopping { get; set; }

    public sealed override Task<TOutput> RunAsync(TaskActivityContext context, TInput input) =>
        RunMarkedAsync(context, input, HostStopping);

    /// <summary>
    /// The function entry point's body: the invocation's cancellation token is the host's stopping signal, and the
    /// orchestration instance comes from the trigger's binding data.
    /// </summary>
    protected Task<TOutput> RunAsync(TInput input, FunctionContext function) =>
        RunMarkedAsync(new FunctionActivityContext(function), input, function.CancellationToken);

    /// <summary>The step itself; it must be safe to run more than once (activities are delivered at least once).</summary>
    protected abstract Task<TOutput> ExecuteAsync(TaskActivityContext context, TInput input, CancellationToken cancellationToken);

    private async Task<TOutput> RunMarkedAsync(TaskActivityContext context, TInput input, CancellationToken cancellationToken)
    {
        try
        {
            return await ExecuteAsync(context, input, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && TransientFailures.IsTransient(e))
        {
            throw new TransientFailureException(e);
        }
    }
}
