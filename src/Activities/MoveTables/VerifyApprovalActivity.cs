using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Durable.Workflows;

namespace Durable.Activities.MoveTables;

/// <summary>
/// Checks a signed approval (key, action, workflow, expiry) and spends its nonce in etcd. Not yet idempotent: if this
/// activity is delivered again after the nonce was spent, the repeat is refused as a replay and the operator must
/// approve again (known gap, recorded in docs/movetables.md).
/// </summary>
public sealed class VerifyApprovalActivity(IMoveTablesOperations operations) : DurableActivity<VerifyApprovalRequest, ApprovalVerdict>
{
    public const string Name = "MoveTables_VerifyApproval";

    [Function(Name)]
    public Task<ApprovalVerdict> Run([ActivityTrigger] VerifyApprovalRequest input, FunctionContext context) => RunAsync(input, context);

    protected override Task<ApprovalVerdict> ExecuteAsync(TaskActivityContext context, VerifyApprovalRequest input, CancellationToken cancellationToken) =>
        operations.VerifyApprovalAsync(input, cancellationToken);
}
