using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Reads copy progress, lag and stream errors; reads only.</summary>
public sealed class ProgressActivity(IMoveTablesOperations operations) : DurableActivity<WorkflowState, ProgressResult>
{
    public const string Name = "MoveTables_Progress";

    [Function(Name)]
    public Task<ProgressResult> Run([ActivityTrigger] WorkflowState input, FunctionContext context) => RunAsync(input, context);

    protected override Task<ProgressResult> ExecuteAsync(TaskActivityContext context, WorkflowState input, CancellationToken cancellationToken) =>
        operations.ProgressAsync(input, cancellationToken);
}
