using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace Durable.Activities;

/// <summary>
/// The activity context a function-triggered activity sees: its name is the function's, and its orchestration
/// instance is the <c>instanceId</c> binding data the activity trigger carries (Durable Functions' isolated worker
/// and the local runner both set it).
/// </summary>
public sealed class FunctionActivityContext(FunctionContext function) : TaskActivityContext
{
    public const string InstanceIdBindingData = "instanceId";

    public override TaskName Name => new(function.FunctionDefinition.Name);

    public override string InstanceId =>
        function.BindingContext.BindingData.TryGetValue(InstanceIdBindingData, out var id) && id is not null ? id.ToString()! : "";
}
