using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.VDiff;

namespace Durable.Activities.VDiff;

/// <summary>
/// Reads the latest completed VDiff of a workflow from its target shards' sidecars (operator-run or scheduled), for the
/// MoveTables workflow's VDiff gate; reads only. Null when none has completed.
/// </summary>
public sealed class VDiffLatestActivity(VDiffService vdiff) : DurableActivity<VDiffRunInput, VDiffSummary?>
{
    public const string Name = "VDiff_Latest";

    [Function(Name)]
    public Task<VDiffSummary?> Run([ActivityTrigger] VDiffRunInput input, FunctionContext context) => RunAsync(input, context);

    protected override Task<VDiffSummary?> ExecuteAsync(TaskActivityContext context, VDiffRunInput input, CancellationToken cancellationToken) =>
        vdiff.LatestCompletedAsync(input.Workflow, input.Keyspace, cancellationToken);
}
