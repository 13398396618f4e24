using Durable.Activities;
using Microsoft.DurableTask;

namespace Durable.Engine.TestHost;

/// <summary>How this host's steps behave: which one, if any, runs until the host stops.</summary>
internal sealed record StepBehaviour(int? SlowStep, string WorkerId);

/// <summary>
/// The chain's step, on the product's activity base (<see cref="DurableActivity{TInput,TOutput}"/>: the host's stopping
/// token reaches it, so a graceful stop ends a slow step and the engine abandons its work item).
/// </summary>
internal sealed class StepActivity(Ledger ledger, StepBehaviour behaviour) : DurableActivity<int, string>
{
    protected override async Task<string> ExecuteAsync(TaskActivityContext context, int input, CancellationToken cancellationToken)
    {
        await ledger.RunAsync(context.InstanceId, input);
        if (behaviour.SlowStep == input)
        {
            // Far longer than any test waits: the step ends when the host stops (the token) or dies.
            await Task.Delay(TimeSpan.FromMinutes(10), cancellationToken);
        }

        await ledger.EffectOnceAsync(context.InstanceId, input, behaviour.WorkerId);
        return HostContract.StepOutput(input);
    }
}
