using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Starts (hands to the Streamer) or stops the forward streams; setting a state a stream already has changes nothing.</summary>
public sealed class StreamsActivity(IMoveTablesOperations operations) : DurableActivity<StreamsRequest, bool>
{
    public const string Name = "MoveTables_Streams";

    [Function(Name)]
    public Task<bool> Run([ActivityTrigger] StreamsRequest input, FunctionContext context) => RunAsync(input, context);

    protected override async Task<bool> ExecuteAsync(TaskActivityContext context, StreamsRequest input, CancellationToken cancellationToken)
    {
        await operations.SetStreamsAsync(input, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
