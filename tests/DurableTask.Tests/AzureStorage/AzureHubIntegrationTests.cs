using System.Collections.Concurrent;
using System.Text;
using Durable.AzureStorage;
using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.Client;
using Durable.DurableTask.History;
using Durable.DurableTask.Runtime;
using Durable.DurableTask.Worker;
using Durable.Testing;

namespace Durable.DurableTask.Tests.AzureStorage;

/// <summary>Acceptance tests of the Azure Storage task hub on the cluster's Azurite (hosts in this process).</summary>
[Trait("Category", "Integration")]
public sealed class AzureHubIntegrationTests
{
    private static void Basic(DurableTaskRegistry r) => r
        .AddOrchestratorFunc<int, long>("FanOut", async (ctx, n) =>
            (await Task.WhenAll(Enumerable.Range(0, n).Select(i => ctx.CallActivityAsync<long>("Square", i)))).Sum())
        .AddActivityFunc<int, long>("Square", (_, i) => (long)i * i)
        .AddOrchestratorFunc<int, string>("EventOrTimeout", async (ctx, ms) =>
        {
            try
            {
                return await ctx.WaitForExternalEvent<string>("approve", TimeSpan.FromMilliseconds(ms));
            }
            catch (TaskCanceledException)
            {
                return "timeout";
            }
        })
        .AddOrchestratorFunc<string, string>("BigPayload", async (ctx, s) => await ctx.CallActivityAsync<string>("Reverse", s))
        .AddActivityFunc<string, string>("Reverse", (_, s) => new string(s.Reverse().ToArray()));

