using System.Diagnostics;
using System.Diagnostics.Metrics;
using Durable.Core.Faults;
using Durable.DurableTask.History;
using Durable.DurableTask.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.DurableTask.Worker;

/// <summary>
/// Pulls orchestration and activity work items from a task hub and runs them with bounded concurrency. Orchestration
/// episodes are replayed by <see cref="OrchestrationEpisode"/>; activities run with their message lock renewed, and
/// their result is sent before their message is deleted, so a crash re-runs an activity at most once more but never
/// loses its result.
/// </summary>
public sealed class DurableTaskWorker : IAsyncDisposable
{
    /// <summary>The meter the worker reports to; the Functions host exports it on /metrics.</summary>
    public const string MeterName = "Durable.DurableTask";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> EpisodeCounter = Meter.CreateCounter<long>("durable.orchestration.episodes", description: "Orchestration episodes executed");
    private static readonly Counter<long> OrchestrationEnded = Meter.CreateCounter<long>("durable.orchestration.completed", description: "Orchestration executions that ended, by status");
    private static readonly Counter<long> ActivityCounter = Meter.CreateCounter<long>("durable.activity.executions", description: "Activity executions, by outcome");
    private static readonly Histogram<double> ActivityDuration = Meter.CreateHistogram<double>("durable.activity.duration", unit: "s");
    private static readonly Histogram<double> QueueLatency = Meter.CreateHistogram<double>("durable.queue.latency", unit: "s", description: "Time from scheduling to dequeue");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>("durable.dispatch.failures", description: "Work items abandoned by the dispatcher");

    private readonly IOrchestrationService _service;
    private readonly DurableTaskRegistry _registry;
    private readonly DurableTaskWorkerOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _orchestrationSlots;
    private readonly SemaphoreSlim _activitySlots;
    private readonly List<Task> _inFlight = new();
    private CancellationTokenSource? _stopping;
    private Task? _orchestrationLoop;
    private Task? _activityLoop;

    public DurableTaskWorker(IOrchestrationService service, DurableTaskRegistry registry, DurableTaskWorkerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _service = service ?? throw new ArgumentNullException(nameof(service));
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _options = options ?? new DurableTaskWorkerOptions();
        if (_options.MaxConcurrentOrchestrations < 1 || _options.MaxConcurrentActivities < 1)
        {
            throw new ArgumentException(
                $"MaxConcurrentOrchestrations ({_options.MaxConcurrentOrchestrations}) and MaxConcurrentActivities ({_options.MaxConcurrentActivities}) must be at least 1.",
                nameof(options));
        }

        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<DurableTaskWorker>();
        _orchestrationSlots = new SemaphoreSlim(_options.MaxConcurrentOrchestrations);
        _activitySlots = new SemaphoreSlim(_options.MaxConcurrentActivities);
    }

