using System.Diagnostics;
using Durable.Functions.Runner;
using Durable.Functions.Metrics;
using Durable.Functions.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Durable.Functions.Timers;

/// <summary>
/// Runs one timer-triggered function. Every replica computes the same occurrences from the schedule; at each one it
/// tries to move the schedule's shared record from the previous occurrence to this one with an ETag-guarded write.
/// Exactly one replica's write succeeds and that replica runs the function; the others see the record already at (or
/// past) the occurrence, or lose the write, and skip it. Because the record holds the occurrence (not a wall-clock
/// time), clock skew between replicas cannot make an occurrence fire twice.
/// </summary>
/// <remarks>
/// The claim happens before the function runs, so an occurrence fires at most once: a replica that dies after
/// claiming loses that occurrence (as an Azure Functions singleton lock would). When the host starts and the record
/// says occurrences passed while no replica ran, the latest of them is fired once with IsPastDue = true.
/// </remarks>
public sealed class TimerTriggerListener
{
    // Bounds the search for the latest missed occurrence (a per-second schedule idle for a day is 86,400 steps).
    private const int MaxCatchUpScan = 1_000_000;

    private readonly TimerTriggerFunction _function;
    private readonly CronSchedule _schedule;
    private readonly IScheduleStore _store;
    private readonly string _replicaId;
    private readonly TimeSpan? _functionTimeout;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly FunctionsMetrics _metrics;
    private readonly TimeProvider _time;

    public TimerTriggerListener(
        TimerTriggerFunction function,
        CronSchedule schedule,
        IScheduleStore store,
        string replicaId,
        TimeSpan? functionTimeout,
        IServiceProvider services,
        ILogger logger,
        FunctionsMetrics metrics,
        TimeProvider? time = null)
    {
        _function = function;
        _schedule = schedule;
        _store = store;
        _replicaId = replicaId;
        _functionTimeout = functionTimeout;
        _services = services;
        _logger = logger;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
    }

    public CronSchedule Schedule => _schedule;

