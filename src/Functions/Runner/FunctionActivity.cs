using Durable.Activities;
using Microsoft.DurableTask;

namespace Durable.Functions.Runner;

/// <summary>
/// An <c>[ActivityTrigger]</c> function as the durable engine runs it: one per work item, in the work item's service
/// scope. Its context carries the orchestration's <c>instanceId</c> as binding data and the host's stopping token, so a
/// graceful stop ends a long step and the engine hands the work item back.
/// </summary>
internal sealed class FunctionActivity(ActivityTriggerFunction function, IServiceProvider scope) : ITaskActivity, IHostStoppingAware
{
    public CancellationToken HostStopping { get; set; }

    public Type InputType => function.InputType;

    public Type OutputType => function.OutputType;

    public Task<object?> RunAsync(TaskActivityContext context, object? input)
    {
        var invocation = new RunnerFunctionContext(function.Name, Guid.NewGuid().ToString("N"), scope, HostStopping,
            new Dictionary<string, object?> { [FunctionActivityContext.InstanceIdBindingData] = context.InstanceId });
        return function.Run(invocation, input);
    }
}
