using Durable.Functions.Metrics;
using Durable.Functions.Queues;
using Durable.Functions.Storage;
using Durable.Functions.Timers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Runner;

/// <summary>
/// Runs the queue and timer triggers for the life of the host. On shutdown it stops taking new work and waits for
/// running functions (bounded by the host's shutdown timeout); queue messages a handler did not finish go back to
/// the queue for another replica.
/// </summary>
public sealed class TriggerHostService(
    TriggerRegistry registry,
    FunctionsHostSettings settings,
    IServiceProvider services,
    FunctionsMetrics metrics,
    ILoggerFactory loggers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var log = loggers.CreateLogger("Durable.Functions.Host");
        if (registry.Disabled.Count > 0)
        {
            log.LogInformation("Functions disabled by AzureWebJobs.<name>.Disabled: {Functions}.", string.Join(", ", registry.Disabled));
        }

        var runs = new List<Task>();
        if (registry.Queues.Count > 0)
        {
            var queues = services.GetRequiredService<ITriggerQueues>();
            foreach (var (function, queue) in registry.Queues)
            {
                var listener = new QueueTriggerListener(function, queue, queues, settings.HostJson.Queues, settings.HostJson.FunctionTimeout,
                    services, loggers.CreateLogger($"Function.{function.Name}"), metrics);
                runs.Add(Supervise(function.Name, () => listener.RunAsync(stoppingToken), log, stoppingToken));
            }
        }

        if (registry.Timers.Count > 0)
        {
            var store = services.GetRequiredService<IScheduleStore>();
            foreach (var (function, schedule) in registry.Timers)
            {
                var listener = new TimerTriggerListener(function, schedule, store, settings.ReplicaId, settings.HostJson.FunctionTimeout,
                    services, loggers.CreateLogger($"Function.{function.Name}"), metrics);
                runs.Add(Supervise(function.Name, () => listener.RunAsync(stoppingToken), log, stoppingToken));
            }
        }

        await Task.WhenAll(runs).ConfigureAwait(false);
        log.LogInformation("Triggers stopped.");
    }

    /// <summary>Restarts a listener that failed (e.g. storage was down at start) after a pause, until shutdown.</summary>
    private static async Task Supervise(string name, Func<Task> run, ILogger log, CancellationToken stopping)
    {
        var pause = TimeSpan.FromSeconds(1);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await run().ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                log.LogError(e, "Trigger of function {Function} failed; restarting it in {Pause}.", name, pause);
                try
                {
                    await Task.Delay(pause, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }
}
