using System.Diagnostics;
using System.Text;
using Durable.Functions.Runner;
using Durable.Functions.Metrics;
using Durable.Functions.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Queues;

/// <summary>
/// Runs one queue-triggered function: polls its queue with randomised exponential back-off (reset when a poll finds
/// messages), keeps up to batchSize + newBatchThreshold messages in flight, hides each message while its handler
/// runs (renewing the visibility so a slow handler is not picked up by another replica), deletes it on success,
/// makes it visible again after visibilityTimeout on failure, and moves it to <c>&lt;queue&gt;-poison</c> once it
/// has failed maxDequeueCount times, or at once when the function throws <see cref="PoisonMessageException"/>.
/// </summary>
public sealed class QueueTriggerListener
{
    // The lease a replica holds on a message while its handler runs; renewed every third of it.
    internal static readonly TimeSpan ProcessingVisibility = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(100);

    private readonly QueueTriggerFunction _function;
    private readonly string _queue;
    private readonly ITriggerQueues _queues;
    private readonly QueueTriggerSettings _settings;
    private readonly TimeSpan? _functionTimeout;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly FunctionsMetrics _metrics;
    private readonly TimeSpan _processingVisibility;

    public QueueTriggerListener(
        QueueTriggerFunction function,
        string resolvedQueueName,
        ITriggerQueues queues,
        QueueTriggerSettings settings,
        TimeSpan? functionTimeout,
        IServiceProvider services,
        ILogger logger,
        FunctionsMetrics metrics,
        TimeSpan? processingVisibility = null)
    {
        _function = function;
        _queue = resolvedQueueName;
        _queues = queues;
        _settings = settings;
        _functionTimeout = functionTimeout;
        _services = services;
        _logger = logger;
        _metrics = metrics;
        _processingVisibility = processingVisibility ?? ProcessingVisibility;
    }

    public string QueueName => _queue;

    public string PoisonQueueName => PoisonQueueNameFor(_queue);

    public static string PoisonQueueNameFor(string queue) => queue + "-poison";

    /// <summary>
    /// Polls until <paramref name="stopping"/> fires, then stops taking messages and waits for the handlers in flight
    /// (they see <paramref name="stopping"/> through their context, and a message whose handler did not finish is
    /// made visible at once so another replica takes it over).
    /// </summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        await _queues.CreateIfNotExistsAsync(_queue, stopping).ConfigureAwait(false);
        await _queues.CreateIfNotExistsAsync(PoisonQueueName, stopping).ConfigureAwait(false);
        _logger.LogInformation("Queue trigger {Function} listening on queue {Queue} (poison queue {Poison}, maxDequeueCount {Max}).",
            _function.Name, _queue, PoisonQueueName, _settings.MaxDequeueCount);

        var inFlight = new HashSet<Task>();
        var maxInFlight = _settings.BatchSize + _settings.NewBatchThreshold;
        var delay = MinPollingInterval;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                inFlight.RemoveWhere(t => t.IsCompleted);
                // Fetch a new batch only when the in-flight count has dropped to newBatchThreshold, as the Functions host does.
                while (inFlight.Count > _settings.NewBatchThreshold)
                {
                    var done = await Task.WhenAny(inFlight).ConfigureAwait(false);
                    inFlight.Remove(done);
                }

