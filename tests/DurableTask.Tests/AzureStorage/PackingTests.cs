using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.History;
using Durable.DurableTask.Runtime;

namespace Durable.DurableTask.Tests.AzureStorage;

/// <summary>How a commit's activities are packed into work-item messages (unit tests, no storage).</summary>
public sealed class PackingTests
{
    private static TaskMessage Activity(int id, int inputChars = 10) => new()
    {
        InstanceId = "fan",
        ExecutionId = "e1",
        MessageId = $"e1:{id}",
        Event = new TaskScheduledEvent { EventId = id, Name = "Work", Input = new string('x', inputChars) },
    };

    private static int Utf8(string s) => System.Text.Encoding.UTF8.GetByteCount(s);

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(8, 8, 1)]     // a small fan-out (a copy per shard) keeps one message per activity: several hosts share it
    [InlineData(16, 16, 1)]
    [InlineData(64, 16, 4)]
    [InlineData(1000, 32, 32)] // a big one packs the most a message may carry
    public void A_fan_out_is_spread_over_at_least_the_spread_and_packs_at_most_the_batch_size(int n, int expectedMessages, int expectedLargestPack)
    {
        var packs = AzureStorageOrchestrationService.Pack(Enumerable.Range(0, n).Select(i => Activity(i)).ToList(), 32, 16, 45 * 1024, Utf8);
        Assert.Equal(expectedMessages, packs.Count);
        Assert.Equal(expectedLargestPack, packs.Max(p => p.Count));
        Assert.Equal(Enumerable.Range(0, n), packs.SelectMany(p => p).Select(m => m.Event.EventId));
    }

    [Fact]
    public void Batch_size_one_sends_one_message_per_activity()
    {
        var packs = AzureStorageOrchestrationService.Pack(Enumerable.Range(0, 100).Select(i => Activity(i)).ToList(), 1, 16, 45 * 1024, Utf8);
        Assert.Equal(100, packs.Count);
        Assert.All(packs, p => Assert.Single(p));
    }

    [Fact]
    public void Packs_stay_under_the_large_message_threshold_and_a_large_activity_travels_alone()
    {
        var messages = Enumerable.Range(0, 64).Select(i => Activity(i, 3000)).ToList();
        messages.Insert(10, Activity(999, 30000));
        var packs = AzureStorageOrchestrationService.Pack(messages, 32, 1, 45 * 1024, Utf8);
        Assert.All(packs, p => Assert.True(p.Count == 1 || p.Sum(m => Utf8(RuntimeJson.Serialize(m))) < 45 * 1024, $"a pack of {p.Count} is over the threshold"));
        Assert.Contains(packs, p => p.Count == 1 && p[0].Event.EventId == 999);
        Assert.True(packs.Count >= 5, $"64 activities of ~3 KB cannot share fewer than 5 messages of 45 KB, got {packs.Count}");
        Assert.Equal(65, packs.Sum(p => p.Count));
    }

    [Fact]
    public void Batch_settings_out_of_range_are_rejected_with_the_valid_range()
    {
        var ex = Assert.Throws<ArgumentException>(() => new AzureStorageOrchestrationServiceSettings { StorageConnectionString = "UseDevelopmentStorage=true", ActivityBatchSize = 33 }.Validate());
        Assert.Contains("ActivityBatchSize 33", ex.Message);
        Assert.Contains("1 (no packing) to 32", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new AzureStorageOrchestrationServiceSettings { StorageConnectionString = "UseDevelopmentStorage=true", ActivityBatchSpread = 0 }.Validate());
        Assert.Contains("ActivityBatchSpread 0", ex.Message);
    }
}
