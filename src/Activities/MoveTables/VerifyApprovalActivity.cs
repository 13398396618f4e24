using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>
/// Checks a signed approval against the workflow as the orchestration sees it (key, approver, workflow, pending action,
/// traffic generation, expiry) and spends its nonce in etcd. Idempotent: the nonce record names the pending command it
/// was spent on, so a redelivery of this activity for the same command is accepted again, while any other use of the
/// nonce is refused as a replay.
/// </summary>
public sealed class VerifyApprovalActivity(IMoveTablesOperations operations) : DurableActivity<VerifyApprovalRequest, ApprovalVerdict>
{
    public const string Name = "MoveTables_VerifyApproval";

    [Function(Name)]
    public Task<ApprovalVerdict> Run([ActivityTrigger] VerifyApprovalRequest input, FunctionContext context) => RunAsync(input, context);

    protected override Task<ApprovalVerdict> ExecuteAsync(TaskActivityContext context, VerifyApprovalRequest input, CancellationToken cancellationToken) =>
        operations.VerifyApprovalAsync(input, cancellationToken);
}
