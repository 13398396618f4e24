using System.Diagnostics;
using System.Diagnostics.Metrics;
using DurableTask.Core;
using DurableTask.Core.Command;
using DurableTask.Core.History;
using DurableTask.Core.Middleware;

namespace Durable.Functions.Engine;

/// <summary>
/// The engine's instruments (meter "Durable.Engine"), taken from the Durable Task Framework's dispatch middleware:
/// orchestration episodes and completions by orchestrator and status, activity executions by activity and outcome, and
/// activity durations. The framework itself exports none, and operators watch these to see workflows progress.
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "Durable.Engine";

    private readonly Meter _meter;
    private readonly Counter<long> _episodes;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _activities;
    private readonly Histogram<double> _activityDuration;

    /// <param name="scope">Ties the meter to one host, so two hosts in one process (tests) each export their own.</param>
    public EngineMetrics(object? scope = null)
    {
        _meter = new Meter(new MeterOptions(MeterName) { Scope = scope });
        _episodes = _meter.CreateCounter<long>("durable_orchestration_episodes", description: "Orchestration episodes (replays that ran new events) by orchestrator.");
        _completed = _meter.CreateCounter<long>("durable_orchestration_completed", description: "Orchestrations that ended, by orchestrator and status (Completed, Failed, Terminated, ContinuedAsNew).");
        _activities = _meter.CreateCounter<long>("durable_activity_executions", description: "Activity executions by activity and outcome (succeeded, failed).");
        _activityDuration = _meter.CreateHistogram<double>("durable_activity_duration_seconds", unit: "s", description: "Activity execution time.");
    }

    internal async Task OnOrchestrationAsync(DispatchMiddlewareContext context, Func<Task> next)
    {
        await next().ConfigureAwait(false);
        var name = context.GetProperty<OrchestrationRuntimeState>()?.Name ?? "unknown";
        _episodes.Add(1, new KeyValuePair<string, object?>("orchestrator", name));
        var end = context.GetProperty<OrchestratorExecutionResult>()?.Actions?.OfType<OrchestrationCompleteOrchestratorAction>().FirstOrDefault();
        if (end is not null)
        {
            _completed.Add(1, new KeyValuePair<string, object?>("orchestrator", name), new KeyValuePair<string, object?>("status", end.OrchestrationStatus.ToString()));
        }
    }

    internal async Task OnActivityAsync(DispatchMiddlewareContext context, Func<Task> next)
    {
        var started = Stopwatch.GetTimestamp();
        await next().ConfigureAwait(false);
        var name = new KeyValuePair<string, object?>("activity", context.GetProperty<TaskScheduledEvent>()?.Name ?? "unknown");
        var outcome = context.GetProperty<ActivityExecutionResult>()?.ResponseEvent is TaskFailedEvent ? "failed" : "succeeded";
        _activities.Add(1, name, new KeyValuePair<string, object?>("outcome", outcome));
        _activityDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, name);
    }

    public void Dispose() => _meter.Dispose();
}
