using Durable.Activities;
using DurableTask.Core;
using DurableTask.Core.Exceptions;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Worker.Shims;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Engine;

/// <summary>
/// One registered Microsoft.DurableTask activity as the Durable Task Framework sees it. Each work item gets a service
/// scope of its own, the activity is created in it from the registry's factory and run through the worker's shim,
/// and the scope is disposed with the work item: activities take their dependencies through their constructors and
/// hold nothing between runs.
/// </summary>
internal sealed class RegisteredActivity(
    TaskName name,
    Func<IServiceProvider, ITaskActivity> factory,
    IServiceScopeFactory scopes,
    DurableTaskShimFactory shims,
    CancellationToken hostStopping) : TaskActivity
{
    public override string Run(TaskContext context, string input) =>
        throw new NotSupportedException("Activities run asynchronously (RunAsync).");

    public override async Task<string> RunAsync(TaskContext context, string input)
    {
        await using var scope = scopes.CreateAsyncScope();
        var activity = factory(scope.ServiceProvider);
        if (activity is IHostStoppingAware aware)
        {
            aware.HostStopping = hostStopping;
        }

        try
        {
            return (await shims.CreateActivity(name, activity).RunAsync(context, input).ConfigureAwait(false))!;
        }
        catch (OperationCanceledException e) when (hostStopping.IsCancellationRequested)
        {
            // Not the activity's failure: the host is going away. An aborted session makes the dispatcher abandon the
            // work item instead of reporting a failure, so the orchestration sees the step run again elsewhere.
            throw new SessionAbortedException($"Activity {name} stopped because the host is shutting down.", e);
        }
    }
}
