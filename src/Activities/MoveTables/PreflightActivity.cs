using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Every check before anything changes (binlog settings, retention, privileges, keys, overlapping workflows); reads only.</summary>
public sealed class PreflightActivity(IMoveTablesOperations operations) : DurableActivity<MoveTablesCreate, PreflightResult>
{
    public const string Name = "MoveTables_Preflight";

    [Function(Name)]
    public Task<PreflightResult> Run([ActivityTrigger] MoveTablesCreate input, FunctionContext context) => RunAsync(input, context);

    protected override Task<PreflightResult> ExecuteAsync(TaskActivityContext context, MoveTablesCreate input, CancellationToken cancellationToken) =>
        operations.PreflightAsync(input, cancellationToken);
}
