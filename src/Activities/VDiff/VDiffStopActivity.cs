using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.VDiff;

namespace Durable.Activities.VDiff;

/// <summary>Stops a running VDiff on every shard (its shard loops see it at their next checkpoint); stopping a stopped one changes nothing.</summary>
public sealed class VDiffStopActivity(IVDiffOperations operations) : DurableActivity<VDiffRunInput, int>
{
    public const string Name = "VDiff_Stop";

    [Function(Name)]
    public Task<int> Run([ActivityTrigger] VDiffRunInput input, FunctionContext context) => RunAsync(input, context);

    protected override Task<int> ExecuteAsync(TaskActivityContext context, VDiffRunInput input, CancellationToken cancellationToken) =>
        operations.StopAsync(input.Workflow, input.Keyspace, input.Uuid!, cancellationToken);
}
