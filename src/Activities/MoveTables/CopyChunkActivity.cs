using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Copies one bounded chunk of one stream; the stream row (lastpk, position, owner epoch) makes a repeated chunk start where the last commit left off.</summary>
public sealed class CopyChunkActivity(IMoveTablesOperations operations) : DurableActivity<CopyInput, CopyChunkResult>
{
    public const string Name = "MoveTables_CopyChunk";

    [Function(Name)]
    public Task<CopyChunkResult> Run([ActivityTrigger] CopyInput input, FunctionContext context) => RunAsync(input, context);

    protected override Task<CopyChunkResult> ExecuteAsync(TaskActivityContext context, CopyInput input, CancellationToken cancellationToken) =>
        operations.CopyChunkAsync(input.Spec, input.Stream, cancellationToken);
}
