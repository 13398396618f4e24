using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>Starts (hands to the Streamer) or stops the forward streams; setting a state a stream already has changes nothing.</summary>
public sealed class StreamsActivity(IMoveTablesOperations operations) : DurableActivity<StreamsRequest, bool>
{
    public const string Name = "MoveTables_Streams";

    protected override async Task<bool> ExecuteAsync(TaskActivityContext context, StreamsRequest input, CancellationToken cancellationToken)
    {
        await operations.SetStreamsAsync(input, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
