using Azure.Data.Tables;
using Azure.Storage.Queues;
using Durable.Engine.TestHost;
using Durable.Testing;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Xunit.Abstractions;

namespace Durable.Engine.Tests;

/// <summary>
/// Two host processes on one task hub with the product's settings (4 partitions, table partition management), each
/// a distinct worker (machine-pid): they split the partitions, as the hub's Partitions table shows, and when one is
/// killed the other takes over its partitions and finishes its orchestrations.
/// </summary>
public sealed class TwoHostTests(ITestOutputHelper output)
{
    private const int Instances = 12;

    [Fact]
    public async Task Two_hosts_split_the_partitions_and_when_one_is_killed_the_other_finishes_its_orchestrations()
    {
        await using var hub = await ChildHub.CreateAsync(output, HostContract.ProductSettings);
        var ids = Enumerable.Range(0, Instances).Select(i => $"split-{i}").ToList();
        foreach (var (id, step) in ids.Select((id, i) => (id, i)))
        {
            await hub.Client.ScheduleNewOrchestrationInstanceAsync(HostContract.AwaitThenStep, step, new StartOrchestrationOptions(id));
        }

        // Before any host runs, each start message waits in its instance's partition (control queue): read where.
        var partitionOf = await PartitionsOfAsync(hub, ids);
        hub.Log("partitions: " + string.Join(", ", partitionOf.GroupBy(p => p.Value).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}")));
        Assert.Equal(ids.Order(), partitionOf.Keys.Order());

        var a = await hub.StartHostAsync();
        var b = await hub.StartHostAsync();
        Assert.NotEqual(a.WorkerId, b.WorkerId);

        // The second host steals its share from the first, which drains and releases it: two each.
        var owners = await WaitForLeasesAsync(hub, o => o.Count == 4 && o.Values.Count(w => w == a.WorkerId) == 2 && o.Values.Count(w => w == b.WorkerId) == 2,
            TimeSpan.FromSeconds(120), "the two hosts never split the four partitions two and two");
        hub.Log("leases: " + string.Join(", ", owners.OrderBy(o => o.Key).Select(o => $"{o.Key}: {o.Value}")));
        foreach (var id in ids)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await hub.Client.WaitForInstanceStartAsync(id, cancellation: cts.Token);
        }

        var onA = ids.Where(id => owners[partitionOf[id]] == a.WorkerId).ToList();
        Assert.NotEmpty(onA);
        hub.Log($"on {a.WorkerId}: {string.Join(", ", onA)}");

        a.Kill();
        var killedAt = DateTime.UtcNow;
        foreach (var id in ids)
        {
            await hub.Client.RaiseEventAsync(id, HostContract.GoEvent, "now");
        }

        foreach (var (id, step) in ids.Select((id, i) => (id, i)))
        {
            var done = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(180));
            Assert.Equal(HostContract.StepOutput(step), done.ReadOutputAs<string>());
        }

        hub.Log($"all {Instances} completed {(DateTime.UtcNow - killedAt).TotalSeconds:F1} s after the kill");
        Assert.Equal(ids.Select((id, i) => HostContract.EffectLine(id, i)).Order(), hub.Ledger.Effects().Order());
        // The dead host's instances were resumed, and their steps run, by the survivor.
        var effects = hub.Ledger.EffectsWithWorkers();
        Assert.All(onA, id => Assert.Contains(effects, e => e.StartsWith(HostContract.EffectLine(id, ids.IndexOf(id)) + " by " + b.WorkerId, StringComparison.Ordinal)));
        await WaitForLeasesAsync(hub, o => o.Count == 4 && o.Values.All(w => w == b.WorkerId), TimeSpan.FromSeconds(60),
            "the survivor never held all four partitions");
    }

    /// <summary>The partition (control queue name) of each instance whose start message waits in a control queue.</summary>
    private static async Task<Dictionary<string, string>> PartitionsOfAsync(ChildHub hub, IReadOnlyList<string> ids)
    {
        var service = new QueueServiceClient(LocalCluster.Current.AzureStorageConnectionString);
        var result = new Dictionary<string, string>();
        await foreach (var queue in service.GetQueuesAsync(prefix: hub.Name.ToLowerInvariant() + "-control-"))
        {
            var messages = await service.GetQueueClient(queue.Name).PeekMessagesAsync(32);
            foreach (var message in messages.Value)
            {
                var text = message.Body.ToString();
                foreach (var id in ids.Where(id => text.Contains($"\"{id}\"", StringComparison.Ordinal)))
                {
                    result[id] = queue.Name;
                }
            }
        }

        return result;
    }

    /// <summary>Reads the hub's Partitions table (partition → current owner) until <paramref name="done"/> holds.</summary>
    private static async Task<Dictionary<string, string>> WaitForLeasesAsync(ChildHub hub, Func<Dictionary<string, string>, bool> done, TimeSpan timeout, string failure)
    {
        var table = new TableClient(LocalCluster.Current.AzureStorageConnectionString, hub.Name + "Partitions");
        var deadline = DateTime.UtcNow + timeout;
        var owners = new Dictionary<string, string>();
        while (true)
        {
            owners.Clear();
            // The framework's table partition manager: one row per partition (its control queue), with the current owner
            // and, while a lease is handed over, the next one (such a lease counts for neither side yet).
            await foreach (var lease in table.QueryAsync<TableEntity>())
            {
                if (lease.GetString("CurrentOwner") is { } owner && lease.GetString("NextOwner") is null)
                {
                    owners[lease.RowKey] = owner;
                }
            }

            if (done(owners))
            {
                return owners;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{failure}; leases: {string.Join(", ", owners.Select(o => $"{o.Key}: {o.Value}"))}");
            }

            await Task.Delay(500);
        }
    }
}
