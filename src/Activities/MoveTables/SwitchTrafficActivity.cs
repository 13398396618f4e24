using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>SwitchTraffic/ReverseTraffic: reads per tablet type and, for PRIMARY, the write cutover under the journal; a redelivered request with the same intent id gets the recorded answer.</summary>
public sealed class SwitchTrafficActivity(IMoveTablesOperations operations) : DurableActivity<SwitchRequest, SwitchResult>
{
    public const string Name = "MoveTables_Switch";

    [Function(Name)]
    public Task<SwitchResult> Run([ActivityTrigger] SwitchRequest input, FunctionContext context) => RunAsync(input, context);

    protected override Task<SwitchResult> ExecuteAsync(TaskActivityContext context, SwitchRequest input, CancellationToken cancellationToken) =>
        operations.SwitchAsync(input, cancellationToken);
}
