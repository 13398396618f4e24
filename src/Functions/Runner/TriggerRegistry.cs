using Durable.Functions.Storage;
using Durable.Functions.Timers;
using Microsoft.Extensions.Configuration;

namespace Durable.Functions.Runner;

/// <summary>
/// The app's functions as registered in DI, validated and with %Setting% references resolved: duplicate names, HTTP
/// routes, bad queue names or bad schedules stop the host at start-up with a message naming the function.
/// Functions switched off with <c>AzureWebJobs.&lt;name&gt;.Disabled</c> are left out.
/// </summary>
public sealed class TriggerRegistry
{
    public TriggerRegistry(FunctionCatalog catalog, IConfiguration appSettings, IEnumerable<AppSettingDefault> defaults)
    {
        // The app's defaults sit under every other source: a setting that is present always wins.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(defaults.Select(d => new KeyValuePair<string, string?>(d.Name, d.Value)))
            .AddConfiguration(appSettings)
            .Build();
        var all = catalog.Functions.ToList();
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

        Orchestrations = enabled.OfType<OrchestrationTriggerFunction>().ToList();
        Activities = enabled.OfType<ActivityTriggerFunction>().ToList();
        Queues = enabled.OfType<QueueTriggerFunction>().Select(f =>
        {
            CheckConnection(f, configuration);
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

    public IReadOnlyList<OrchestrationTriggerFunction> Orchestrations { get; }

    public IReadOnlyList<ActivityTriggerFunction> Activities { get; }

    /// <summary>Every enabled function's name, as the runner serves them.</summary>
    public IReadOnlyList<string> Names => [.. Http.Select(f => f.Name), .. Queues.Select(q => q.Function.Name), .. Timers.Select(t => t.Function.Name),
        .. Orchestrations.Select(f => f.Name), .. Activities.Select(f => f.Name)];

    public IReadOnlyList<(QueueTriggerFunction Function, string Queue)> Queues { get; }

    public IReadOnlyList<(TimerTriggerFunction Function, CronSchedule Schedule)> Timers { get; }

    public IReadOnlyList<string> Disabled { get; }

    /// <summary>
    /// The runner reads every trigger queue from the one storage account of AzureWebJobsStorage (the task hub's); a
    /// function naming another connection must name a setting that holds the same account, or it would silently listen
    /// to the wrong queue.
    /// </summary>
    private static void CheckConnection(QueueTriggerFunction f, IConfiguration configuration)
    {
        const string Default = FunctionsHostSettings.StorageSetting;
        if (string.IsNullOrEmpty(configuration[Default]))
        {
            throw new InvalidOperationException($"Function {f.Name} is a queue trigger but {Default} is not set; set it to the storage account's connection string (e.g. UseDevelopmentStorage=true for Azurite).");
        }

        if (string.IsNullOrEmpty(f.Connection) || f.Connection == Default)
        {
            return;
        }

        var value = configuration[f.Connection] ?? configuration["AzureWebJobs" + f.Connection];
        if (string.IsNullOrEmpty(value))
        {
            throw new InvalidOperationException($"Function {f.Name}: its queue connection '{f.Connection}' is not set; set {f.Connection} to a storage connection string (e.g. UseDevelopmentStorage=true), or drop Connection to use {Default}.");
        }

        if (value != configuration[Default])
        {
            throw new InvalidOperationException($"Function {f.Name}: its queue connection '{f.Connection}' names another storage account than {Default}; the local runner reads trigger queues from {Default} only: point both at the same account.");
        }
    }
}
