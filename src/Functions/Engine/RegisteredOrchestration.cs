using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Worker.Shims;
using DtfxParent = DurableTask.Core.ParentInstance;

namespace Durable.Functions.Engine;

/// <summary>
/// One registered Microsoft.DurableTask orchestrator as the Durable Task Framework sees it. The worker's shim is made
/// on the first episode, not when the framework creates this object: the framework creates it before it knows which
/// instance will run, and the shim must be told the instance's parent (see <see cref="ParentInstanceMiddleware"/>) so
/// that a sub-orchestration's <c>context.Parent</c> names its caller.
/// </summary>
internal sealed class RegisteredOrchestration(TaskName name, Func<ITaskOrchestrator> factory, DurableTaskShimFactory shims) : TaskOrchestration
{
    private TaskOrchestration? _shim;

    /// <summary>Set by the dispatch middleware from the instance's runtime state before the first episode runs.</summary>
    public DtfxParent? Parent { get; set; }

    public override Task<string> Execute(OrchestrationContext context, string input) => Shim().Execute(context, input);

    public override string GetStatus() => Shim().GetStatus();

    public override void RaiseEvent(OrchestrationContext context, string name, string input) => Shim().RaiseEvent(context, name, input);

    private TaskOrchestration Shim() => _shim ??= shims.CreateOrchestration(name, factory(), ToParent(Parent));

    private static ParentOrchestrationInstance? ToParent(DtfxParent? parent) =>
        parent is null ? null : new ParentOrchestrationInstance(parent.Name, parent.OrchestrationInstance.InstanceId);
}
