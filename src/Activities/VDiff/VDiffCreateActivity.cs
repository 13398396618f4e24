using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.VDiff;

namespace Durable.Activities.VDiff;

/// <summary>Validates a VDiff and records it on every target shard; the uuid comes from the orchestration, so a redelivered create finds the rows it made.</summary>
public sealed class VDiffCreateActivity(IVDiffOperations operations) : DurableActivity<VDiffRunInput, string[]>
{
    public const string Name = "VDiff_Create";

    [Function(Name)]
    public Task<string[]> Run([ActivityTrigger] VDiffRunInput input, FunctionContext context) => RunAsync(input, context);

    protected override async Task<string[]> ExecuteAsync(TaskActivityContext context, VDiffRunInput input, CancellationToken cancellationToken)
    {
        var (_, shards) = await operations.CreateAsync(input.Workflow, input.Keyspace, input.Options, input.Uuid, cancellationToken).ConfigureAwait(false);
        return [.. shards];
    }
}
