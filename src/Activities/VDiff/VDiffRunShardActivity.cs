using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.VDiff;

namespace Durable.Activities.VDiff;

/// <summary>Compares one shard for at most the input's budget, checkpointing per chunk in the sidecar; a repeat continues from the last checkpoint.</summary>
public sealed class VDiffRunShardActivity(IVDiffOperations operations) : DurableActivity<VDiffShardInput, string>
{
    public const string Name = "VDiff_RunShard";

    [Function(Name)]
    public Task<string> Run([ActivityTrigger] VDiffShardInput input, FunctionContext context) => RunAsync(input, context);

    protected override Task<string> ExecuteAsync(TaskActivityContext context, VDiffShardInput input, CancellationToken cancellationToken) =>
        operations.RunShardAsync(input.Uuid, input.Workflow, input.Keyspace, input.Shard, TimeSpan.FromSeconds(input.BudgetSeconds), cancellationToken);
}
