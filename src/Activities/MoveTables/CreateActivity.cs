using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Registers the workflow, creates the target tables, guards, routing rules and streams; each step finds what an earlier attempt made.</summary>
public sealed class CreateActivity(IMoveTablesOperations operations) : DurableActivity<CreateInput, CreateResult>
{
    public const string Name = "MoveTables_Create";

    [Function(Name)]
    public Task<CreateResult> Run([ActivityTrigger] CreateInput input, FunctionContext context) => RunAsync(input, context);

    protected override Task<CreateResult> ExecuteAsync(TaskActivityContext context, CreateInput input, CancellationToken cancellationToken) =>
        operations.CreateAsync(input.Spec, input.Tables, cancellationToken);
}
