using Durable.Functions.Storage;
using Durable.Functions.Timers;
using Microsoft.Extensions.Configuration;

namespace Durable.Functions.Hosting;

/// <summary>
/// The app's functions as registered in DI, validated and with %Setting% references resolved: duplicate names, HTTP
/// routes, bad queue names or bad schedules stop the host at start-up with a message naming the function.
/// Functions switched off with <c>AzureWebJobs.&lt;name&gt;.Disabled</c> are left out.
/// </summary>
public sealed class TriggerRegistry
{
    public TriggerRegistry(IEnumerable<FunctionDefinition> functions, IConfiguration configuration)
    {
        var all = functions.ToList();
        var duplicate = all.GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Function name '{duplicate.Key}' is registered {duplicate.Count()} times; function names must be unique.");
        }

        var enabled = all.Where(f => !FunctionsHostSettings.IsDisabled(f.Name, configuration)).ToList();
        Disabled = all.Except(enabled).Select(f => f.Name).ToList();
        Http = enabled.OfType<HttpTriggerFunction>().ToList();
        var routeClash = Http.SelectMany(f => f.Methods.Select(m => (f.Name, Key: m + " " + f.Route.ToLowerInvariant())))
            .GroupBy(x => x.Key).FirstOrDefault(g => g.Count() > 1);
        if (routeClash is not null)
        {
            throw new InvalidOperationException($"Functions {string.Join(" and ", routeClash.Select(x => x.Name))} both answer {routeClash.Key}; give one of them another route.");
        }

        Queues = enabled.OfType<QueueTriggerFunction>().Select(f =>
        {
            var queue = FunctionsHostSettings.Resolve(f.QueueName, configuration, $"queue name of function {f.Name}");
            try
            {
                AzureTriggerStorage.ValidateQueueName(queue);
                // The poison queue appends "-poison"; it must be a valid name too.
                AzureTriggerStorage.ValidateQueueName(queue + "-poison");
            }
            catch (ArgumentException e)
            {
                throw new InvalidOperationException($"Function {f.Name}: {e.Message} (the poison queue '{queue}-poison' must fit in 63 characters as well).", e);
            }

            return (f, queue);
        }).ToList();

        Timers = enabled.OfType<TimerTriggerFunction>().Select(f =>
        {
            var expression = FunctionsHostSettings.Resolve(f.ScheduleExpression, configuration, $"schedule of function {f.Name}");
            try
            {
                return (f, CronSchedule.Parse(expression));
            }
            catch (FormatException e)
            {
                throw new InvalidOperationException($"Function {f.Name}: {e.Message}", e);
            }
        }).ToList();
    }

    public IReadOnlyList<HttpTriggerFunction> Http { get; }

    public IReadOnlyList<(QueueTriggerFunction Function, string Queue)> Queues { get; }

    public IReadOnlyList<(TimerTriggerFunction Function, CronSchedule Schedule)> Timers { get; }

    public IReadOnlyList<string> Disabled { get; }
}