                IReadOnlyList<ReceivedQueueMessage> batch;
                try
                {
                    var want = Math.Min(_settings.BatchSize, maxInFlight - inFlight.Count);
                    batch = await _queues.ReceiveAsync(_queue, Math.Max(1, want), _processingVisibility, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Storage unreachable: keep the host up and retry with back-off rather than crash the replica.
                    _logger.LogWarning(e, "Queue trigger {Function}: receiving from {Queue} failed; retrying in {Delay}.", _function.Name, _queue, delay);
                    batch = [];
                }

                if (batch.Count > 0)
                {
                    delay = MinPollingInterval;
                    foreach (var message in batch)
                    {
                        inFlight.Add(ProcessAsync(message, stopping));
                    }

                    continue;
                }

                try
                {
                    await Task.Delay(Jitter(delay), stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _settings.MaxPollingInterval.Ticks));
            }
        }
        finally
        {
            // Graceful shutdown: no new messages, but the ones taken are finished (or released) before we return.
            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }
    }

    /// <summary>Processes one message; never throws (every outcome is settled on the queue).</summary>
    internal async Task ProcessAsync(ReceivedQueueMessage message, CancellationToken stopping)
    {
        await Task.Yield();
        _metrics.QueueLatency.Record(Math.Max(0, (DateTimeOffset.UtcNow - message.InsertionTime).TotalSeconds), new KeyValuePair<string, object?>("queue", _queue));
        var popReceipt = message.PopReceipt;
        string text;
        try
        {
            text = Decode(message.Text);
        }
        catch (FormatException)
        {
            // An undecodable message can never succeed: park it at once instead of burning maxDequeueCount attempts.
            await MoveToPoisonAsync(message, popReceipt, "its text is not valid base64 (host.json extensions.queues.messageEncoding is \"base64\")").ConfigureAwait(false);
            return;
        }

        if (message.DequeueCount > _settings.MaxDequeueCount)
        {
            // Already tried more often than allowed (e.g. earlier attempts crashed the replica before settling).
            await MoveToPoisonAsync(message, popReceipt, $"it was dequeued {message.DequeueCount} times, more than maxDequeueCount {_settings.MaxDequeueCount}").ConfigureAwait(false);
            return;
        }

        using var handlerCts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        if (_functionTimeout is { } timeout)
        {
            handlerCts.CancelAfter(timeout);
        }

        using var renewCts = new CancellationTokenSource();
        var invocationId = Guid.NewGuid().ToString("N");
        var logger = _logger;
        // Like the isolated worker: one service scope per invocation, and the message's metadata as binding data.
        await using var scope = _services.CreateAsyncScope();
        var input = new QueueTriggerMessage(message.Id, text, message.DequeueCount, message.InsertionTime, _queue);
        var context = new RunnerFunctionContext(_function.Name, invocationId, scope.ServiceProvider, handlerCts.Token, new Dictionary<string, object?>
        {
            ["Id"] = message.Id,
            ["DequeueCount"] = message.DequeueCount,
            ["InsertionTime"] = message.InsertionTime,
            ["QueueTrigger"] = text,
        });
        var renewal = RenewWhileRunningAsync(message, () => popReceipt, p => popReceipt = p, renewCts.Token);
        var watch = Stopwatch.StartNew();
        Exception? failure = null;
        try
        {
            await _function.Handler(context, input).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            await renewCts.CancelAsync().ConfigureAwait(false);
            await renewal.ConfigureAwait(false);
        }

        try
        {
            if (failure is null)
            {
                await _queues.DeleteAsync(_queue, message.Id, popReceipt, CancellationToken.None).ConfigureAwait(false);
                _metrics.RecordInvocation(_function.Name, "queue", "succeeded", watch.Elapsed);
                return;
            }

            if (failure is OperationCanceledException && stopping.IsCancellationRequested)
            {
                // Shutdown interrupted the handler: hand the message back right away for another replica.
                _logger.LogInformation("Queue trigger {Function}: shutdown interrupted message {MessageId}; released to the queue.", _function.Name, message.Id);
                await _queues.UpdateVisibilityAsync(_queue, message.Id, popReceipt, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
                _metrics.RecordInvocation(_function.Name, "queue", "cancelled", watch.Elapsed);
                return;
            }

            _metrics.RecordInvocation(_function.Name, "queue", "failed", watch.Elapsed);
            if (failure is PoisonMessageException refused)
            {
                // The function says no attempt can succeed: park it now rather than repeat the refusal.
                await MoveToPoisonAsync(message, popReceipt, $"the function refused it: {refused.Message}").ConfigureAwait(false);
                return;
            }

            if (message.DequeueCount >= _settings.MaxDequeueCount)
            {
                await MoveToPoisonAsync(message, popReceipt, $"attempt {message.DequeueCount} of {_settings.MaxDequeueCount} failed: {failure.GetType().Name}: {failure.Message}").ConfigureAwait(false);
                return;
            }

            _logger.LogWarning(failure, "Queue trigger {Function}: message {MessageId} failed on attempt {Attempt} of {Max}; retrying after {Delay}.",
                _function.Name, message.Id, message.DequeueCount, _settings.MaxDequeueCount, _settings.VisibilityTimeout);
            await _queues.UpdateVisibilityAsync(_queue, message.Id, popReceipt, _settings.VisibilityTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Settling failed (storage down, or our hold on the message lapsed): the message reappears after its
            // visibility timeout and is retried, so nothing is lost.
            _logger.LogWarning(e, "Queue trigger {Function}: could not settle message {MessageId}; it becomes visible again when its hold expires.", _function.Name, message.Id);
        }
    }

    private async Task RenewWhileRunningAsync(ReceivedQueueMessage message, Func<string> getPop, Action<string> setPop, CancellationToken done)
    {
        var period = _processingVisibility / 3;
        try
        {
            while (true)
            {
                await Task.Delay(period, done).ConfigureAwait(false);
                // Not cancellable: an update cut off mid-flight could change the pop receipt without us learning the
                // new one, and the final delete would then fail and let the message run again.
                setPop(await _queues.UpdateVisibilityAsync(_queue, message.Id, getPop(), _processingVisibility, CancellationToken.None).ConfigureAwait(false));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Queue trigger {Function}: renewing the hold on message {MessageId} failed; another replica may take it after {Visibility}.",
                _function.Name, message.Id, _processingVisibility);
        }
    }

    private async Task MoveToPoisonAsync(ReceivedQueueMessage message, string popReceipt, string reason)
    {
        try
        {
            // Send first, then delete: a crash in between leaves a duplicate in the poison queue, never a lost message.
            await _queues.SendAsync(PoisonQueueName, message.Text, CancellationToken.None).ConfigureAwait(false);
            await _queues.DeleteAsync(_queue, message.Id, popReceipt, CancellationToken.None).ConfigureAwait(false);
            _metrics.PoisonMessages.Add(1, new KeyValuePair<string, object?>("queue", _queue));
            _logger.LogError("Queue trigger {Function}: message {MessageId} moved to {Poison} because {Reason}.", _function.Name, message.Id, PoisonQueueName, reason);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Queue trigger {Function}: moving message {MessageId} to {Poison} failed; it will be retried.", _function.Name, message.Id, PoisonQueueName);
        }
    }

    private string Decode(string wire) =>
        _settings.MessageEncoding == "base64" ? Encoding.UTF8.GetString(Convert.FromBase64String(wire)) : wire;

    /// <summary>Encodes text the way this trigger decodes it (for senders and tests).</summary>
    public static string Encode(string text, QueueTriggerSettings settings) =>
        settings.MessageEncoding == "base64" ? Convert.ToBase64String(Encoding.UTF8.GetBytes(text)) : text;

    private static TimeSpan Jitter(TimeSpan d) => TimeSpan.FromTicks((long)(d.Ticks * (0.8 + (Random.Shared.NextDouble() * 0.4))));
}
