using System.Reflection;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace Durable.Functions.Orchestrations;

/// <summary>
/// Registers activity classes directly on a registry under the names of their <c>[Function]</c> entry points, for
/// engine-level test beds that run no Functions app: the same list and the same names the app binds, so the two
/// cannot drift apart.
/// </summary>
internal static class ActivityFunctionNames
{
    public static void Register(DurableTaskRegistry registry, IEnumerable<Type> activityClasses)
    {
        foreach (var type in activityClasses)
        {
            registry.AddActivity(NameOf(type), type);
        }
    }

    public static string NameOf(Type activityClass) =>
        activityClass.GetMethods().Select(m => m.GetCustomAttribute<FunctionAttribute>()).Single(a => a is not null)!.Name;
}
