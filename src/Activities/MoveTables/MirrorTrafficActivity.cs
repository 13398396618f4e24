using Durable.Topology;
using Durable.Workflows;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace Durable.Activities.MoveTables;

/// <summary>MirrorTraffic: writes the workflow's mirror rules (replacing its earlier ones for the tablet types); running it twice writes the same rules.</summary>
public sealed class MirrorTrafficActivity(TopologyStore store) : DurableActivity<MirrorTrafficRequest, string>
{
    public const string Name = "MoveTables_MirrorTraffic";

    [Function(Name)]
    public Task<string> Run([ActivityTrigger] MirrorTrafficRequest input, FunctionContext context) => RunAsync(input, context);

    protected override async Task<string> ExecuteAsync(TaskActivityContext context, MirrorTrafficRequest input, CancellationToken cancellationToken)
    {
        var state = input.State;
        var rules = await new WorkflowMirrorRules(store).ApplyAsync(state.Spec, state.Tables, input.Options, cancellationToken).ConfigureAwait(false);
        return WorkflowMirrorRules.Summary(state, input.Options, rules);
    }
}
