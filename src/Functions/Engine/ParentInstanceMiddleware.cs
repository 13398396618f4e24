using DurableTask.Core;
using DurableTask.Core.Middleware;

namespace Durable.Functions.Engine;

/// <summary>
/// Tells a <see cref="RegisteredOrchestration"/> which instance called it. The framework hands the orchestration
/// object and the instance's runtime state to its dispatch middleware before running the episode; the object factory
/// alone never sees the state.
/// </summary>
internal static class ParentInstanceMiddleware
{
    public static Task InvokeAsync(DispatchMiddlewareContext context, Func<Task> next)
    {
        if (context.GetProperty<TaskOrchestration>() is RegisteredOrchestration orchestration &&
            context.GetProperty<OrchestrationRuntimeState>() is { } state)
        {
            orchestration.Parent = state.ParentInstance;
        }

        return next();
    }
}
