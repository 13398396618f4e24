using System.Collections.Concurrent;
using Durable.Functions.Runner;
using Durable.Functions.Metrics;
using Durable.Functions.Storage;
using Durable.Functions.Timers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Functions.Tests;

/// <summary>The claim logic of timer triggers on an in-memory compare-and-swap store (logic only; Azurite tests cover storage).</summary>
public class TimerClaimTests
{
    private sealed class MemoryStore : IScheduleStore
    {
        private readonly Lock _lock = new();
        private ScheduleRecord? _record;
        private int _version;

        public Task<ScheduleRecord?> ReadAsync(string scheduleName, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                return Task.FromResult(_record);
            }
        }

        public async Task<bool> TryWriteAsync(string scheduleName, ScheduleStatus status, string? etag, CancellationToken cancellationToken)
        {
            // Yield so concurrent claimers interleave between their read and their write.
            await Task.Yield();
            lock (_lock)
            {
                if (etag != _record?.ETag)
                {
                    return false;
                }

                _record = new ScheduleRecord(status, $"v{++_version}");
                return true;
            }
        }
    }

    private static TimerTriggerListener Listener(IScheduleStore store, string replica, ConcurrentBag<(DateTime, string)> fired) =>
        new(new TimerTriggerFunction("Job", "0 */5 * * * *", (_, info) =>
            {
                fired.Add((info.ScheduledTime, replica));
                return Task.CompletedTask;
            }),
            CronSchedule.Parse("0 */5 * * * *"), store, replica, null, Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(new Microsoft.Extensions.DependencyInjection.ServiceCollection()), NullLogger.Instance, new FunctionsMetrics(new MetricsScope()));

    [Fact]
    public async Task Of_many_replicas_racing_for_an_occurrence_exactly_one_fires_it()
    {
        var store = new MemoryStore();
        var fired = new ConcurrentBag<(DateTime, string)>();
        var listeners = Enumerable.Range(0, 8).Select(i => Listener(store, $"r{i}", fired)).ToList();
        var occurrence = new DateTime(2026, 11, 22, 0, 5, 0, DateTimeKind.Utc);
        for (var round = 0; round < 5; round++)
        {
            var o = occurrence.AddMinutes(5 * round);
            var results = await Task.WhenAll(listeners.Select(l => l.TryFireAsync(o, false, CancellationToken.None)));
            Assert.Equal(1, results.Count(r => r));
        }

        Assert.Equal(5, fired.Count);
        Assert.Equal(5, fired.Select(f => f.Item1).Distinct().Count());
        var record = await store.ReadAsync("Job", CancellationToken.None);
        Assert.Equal(occurrence.AddMinutes(20), record!.Status.Last);
        Assert.Equal(occurrence.AddMinutes(25), record.Status.Next);
    }

    [Fact]
    public async Task An_occurrence_already_claimed_or_older_than_the_record_is_skipped()
    {
        var store = new MemoryStore();
        var fired = new ConcurrentBag<(DateTime, string)>();
        var a = Listener(store, "a", fired);
        var late = Listener(store, "late", fired);
        var o = new DateTime(2026, 11, 22, 0, 10, 0, DateTimeKind.Utc);
        Assert.True(await a.TryFireAsync(o, false, CancellationToken.None));
        // A replica whose clock is behind reaches the same occurrence later, or an older one: neither fires again.
        Assert.False(await late.TryFireAsync(o, false, CancellationToken.None));
        Assert.False(await late.TryFireAsync(o.AddMinutes(-5), false, CancellationToken.None));
        Assert.Single(fired);
    }
}
