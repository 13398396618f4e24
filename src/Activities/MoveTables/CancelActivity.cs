using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Cancel: removes what create made (streams, guards, routing rules, and the target tables unless kept); what is already gone is skipped.</summary>
public sealed class CancelActivity(IMoveTablesOperations operations) : DurableActivity<CleanupRequest, bool>
{
    public const string Name = "MoveTables_Cancel";

    [Function(Name)]
    public Task<bool> Run([ActivityTrigger] CleanupRequest input, FunctionContext context) => RunAsync(input, context);

    protected override async Task<bool> ExecuteAsync(TaskActivityContext context, CleanupRequest input, CancellationToken cancellationToken)
    {
        await operations.CancelAsync(input, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
