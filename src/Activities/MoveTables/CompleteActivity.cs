using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Complete: drops (or renames, or keeps) the source tables and removes guards, streams and routing rules; what is already gone is skipped.</summary>
public sealed class CompleteActivity(IMoveTablesOperations operations) : DurableActivity<CleanupRequest, bool>
{
    public const string Name = "MoveTables_Complete";

    [Function(Name)]
    public Task<bool> Run([ActivityTrigger] CleanupRequest input, FunctionContext context) => RunAsync(input, context);

    protected override async Task<bool> ExecuteAsync(TaskActivityContext context, CleanupRequest input, CancellationToken cancellationToken)
    {
        await operations.CompleteAsync(input, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
