using Durable.DurableTask;
using Durable.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Orchestrations;

/// <summary>Registers class-based activities whose dependencies come from the composition root's service provider.</summary>
public static class ActivityRegistration
{
    /// <summary>
    /// Adds <typeparamref name="TActivity"/> under <paramref name="name"/>: a new instance per work item, its constructor
    /// dependencies resolved from <paramref name="services"/> (all singletons of the engine: an activity holds no state).
    /// </summary>
    public static DurableTaskRegistry AddActivity<TActivity>(this DurableTaskRegistry registry, string name, IServiceProvider services)
        where TActivity : ITaskActivity =>
        registry.AddActivity(name, () => ActivatorUtilities.CreateInstance<TActivity>(services));
}