    public DurableTaskRegistry Registry => _registry;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_stopping is not null)
        {
            throw new InvalidOperationException("The worker is already started.");
        }

        await _service.CreateIfNotExistsAsync(cancellationToken);
        WarmUp();
        await _service.StartAsync(cancellationToken);
        _stopping = new CancellationTokenSource();
        _orchestrationLoop = Task.Run(() => OrchestrationLoopAsync(_stopping.Token), CancellationToken.None);
        _activityLoop = Task.Run(() => ActivityLoopAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>
    /// Runs a throw-away two-episode orchestration (schedule an activity, apply its completion, finish) entirely in
    /// memory, so the JIT and System.Text.Json's per-type metadata are paid while the host starts, not by the first
    /// workflow after it: measured on Azurite that first workflow's episodes took 5-10x their steady-state time.
    /// </summary>
    internal static void WarmUp()
    {
        var registry = new DurableTaskRegistry()
            .AddOrchestratorFunc<int, int>("Durable.WarmUp", static async (ctx, n) => await ctx.CallActivityAsync<int>("Durable.WarmUp.Activity", n));
        var now = DateTime.UtcNow;
        var start = new TaskMessage
        {
            InstanceId = "warm-up",
            ExecutionId = "warm-up",
            Event = new ExecutionStartedEvent { OrchestrationInstance = new OrchestrationInstanceRef("warm-up", "warm-up"), Name = "Durable.WarmUp", Input = "1", Timestamp = now },
        };
        var first = OrchestrationEpisode.Run(new OrchestrationWorkItem { InstanceId = "warm-up", Messages = [new ReceivedMessage(start, 1, new object())] }, registry, new DurableTaskWorkerOptions(), now);
        var state = RuntimeJson.Deserialize<OrchestrationState>(RuntimeJson.Serialize(first.Commit?.NewState
            ?? throw new InvalidOperationException($"The warm-up orchestration did not start: {first.AbandonReason}")));
        var scheduled = RuntimeJson.Deserialize<TaskMessage>(RuntimeJson.Serialize(first.Commit.ActivityMessages[0]));
        var reply = new TaskMessage
        {
            InstanceId = "warm-up",
            ExecutionId = "warm-up",
            Event = new TaskCompletedEvent { TaskScheduledId = scheduled.Event.EventId, Result = "1", Timestamp = now },
        };
        var second = OrchestrationEpisode.Run(new OrchestrationWorkItem { InstanceId = "warm-up", State = state, Messages = [new ReceivedMessage(reply, 1, new object())] }, registry, new DurableTaskWorkerOptions(), now);
        if (second.Commit?.NewState is not { Status: Client.OrchestrationRuntimeStatus.Completed })
        {
            throw new InvalidOperationException($"The warm-up orchestration did not complete ({second.Commit?.NewState?.Status}): the runtime is broken.");
        }
    }

    /// <summary>Stops taking work, waits for in-flight work items (up to the token), then releases the hub's partitions.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopping is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        await Task.WhenAll(_orchestrationLoop!, _activityLoop!).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task[] running;
        lock (_inFlight)
        {
            running = _inFlight.ToArray();
        }

        await Task.WhenAll(running).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _service.StopAsync(cancellationToken);
        _stopping.Dispose();
        _stopping = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private void Track(Task task)
    {
        lock (_inFlight)
        {
            _inFlight.Add(task);
        }

        task.ContinueWith(
            t =>
            {
                lock (_inFlight)
                {
                    _inFlight.Remove(t);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task OrchestrationLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _orchestrationSlots.WaitAsync(ct);
                OrchestrationWorkItem? workItem;
                try
                {
                    workItem = await _service.LockNextOrchestrationWorkItemAsync(ct);
                }
                catch
                {
                    _orchestrationSlots.Release();
                    throw;
                }

                if (workItem is null)
                {
                    _orchestrationSlots.Release();
                    continue;
                }

                Track(Task.Run(async () =>
                {
                    try
                    {
                        await ProcessOrchestrationAsync(workItem);
                    }
                    finally
                    {
                        _service.ReleaseOrchestrationWorkItem(workItem);
                        _orchestrationSlots.Release();
                    }
                }, CancellationToken.None));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Fetching orchestration work failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task ProcessOrchestrationAsync(OrchestrationWorkItem workItem)
    {
        FaultPoints.Hit("durable.orchestration.after-lock");
        var now = DateTime.UtcNow;
        foreach (var m in workItem.Messages)
        {
            QueueLatency.Record(Math.Max(0, (now - (m.Message.VisibleAt ?? m.Message.Event.Timestamp)).TotalSeconds), new KeyValuePair<string, object?>("queue", "control"));
        }

        EpisodeOutcome outcome;
        var watch = Stopwatch.StartNew();
        try
        {
            outcome = OrchestrationEpisode.Run(workItem, _registry, _options, now);
        }
        catch (Exception ex)
        {
            Failures.Add(1, new KeyValuePair<string, object?>("kind", "orchestration"));
            _logger.LogError(ex, "Episode of instance {InstanceId} failed in the dispatcher", workItem.InstanceId);
            await SafeAbandonAsync(workItem, $"{ex.GetType().Name}: {ex.Message}");
            return;
        }

        if (outcome.Commit is null)
        {
            _logger.LogInformation("Leaving instance {InstanceId} for another host: {Reason}", workItem.InstanceId, outcome.AbandonReason);
            await SafeAbandonAsync(workItem, outcome.AbandonReason ?? "abandoned");
            return;
        }

        try
        {
            var replayed = watch.Elapsed;
            await _service.CompleteOrchestrationWorkItemAsync(workItem, outcome.Commit);
            EpisodeCounter.Add(1);
            _logger.LogDebug(
                "Episode of {InstanceId}: {Messages} messages, {Events} history events, replay {Replay} ms, commit {Commit} ms",
                workItem.InstanceId, workItem.Messages.Count, outcome.Commit.NewState?.History.Count ?? 0,
                (int)replayed.TotalMilliseconds, (int)(watch.Elapsed - replayed).TotalMilliseconds);
            if (outcome.Commit.NewState is { IsTerminal: true } s && workItem.State?.IsTerminal != true)
            {
                OrchestrationEnded.Add(1, new KeyValuePair<string, object?>("status", s.Status.ToString()));
            }
        }
        catch (OrchestrationConcurrencyException ex)
        {
            // Another host committed this instance first; our view is stale. Re-running from fresh state is safe.
            _logger.LogInformation("Instance {InstanceId}: {Message}; re-running the episode", workItem.InstanceId, ex.Message);
            await SafeAbandonAsync(workItem, ex.Message);
        }
        catch (Exception ex)
        {
            Failures.Add(1, new KeyValuePair<string, object?>("kind", "orchestration"));
            _logger.LogWarning(ex, "Committing instance {InstanceId} failed", workItem.InstanceId);
            await SafeAbandonAsync(workItem, $"commit failed: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private async Task SafeAbandonAsync(OrchestrationWorkItem workItem, string reason)
    {
        try
        {
            await _service.AbandonOrchestrationWorkItemAsync(workItem, reason);
        }
        catch (Exception ex)
        {
            // The messages reappear after their visibility timeout anyway.
            _logger.LogWarning(ex, "Abandoning instance {InstanceId} failed", workItem.InstanceId);
        }
    }

    private async Task ActivityLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _activitySlots.WaitAsync(ct);
                ActivityWorkItem? workItem;
                try
                {
                    workItem = await _service.LockNextActivityWorkItemAsync(ct);
                }
                catch
                {
                    _activitySlots.Release();
                    throw;
                }

                if (workItem is null)
                {
                    _activitySlots.Release();
                    continue;
                }

                Track(Task.Run(async () =>
                {
                    try
                    {
                        await ProcessActivityAsync(workItem, ct);
                    }
                    finally
                    {
                        _activitySlots.Release();
                    }
                }, CancellationToken.None));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Fetching activity work failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task ProcessActivityAsync(ActivityWorkItem workItem, CancellationToken stopping)
    {
        FaultPoints.Hit("durable.activity.after-lock");
        var scheduled = workItem.Scheduled;
        var message = workItem.Message;
        QueueLatency.Record(Math.Max(0, (DateTime.UtcNow - scheduled.Timestamp).TotalSeconds), new KeyValuePair<string, object?>("queue", "workitems"));

        if (workItem.Received.DequeueCount > _service.MaxDequeueCount)
        {
            var reason = $"Activity '{scheduled.Name}' (#{scheduled.EventId}) of instance '{message.InstanceId}' was parked as poison after " +
                         $"{workItem.Received.DequeueCount} deliveries; last error: {message.LastError ?? "none recorded (the host probably crashed or timed out while running it)"}.";
            var poison = new TaskFailureDetails("Durable.PoisonMessage", reason) { IsNonRetriable = true };
            await _service.CompleteActivityWorkItemAsync(workItem, Reply(message, scheduled, null, poison));
            await _service.ParkActivityWorkItemAsync(workItem, reason);
            ActivityCounter.Add(1, new KeyValuePair<string, object?>("outcome", "poison"));
            return;
        }

        string? result = null;
        TaskFailureDetails? failure = null;
        var watch = Stopwatch.StartNew();
        using var lockLost = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var renewStop = new CancellationTokenSource();
        var renewal = RenewLoopAsync(workItem, renewStop.Token, lockLost);
        if (!_registry.TryCreateActivity(scheduled.Name, out var activity))
        {
            failure = new TaskFailureDetails("Durable.ActivityNotFound",
                $"Activity '{scheduled.Name}' is not registered on this host (registered: {string.Join(", ", _registry.ActivityNames.Select(n => $"'{n}'"))}).") { IsNonRetriable = true };
        }
        else
        {
            try
            {
                var input = JsonDataConverter.Default.Deserialize(scheduled.Input, activity!.InputType);
                var output = await activity.RunAsync(new ActivityContext(scheduled.Name, message.InstanceId, scheduled.EventId, lockLost.Token), input);
                result = JsonDataConverter.Default.Serialize(output);
            }
            catch (Exception ex)
            {
                failure = TaskFailureDetails.FromException(ex);
            }
        }

        await renewStop.CancelAsync();
        await renewal;
        ActivityDuration.Record(watch.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("activity", scheduled.Name));
        if (stopping.IsCancellationRequested && failure is not null)
        {
            // Shutting down interrupted the activity: let another host run it rather than reporting a failure.
            await _service.AbandonActivityWorkItemAsync(workItem, "host shut down while the activity ran");
            return;
        }

        FaultPoints.Hit("durable.activity.after-run");
        try
        {
            await _service.CompleteActivityWorkItemAsync(workItem, Reply(message, scheduled, result, failure));
            ActivityCounter.Add(1, new KeyValuePair<string, object?>("outcome", failure is null ? "completed" : "failed"));
        }
        catch (Exception ex)
        {
            Failures.Add(1, new KeyValuePair<string, object?>("kind", "activity"));
            _logger.LogWarning(ex, "Completing activity {Name} of {InstanceId} failed", scheduled.Name, message.InstanceId);
            await _service.AbandonActivityWorkItemAsync(workItem, $"completing failed: {ex.Message}").ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static TaskMessage Reply(TaskMessage request, TaskScheduledEvent scheduled, string? result, TaskFailureDetails? failure) => new()
    {
        InstanceId = request.InstanceId,
        ExecutionId = request.ExecutionId,
        MessageId = request.MessageId + ":reply",
        Event = failure is null
            ? new TaskCompletedEvent { TaskScheduledId = scheduled.EventId, Result = result }
            : new TaskFailedEvent { TaskScheduledId = scheduled.EventId, FailureDetails = failure },
    };

    private async Task RenewLoopAsync(ActivityWorkItem workItem, CancellationToken stop, CancellationTokenSource lockLost)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.ActivityRenewInterval, stop);
                await _service.RenewActivityWorkItemAsync(workItem, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Renewing the lock of activity {Name} failed; signalling its cancellation token", workItem.Scheduled.Name);
                await lockLost.CancelAsync();
                return;
            }
        }
    }

    private sealed class ActivityContext(string name, string instanceId, int taskId, CancellationToken token) : TaskActivityContext
    {
        public override TaskName Name => new(name);

        public override string InstanceId => instanceId;

        public override int TaskId => taskId;

        public override CancellationToken CancellationToken => token;
    }
}
