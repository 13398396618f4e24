using Microsoft.DurableTask;

namespace Durable.Functions.Runner;

/// <summary>
/// An <c>[OrchestrationTrigger]</c> function as the durable engine runs it. The engine deserializes the input to the
/// function's input parameter type, so <c>context.GetInput&lt;T&gt;()</c> and the parameter see the same value.
/// </summary>
internal sealed class FunctionOrchestrator(OrchestrationTriggerFunction function, IServiceProvider services) : ITaskOrchestrator
{
    public Type InputType => function.InputType;

    public Type OutputType => function.OutputType;

    public Task<object?> RunAsync(TaskOrchestrationContext context, object? input) => function.Run(services, context, input);
}
