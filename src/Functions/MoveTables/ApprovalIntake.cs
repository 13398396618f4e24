using Durable.Functions.Orchestrations;
using Durable.Workflows;
using Microsoft.DurableTask.Client;

namespace Durable.Functions.MoveTables;

/// <summary>Why an approval was not let in; <see cref="BadSignature"/> tells a forged or unsigned one from a malformed one.</summary>
public sealed class ApprovalRefusedException(string reason, bool badSignature = false) : Exception(reason)
{
    public bool BadSignature { get; } = badSignature;
}

/// <summary>
/// The one way in for approvals, shared by <c>POST /api/movetables/{ks}/{wf}/approve</c> and the approvals queue: the
/// documented payload (<see cref="SignedApproval.Parse(string)"/>), signed with a key this host knows for its approver,
/// addressed to a running MoveTables or Migrate workflow. Only then does it become an Approve command; the workflow
/// then checks it against the pending action and the traffic generation and audits its decision. A forged or malformed
/// approval never reaches the workflow.
/// </summary>
public static class ApprovalIntake
{
    /// <summary>Reads and authenticates the payload; throws <see cref="ApprovalRefusedException"/> naming what is wrong.</summary>
    public static SignedApproval Read(string json, IApproverKeys keys)
    {
        SignedApproval approval;
        try
        {
            approval = SignedApproval.Parse(json);
        }
        catch (WorkflowValidationException e)
        {
            throw new ApprovalRefusedException(e.Message);
        }

        if (ApprovalSignature.Refusal(keys, approval) is { } bad)
        {
            throw new ApprovalRefusedException($"The approval of {approval.Action} on {approval.InstanceId} by '{approval.Approver}' is refused: {bad}.", badSignature: true);
        }

        return approval;
    }

    /// <summary>The instance must be a MoveTables or Migrate workflow that is still running (one orchestrator serves both).</summary>
    public static async Task CheckInstanceAsync(DurableTaskClient client, string instanceId, CancellationToken ct)
    {
        var meta = await client.GetInstanceAsync(instanceId, false, ct).ConfigureAwait(false)
            ?? throw new ApprovalRefusedException($"The approval names instance '{instanceId}', which does not exist: a workflow's instance is movetables:<target keyspace>.<workflow> or migrate:<target keyspace>.<workflow>.");
        if (!string.Equals(meta.Name, MoveTablesOrchestration.Name, StringComparison.Ordinal))
        {
            throw new ApprovalRefusedException($"The approval names instance '{instanceId}', a {meta.Name} orchestration: approvals go only to MoveTables and Migrate workflows.");
        }

        if (!meta.IsRunning)
        {
            throw new ApprovalRefusedException($"The approval names workflow instance '{instanceId}', which is {meta.RuntimeStatus}: it takes no more commands.");
        }
    }

    /// <summary>The Approve command the workflow receives: the approver is who asked.</summary>
    public static WorkflowCommand Command(SignedApproval approval, string requestId) => new()
    {
        Action = WorkflowActions.Approve,
        RequestId = requestId,
        RequestedBy = approval.Approver,
        Approval = approval,
    };
}