    public async Task RunAsync(CancellationToken stopping)
    {
        _logger.LogInformation("Timer trigger {Function} scheduled '{Schedule}' (UTC); next occurrence {Next:o}.",
            _function.Name, _schedule.Expression, _schedule.GetNextOccurrence(Now()));
        await CatchUpPastDueAsync(stopping).ConfigureAwait(false);
        var next = _schedule.GetNextOccurrence(Now());
        while (next is { } occurrence && !stopping.IsCancellationRequested)
        {
            try
            {
                await WaitUntilAsync(occurrence, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            await TryFireAsync(occurrence, isPastDue: false, stopping).ConfigureAwait(false);
            // From the occurrence, not from now: a slow run must not skip the following occurrence.
            next = _schedule.GetNextOccurrence(occurrence);
            var now = Now();
            if (next < now)
            {
                // The function ran past one or more later occurrences; they are not queued up (Azure behaves the same).
                next = _schedule.GetNextOccurrence(now);
            }
        }
    }

    /// <summary>
    /// Claims <paramref name="occurrence"/> and, if this replica won, runs the function. Returns whether it ran here.
    /// </summary>
    public async Task<bool> TryFireAsync(DateTime occurrence, bool isPastDue, CancellationToken stopping)
    {
        bool claimed;
        try
        {
            // Not cancelled by shutdown: a claim written on the server but abandoned here would lose the occurrence
            // (every other replica sees it claimed). Once claimed, the function runs, with the shutdown visible in its token.
            claimed = await TryClaimAsync(occurrence, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Storage unreachable: we cannot know that nobody else fires it, so we do not (at most once).
            _logger.LogError(e, "Timer trigger {Function}: could not claim occurrence {Occurrence:o}; skipping it on this replica.", _function.Name, occurrence);
            return false;
        }

        if (!claimed)
        {
            _metrics.TimerOccurrences.Add(1, new("function", _function.Name), new("outcome", "claimed_elsewhere"));
            _logger.LogDebug("Timer trigger {Function}: occurrence {Occurrence:o} was claimed by another replica.", _function.Name, occurrence);
            return false;
        }

        _metrics.TimerOccurrences.Add(1, new("function", _function.Name), new("outcome", "fired"));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        if (_functionTimeout is { } timeout)
        {
            cts.CancelAfter(timeout);
        }

        await using var scope = _services.CreateAsyncScope();
        var context = new RunnerFunctionContext(_function.Name, Guid.NewGuid().ToString("N"), scope.ServiceProvider, cts.Token);
        var info = new TimerOccurrence(occurrence, _schedule.GetNextOccurrence(occurrence), isPastDue);
        var watch = Stopwatch.StartNew();
        try
        {
            await _function.Handler(context, info).ConfigureAwait(false);
            _metrics.RecordInvocation(_function.Name, "timer", "succeeded", watch.Elapsed);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            _metrics.RecordInvocation(_function.Name, "timer", "cancelled", watch.Elapsed);
            _logger.LogWarning("Timer trigger {Function}: occurrence {Occurrence:o} was cancelled ({Why}).",
                _function.Name, occurrence, stopping.IsCancellationRequested ? "host shutting down" : $"functionTimeout {_functionTimeout} exceeded");
        }
        catch (Exception e)
        {
            _metrics.RecordInvocation(_function.Name, "timer", "failed", watch.Elapsed);
            _logger.LogError(e, "Timer trigger {Function}: occurrence {Occurrence:o} failed.", _function.Name, occurrence);
        }

        return true;
    }

    private async Task<bool> TryClaimAsync(DateTime occurrence, CancellationToken ct)
    {
        // Two rounds: a lost write is re-read once, so a write that failed for a reason other than another replica's
        // claim (the record moved for an older occurrence) still gets its chance.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var record = await _store.ReadAsync(_function.Name, ct).ConfigureAwait(false);
            if (record is not null && record.Status.Last >= occurrence)
            {
                return false;
            }

            var status = new ScheduleStatus(occurrence, _schedule.GetNextOccurrence(occurrence), Now(), _replicaId);
            if (await _store.TryWriteAsync(_function.Name, status, record?.ETag, ct).ConfigureAwait(false))
            {
                return true;
            }
        }

        return false;
    }

    private async Task CatchUpPastDueAsync(CancellationToken stopping)
    {
        ScheduleRecord? record;
        try
        {
            record = await _store.ReadAsync(_function.Name, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning(e, "Timer trigger {Function}: could not read its schedule record; past-due occurrences are not caught up.", _function.Name);
            return;
        }

        var now = Now();
        if (record?.Status.Next is { } firstMissed && firstMissed <= now)
        {
            // Fire once for the whole gap, for its latest occurrence: the record then points past now, so a replica
            // starting a moment later does not find another "missed" occurrence to catch up.
            var latest = firstMissed;
            foreach (var o in _schedule.GetOccurrences(firstMissed, now, MaxCatchUpScan))
            {
                latest = o;
            }

            _logger.LogInformation("Timer trigger {Function}: occurrences from {First:o} to {Latest:o} passed while no replica ran; firing {Latest:o} once as past due.",
                _function.Name, firstMissed, latest, latest);
            await TryFireAsync(latest, isPastDue: true, stopping).ConfigureAwait(false);
        }
    }

    private async Task WaitUntilAsync(DateTime occurrence, CancellationToken ct)
    {
        // Task.Delay may wake a little early; loop until the clock has really reached the occurrence.
        while (true)
        {
            var wait = occurrence - Now();
            if (wait <= TimeSpan.Zero)
            {
                return;
            }

            await Task.Delay(wait, _time, ct).ConfigureAwait(false);
        }
    }

    private DateTime Now() => _time.GetUtcNow().UtcDateTime;
}