    [Fact]
    public async Task Fan_out_fan_in_of_1000_activities()
    {
        await using var hub = new AzureHub();
        await hub.StartHostAsync(Basic);
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("FanOut", 1000);
        var m = await hub.WaitAsync(id, 180);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, m.RuntimeStatus);
        Assert.Equal(Enumerable.Range(0, 1000).Sum(i => (long)i * i), m.ReadOutputAs<long>());
        var history = await hub.Client.GetOrchestrationHistoryAsync(id);
        Assert.Equal(1000, history.OfType<TaskCompletedEvent>().Select(e => e.TaskScheduledId).Distinct().Count());
    }

    [Fact]
    public async Task External_event_racing_its_timeout()
    {
        await using var hub = new AzureHub();
        await hub.StartHostAsync(Basic);

        var late = await hub.Client.ScheduleNewOrchestrationInstanceAsync("EventOrTimeout", 1500);
        var early = await hub.Client.ScheduleNewOrchestrationInstanceAsync("EventOrTimeout", 20000);
        await hub.Client.WaitForInstanceStartAsync(early);
        await hub.Client.RaiseEventAsync(early, "approve", "yes");
        Assert.Equal("yes", (await hub.WaitAsync(early)).ReadOutputAs<string>());
        Assert.Equal("timeout", (await hub.WaitAsync(late)).ReadOutputAs<string>());

        // An event arriving after the timeout fired changes nothing.
        await hub.Client.RaiseEventAsync(late, "approve", "too late");
        await Task.Delay(1000);
        Assert.Equal("timeout", (await hub.Client.GetInstanceAsync(late, true))!.ReadOutputAs<string>());

        // Both at once: exactly one wins, the orchestration completes once.
        var race = await hub.Client.ScheduleNewOrchestrationInstanceAsync("EventOrTimeout", 1000);
        await hub.Client.WaitForInstanceStartAsync(race);
        await Task.Delay(900);
        await hub.Client.RaiseEventAsync(race, "approve", "raced");
        var raced = await hub.WaitAsync(race);
        Assert.Contains(raced.ReadOutputAs<string>(), new[] { "raced", "timeout" });
        var h = await hub.Client.GetOrchestrationHistoryAsync(race);
        Assert.Single(h.OfType<ExecutionCompletedEvent>());
    }

    [Fact]
    public async Task Large_payloads_go_through_blobs_and_purge_removes_them()
    {
        await using var hub = new AzureHub();
        await hub.StartHostAsync(Basic);
        var big = string.Concat(Enumerable.Range(0, 20000).Select(i => (char)('a' + (i % 26)) + "é"));
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("BigPayload", big);
        var m = await hub.WaitAsync(id);
        Assert.Equal(new string(big.Reverse().ToArray()), m.ReadOutputAs<string>());
        Assert.Equal(1, (await hub.Client.PurgeInstanceAsync(id)).PurgedInstanceCount);
        Assert.Null(await hub.Client.GetInstanceAsync(id));
    }

    [Fact]
    public async Task Two_hosts_on_one_hub_split_partitions_and_commit_each_step_once()
    {
        await using var hub = new AzureHub();
        var a = await hub.StartHostAsync(Basic);
        var b = await hub.StartHostAsync(Basic);
        for (var i = 0; i < 100 && b.Service.OwnedPartitions.Count < hub.Partitions / 2; i++)
        {
            await Task.Delay(200);
        }

        // The first host gave back its surplus: the two split the partitions, never sharing one.
        Assert.Equal(hub.Partitions / 2, b.Service.OwnedPartitions.Count);
        Assert.Equal(hub.Partitions / 2, a.Service.OwnedPartitions.Count);
        Assert.Empty(a.Service.OwnedPartitions.Intersect(b.Service.OwnedPartitions));

        var ids = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            ids.Add(await hub.Client.ScheduleNewOrchestrationInstanceAsync("FanOut", 50, new StartOrchestrationOptions($"two-{i}")));
        }

        // Stop the first host mid-flight: its partitions move to the second, which finishes everything.
        await Task.Delay(500);
        await hub.StopHostAsync(a);
        foreach (var id in ids)
        {
            var m = await hub.WaitAsync(id, 120);
            Assert.Equal(Enumerable.Range(0, 50).Sum(i => (long)i * i), m.ReadOutputAs<long>());
            var h = await hub.Client.GetOrchestrationHistoryAsync(id);
            Assert.Equal(50, h.OfType<TaskScheduledEvent>().Count());
            Assert.Equal(50, h.OfType<TaskCompletedEvent>().Count());
            Assert.Single(h.OfType<ExecutionStartedEvent>());
        }

        for (var i = 0; i < 100 && b.Service.OwnedPartitions.Count < hub.Partitions; i++)
        {
            await Task.Delay(200);
        }

        Assert.Equal(hub.Partitions, b.Service.OwnedPartitions.Count);
    }

    [Fact]
    public async Task Poison_message_is_parked_with_its_reason_in_the_instance_status()
    {
        await using var hub = new AzureHub(partitions: 1);
        await hub.Service.CreateIfNotExistsAsync();
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("EventOrTimeout", 60000, new StartOrchestrationOptions("poison-1"));
        await hub.StartHostAsync(Basic);
        await hub.Client.WaitForInstanceStartAsync(id);

        // An event whose large-message blob is gone can never be read: it is retried, then parked.
        using var transport = StorageTransport.FromConnectionString(LocalCluster.Current.AzureStorageConnectionString);
        var control = transport.GetQueue($"{hub.HubName.ToLowerInvariant()}-control-00");
        var state = await hub.Service.GetStateAsync(id);
        await control.PutMessageAsync("{\"blob\":\"poison-1/message-missing.json.gz\",\"instanceId\":\"poison-1\",\"messageId\":\"m-1\"}");
        var m = await hub.WaitAsync(id, 60);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, m.RuntimeStatus);
        Assert.Equal("Durable.PoisonMessage", m.FailureDetails!.ErrorType);
        Assert.Contains("large message blob", m.FailureDetails.ErrorMessage);
        Assert.Contains("after 4 deliveries", m.FailureDetails.ErrorMessage);
        var parked = Assert.Single(await hub.Service.PoisonQueue.PeekMessagesAsync(32));
        Assert.Contains("large message blob", parked.Text);
        Assert.NotNull(state);
    }

    [Fact]
    public async Task Nondeterminism_is_detected_on_azure_storage()
    {
        await using var hub = new AzureHub(partitions: 1);
        var v1 = await hub.StartHostAsync(r => r.AddOrchestratorFunc<object?, string>("Flow", async (ctx, _) =>
        {
            await ctx.CallActivityAsync("CopyRows");
            return await ctx.WaitForExternalEvent<string>("go");
        }).AddActivityFunc<object?>("CopyRows", (_, _) => Task.CompletedTask).AddActivityFunc<object?>("DropTables", (_, _) => Task.CompletedTask));
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Flow");
        await WaitForHistory(hub, id, h => h.OfType<TaskCompletedEvent>().Any());
        await hub.StopHostAsync(v1);

        // The same name and version, but the code now schedules something else first.
        await hub.StartHostAsync(r => r.AddOrchestratorFunc<object?, string>("Flow", async (ctx, _) =>
        {
            await ctx.CallActivityAsync("DropTables");
            return await ctx.WaitForExternalEvent<string>("go");
        }).AddActivityFunc<object?>("CopyRows", (_, _) => Task.CompletedTask).AddActivityFunc<object?>("DropTables", (_, _) => Task.CompletedTask));
        await hub.Client.RaiseEventAsync(id, "go", "now");
        var m = await hub.WaitAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, m.RuntimeStatus);
        Assert.Contains("'CopyRows'", m.FailureDetails!.ErrorMessage);
        Assert.Contains("'DropTables'", m.FailureDetails.ErrorMessage);
    }

    [Fact]
    public async Task Version_mismatch_fails_the_instance_with_both_versions_named()
    {
        await using var hub = new AzureHub(partitions: 1);
        var v1 = await hub.StartHostAsync(r => r.AddOrchestratorFunc<object?, string>("Flow", (ctx, _) => ctx.WaitForExternalEvent<string>("go"), "1.0"));
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Flow");
        await hub.Client.WaitForInstanceStartAsync(id);
        Assert.Equal("1.0", (await hub.Client.GetInstanceAsync(id))!.Version);
        await hub.StopHostAsync(v1);

        await hub.StartHostAsync(r => r.AddOrchestratorFunc<object?, string>("Flow", (_, _) => Task.FromResult("v2"), "2.0"));
        await hub.Client.RaiseEventAsync(id, "go", "x");
        var m = await hub.WaitAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, m.RuntimeStatus);
        Assert.Contains("version '1.0'", m.FailureDetails!.ErrorMessage);
        Assert.Contains("'2.0'", m.FailureDetails.ErrorMessage);
    }

    [Fact]
    public async Task Client_api_on_azure_storage_query_terminate_suspend_purge()
    {
        await using var hub = new AzureHub();
        await hub.StartHostAsync(Basic);
        var from = DateTimeOffset.UtcNow.AddMinutes(-1);
        var done = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            done.Add(await hub.Client.ScheduleNewOrchestrationInstanceAsync("FanOut", 2, new StartOrchestrationOptions($"cq-done-{i}")));
        }

        var waiting = await hub.Client.ScheduleNewOrchestrationInstanceAsync("EventOrTimeout", 600000, new StartOrchestrationOptions("cq-wait"));
        foreach (var id in done)
        {
            await hub.WaitAsync(id);
        }

        await hub.Client.WaitForInstanceStartAsync(waiting);
        var dup = await Assert.ThrowsAsync<OrchestrationAlreadyExistsException>(() =>
            hub.Client.ScheduleNewOrchestrationInstanceAsync("EventOrTimeout", 1, new StartOrchestrationOptions("cq-wait")));
        Assert.Contains("cq-wait", dup.Message);

        await hub.Client.SuspendInstanceAsync(waiting, "hold");
        await WaitForStatus(hub, waiting, OrchestrationRuntimeStatus.Suspended);
        var all = new List<OrchestrationMetadata>();
        await foreach (var m in hub.Client.GetAllInstancesAsync(new OrchestrationQuery(from, InstanceIdPrefix: "cq-", PageSize: 2)))
        {
            all.Add(m);
        }

        Assert.Equal(6, all.Count);
        var suspended = await hub.Client.QueryInstancesAsync(new OrchestrationQuery(Statuses: [OrchestrationRuntimeStatus.Suspended], InstanceIdPrefix: "cq-"));
        Assert.Equal("cq-wait", Assert.Single(suspended.Values).InstanceId);

        await hub.Client.ResumeInstanceAsync(waiting);
        await WaitForStatus(hub, waiting, OrchestrationRuntimeStatus.Running);
        await hub.Client.TerminateInstanceAsync(waiting, "ended by test");
        var t = await hub.WaitAsync(waiting);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, t.RuntimeStatus);
        Assert.Equal("ended by test", t.ReadOutputAs<string>());

        var purged = await hub.Client.PurgeAllInstancesAsync(new PurgeInstancesFilter(from));
        Assert.Equal(6, purged.PurgedInstanceCount);
        Assert.Empty((await hub.Client.QueryInstancesAsync(new OrchestrationQuery(InstanceIdPrefix: "cq-"))).Values);
    }

    [Fact]
    public async Task Partition_count_cannot_change_after_creation()
    {
        await using var hub = new AzureHub(partitions: 2);
        await hub.Service.CreateIfNotExistsAsync();
        await using var other = new AzureStorageOrchestrationService(AzureHub.Settings(hub.HubName, 3));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => other.CreateIfNotExistsAsync());
        Assert.Contains("created with 2 partitions", ex.Message);
    }

    /// <summary>
    /// The client sends the start message before it writes the Pending record, so a fast worker's first episode can read
    /// no record and then find one at commit. The commit replaces that Pending record (it holds nothing the episode did
    /// not apply) instead of failing as a concurrency conflict and waiting out an abandon delay.
    /// </summary>
    [Fact]
    public async Task A_first_episode_racing_the_clients_pending_record_commits_over_it()
    {
        await using var hub = new AzureHub(partitions: 1);
        await using var worker = hub.NewService();
        await worker.StartAsync();
        var start = new TaskMessage
        {
            InstanceId = "race-1",
            ExecutionId = "exec-1",
            MessageId = "start-race-1",
            Event = new ExecutionStartedEvent { OrchestrationInstance = new OrchestrationInstanceRef("race-1", "exec-1"), Name = "FanOut", Input = "3" },
        };
        await worker.SendMessageAsync(start);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var workItem = await worker.LockNextOrchestrationWorkItemAsync(cts.Token);
        Assert.NotNull(workItem);
        Assert.Null(workItem.State);

        // Now the client's second step lands: the Pending record (CreateInstanceAsync also re-sends the start; that
        // copy is dropped later as already applied).
        await hub.Service.CreateInstanceAsync(start);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await hub.Service.GetStateAsync("race-1"))!.Status);

        var registry = new DurableTaskRegistry();
        Basic(registry);
        var outcome = OrchestrationEpisode.Run(workItem, registry, new DurableTaskWorkerOptions(), DateTime.UtcNow);
        await worker.CompleteOrchestrationWorkItemAsync(workItem, outcome.Commit!);
        worker.ReleaseOrchestrationWorkItem(workItem);
        var state = (await hub.Service.GetStateAsync("race-1"))!;
        Assert.Equal(OrchestrationRuntimeStatus.Running, state.Status);
        Assert.Equal(3, state.History.OfType<TaskScheduledEvent>().Count());

        // A record that is more than the Pending stand-in is never overwritten: a second commit from a stale view conflicts.
        var stale = new OrchestrationWorkItem { InstanceId = "race-1", Messages = workItem.Messages, HubState = workItem.HubState };
        var again = OrchestrationEpisode.Run(stale, registry, new DurableTaskWorkerOptions(), DateTime.UtcNow);
        await Assert.ThrowsAsync<OrchestrationConcurrencyException>(() => worker.CompleteOrchestrationWorkItemAsync(stale, again.Commit!));
        await worker.StopAsync();
    }

    /// <summary>
    /// The cost the benchmark is about: a packed fan-out pays a few storage requests per PACK, not four per activity
    /// (before packing, 500 activities took over 2,000 requests: put, get, delete of each activity and of its reply).
    /// </summary>
    [Fact]
    public async Task A_packed_fan_out_costs_far_fewer_storage_requests_than_activities()
    {
        await using var hub = new AzureHub(partitions: 1);
        var (_, service) = await hub.StartHostAsync(Basic);
        var before = service.StorageRequestCount;
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("FanOut", 500);
        var m = await hub.WaitAsync(id, 180);
        Assert.Equal(Enumerable.Range(0, 500).Sum(i => (long)i * i), m.ReadOutputAs<long>());
        var requests = service.StorageRequestCount - before;
        var counts = string.Join(", ", service.StorageRequestCounts.Select(kv => $"{kv.Key} {kv.Value}"));
        // Idle polling of the empty queues is counted too, so the bound leaves room for a slow machine.
        Assert.True(requests < 500, $"{requests} storage requests for 500 activities ({counts})");
        Assert.True(service.StorageRequestCounts.GetValueOrDefault("POST queue messages") < 100, counts);
    }

    [Fact]
    public void Partition_hash_is_fnv1a()
    {
        // FNV-1a("a") = 0xE40C292C.
        Assert.Equal((int)(0xE40C292Cu % 16), AzureStorageOrchestrationService.PartitionOf("a", 16));
    }

    [Fact]
    public async Task Idle_backoff_grows_to_the_configured_ceiling()
    {
        var b = new AzureStorageOrchestrationService.Backoff(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(80));
        for (var i = 0; i < 6; i++)
        {
            await b.WaitAsync(CancellationToken.None);
        }

        Assert.Equal(TimeSpan.FromMilliseconds(80), b.Current);
        b.Reset();
        Assert.Equal(TimeSpan.FromMilliseconds(10), b.Current);
    }

    internal static async Task WaitForHistory(AzureHub hub, string id, Func<IReadOnlyList<HistoryEvent>, bool> done)
    {
        for (var i = 0; i < 300; i++)
        {
            var s = await hub.Service.GetStateAsync(id);
            if (s is not null && done(s.History))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"history of {id} never reached the expected point");
    }

    internal static async Task WaitForStatus(AzureHub hub, string id, OrchestrationRuntimeStatus status)
    {
        for (var i = 0; i < 300; i++)
        {
            if ((await hub.Client.GetInstanceAsync(id))?.RuntimeStatus == status)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{id} never reached {status}");
    }
}
