using Durable.Functions.MoveTables;
using Durable.Functions.Orchestrations;
using Durable.Functions.Queues;
using Durable.Functions.Runner;
using Durable.Workflows;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.App;

/// <summary>
/// Chat-ops approvals arriving on the approvals queue (<c>%DURABLE_APPROVALS_QUEUE%</c>). A message is exactly the
/// signed approval documented in docs/approvals.md, the same object <c>POST …/approve</c> takes; it is checked through
/// <see cref="ApprovalIntake"/> (shape, signature, a running workflow) before anything is raised, and then only as the
/// workflow's Approve command. Anything else is refused with <see cref="PoisonMessageException"/>: it lands in the
/// poison queue with its reason logged, and no workflow sees it.
/// </summary>
public sealed class ApprovalsQueue(IApproverKeys keys)
{
    /// <summary>The request id of a queued approval: the message id, so a redelivered message is recognisably the same request.</summary>
    public const string RequestIdPrefix = "queue-";

    [Function("Approvals")]
    public async Task Approvals(
        [QueueTrigger($"%{DurableApp.ApprovalsQueueSetting}%")] string message,
        [DurableClient] DurableTaskClient client,
        FunctionContext context)
    {
        var id = context.BindingContext.BindingData.TryGetValue("Id", out var v) && v?.ToString() is { Length: > 0 } m ? m : context.InvocationId;
        var ct = context.CancellationToken;
        SignedApproval approval;
        try
        {
            approval = ApprovalIntake.Read(message, keys);
            await ApprovalIntake.CheckInstanceAsync(client, approval.InstanceId, ct).ConfigureAwait(false);
        }
        catch (ApprovalRefusedException e)
        {
            // Logged here as well as by the runner's poison move: on Azure the host retries first and logs its own words.
            context.Logger.LogWarning("Approvals: message {MessageId} refused, nothing raised: {Reason}", id, e.Message);
            throw new PoisonMessageException(e.Message);
        }

        var command = ApprovalIntake.Command(approval, RequestIdPrefix + id);
        await client.RaiseEventAsync(approval.InstanceId, MoveTablesOrchestration.CommandEvent, command, ct).ConfigureAwait(false);
        context.Logger.LogInformation(
            "Approvals: {Action} for traffic generation {Generation} by {Approver} sent to {Instance} as request {Request}; the workflow decides and audits it.",
            approval.Action, approval.Generation, approval.Approver, approval.InstanceId, command.RequestId);
    }
}
