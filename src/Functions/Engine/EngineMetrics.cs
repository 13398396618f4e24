using System.Diagnostics;
using System.Diagnostics.Metrics;
using DurableTask.Core;
using DurableTask.Core.Command;
using DurableTask.Core.History;
using DurableTask.Core.Middleware;
using Durable.Functions.Telemetry;

namespace Durable.Functions.Engine;

/// <summary>
/// The engine's instruments (meter "Durable.Engine"), taken from the Durable Task Framework's dispatch middleware:
/// orchestration episodes and completions by orchestrator and status, activity executions by activity and outcome, and
/// activity durations. The framework itself exports none, and operators watch these to see workflows progress. The same
/// middleware makes a span per orchestration episode and per activity execution (<see cref="DurableActivitySources.Engine"/>).
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
        _activityDuration = _meter.CreateHistogram("durable_activity_duration_seconds", unit: "s", description: "Activity execution time.", tags: null, advice: DurationBuckets.Seconds);
    }

    internal async Task OnOrchestrationAsync(DispatchMiddlewareContext context, Func<Task> next)
    {
        using var span = DurableActivitySources.Engine.StartActivity("orchestration episode");
        await next().ConfigureAwait(false);
        var name = context.GetProperty<OrchestrationRuntimeState>()?.Name ?? "unknown";
        _episodes.Add(1, new KeyValuePair<string, object?>("orchestrator", name));
        var end = context.GetProperty<OrchestratorExecutionResult>()?.Actions?.OfType<OrchestrationCompleteOrchestratorAction>().FirstOrDefault();
        if (end is not null)
        {
            _completed.Add(1, new KeyValuePair<string, object?>("orchestrator", name), new KeyValuePair<string, object?>("status", end.OrchestrationStatus.ToString()));
        }

        if (span is not null)
        {
            // The name is known only once the episode ran (the runtime state is loaded inside the dispatch).
            span.DisplayName = $"orchestration {name}";
            span.SetTag("durable.orchestrator", name);
            span.SetTag("durable.instance_id", context.GetProperty<OrchestrationInstance>()?.InstanceId);
            if (end is not null)
            {
                span.SetTag("durable.status", end.OrchestrationStatus.ToString());
                if (end.OrchestrationStatus == OrchestrationStatus.Failed)
                {
                    span.SetStatus(ActivityStatusCode.Error);
                }
            }
        }
    }

    internal async Task OnActivityAsync(DispatchMiddlewareContext context, Func<Task> next)
    {
        var started = Stopwatch.GetTimestamp();
        var activity = context.GetProperty<TaskScheduledEvent>()?.Name ?? "unknown";
        using var span = DurableActivitySources.Engine.StartActivity($"activity {activity}");
        span?.SetTag("durable.activity", activity);
        span?.SetTag("durable.instance_id", context.GetProperty<OrchestrationInstance>()?.InstanceId);
        await next().ConfigureAwait(false);
        var name = new KeyValuePair<string, object?>("activity", activity);
        var outcome = context.GetProperty<ActivityExecutionResult>()?.ResponseEvent is TaskFailedEvent ? "failed" : "succeeded";
        _activities.Add(1, name, new KeyValuePair<string, object?>("outcome", outcome));
        _activityDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, name);
        if (outcome == "failed")
        {
            span?.SetStatus(ActivityStatusCode.Error);
        }
    }

    public void Dispose() => _meter.Dispose();
}
