using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Durable.Functions.Engine;
using Durable.Testing;
using DurableTask.AzureStorage;
using DurableTask.Core.Exceptions;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Durable.Engine.Tests;

/// <summary>
/// The client API as the product uses it (<see cref="DurableHubClient"/>: the management API and the HTTP triggers
/// go through it), on a task hub in Azurite with its worker in this process. The tests share one hub (each uses its
/// own instance ids); purging by filter, which sees every instance of a hub, has a hub of its own (<see cref="PurgeTests"/>).
/// </summary>
public sealed class ClientApiTests(ClientApiTests.Hub fixture) : IClassFixture<ClientApiTests.Hub>
{
    private readonly InProcessHub _hub = fixture.Value;

    /// <summary>The hub the tests of this class share.</summary>
    public sealed class Hub : IAsyncLifetime
    {
        private InProcessHub? _value;

        internal InProcessHub Value => _value ?? throw new InvalidOperationException("The hub is not started.");

        public async Task InitializeAsync() => _value = await InProcessHub.StartAsync(Register);

        public async Task DisposeAsync()
        {
            if (_value is not null)
            {
                await _value.DisposeAsync();
            }
        }
    }

    internal static void Register(DurableTaskRegistry r) => r
        .AddOrchestratorFunc<string, string>("Echo", (_, s) => Task.FromResult(s))
        .AddOrchestratorFunc<object?, string>("WaitForever", (ctx, _) => ctx.WaitForExternalEvent<string>("never"))
        .AddOrchestratorFunc<object?, string>("Gate", async (ctx, _) =>
        {
            var a = await ctx.WaitForExternalEvent<string>("a");
            ctx.SetCustomStatus("got a");
            return a + await ctx.WaitForExternalEvent<string>("b");
        })
        .AddOrchestratorFunc<object?, string>("ParentOfForever", (ctx, _) =>
            ctx.CallSubOrchestratorAsync<string>("WaitForever", null, new SubOrchestrationOptions { InstanceId = ctx.InstanceId + "-kid" }))
        .AddOrchestratorFunc<int, int>("Twice", async (ctx, x) => await ctx.CallActivityAsync<int>("Double", x))
        .AddActivityFunc<int, int>("Double", (_, x) => x * 2)
        .AddOrchestratorFunc<object?, int>("Throws", (_, _) => Task.FromException<int>(new InvalidOperationException("bad input")))
        .AddOrchestratorFunc<object?, int>("Uncaught", async (ctx, _) =>
        {
            await ctx.CallActivityAsync("Boom");
            return 0;
        })
        .AddActivityFunc<object?>("Boom", (_, _) => Task.FromException(new InvalidOperationException("kaput")));

    [Fact]
    public async Task Schedule_with_a_chosen_id_rejects_a_running_duplicate_and_replaces_a_finished_one()
    {
        var hub = _hub;
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("WaitForever", null, new StartOrchestrationOptions("fixed-id"));
        Assert.Equal("fixed-id", id);
        await hub.Client.WaitForInstanceStartAsync(id);
        var ex = await Assert.ThrowsAsync<OrchestrationAlreadyExistsException>(() =>
            hub.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "dup", new StartOrchestrationOptions("fixed-id")));
        Assert.Contains("fixed-id", ex.Message);
        // The refused start changed nothing: the instance still waits, as the first start made it.
        Assert.Equal("WaitForever", (await hub.Client.GetInstanceAsync(id))!.Name);

        await hub.Client.TerminateInstanceAsync(id, new TerminateInstanceOptions("stop"));
        var terminated = await hub.WaitForCompletionAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, terminated.RuntimeStatus);
        Assert.Equal("stop", terminated.ReadOutputAs<string>());

        await hub.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "again", new StartOrchestrationOptions("fixed-id"));
        var again = await hub.WaitForCompletionAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, again.RuntimeStatus);
        Assert.Equal("Echo", again.Name);
        Assert.Equal("again", again.ReadOutputAs<string>());
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a#b")]
    [InlineData("a?b")]
    [InlineData("tab\there")]
    [InlineData(" ")]
    [InlineData("")]
    public async Task Invalid_instance_ids_are_rejected_before_anything_is_written_naming_the_value(string instanceId)
    {
        var direct = Assert.Throws<ArgumentException>(() => InstanceIds.Validate(instanceId));
        Assert.Contains($"'{instanceId}'", direct.Message);

        // Through the client of a hub whose storage was never created: the check comes before any storage call.
        var client = new DurableHubClient(new AzureStorageOrchestrationService(TestTaskHub.Settings(TestTaskHub.NewName())));
        var start = await Assert.ThrowsAsync<ArgumentException>(() =>
            client.ScheduleNewOrchestrationInstanceAsync("Echo", "x", new StartOrchestrationOptions(instanceId)));
        Assert.Contains($"'{instanceId}'", start.Message);
        var raise = await Assert.ThrowsAsync<ArgumentException>(() => client.RaiseEventAsync(instanceId, "a", "x"));
        Assert.Contains($"'{instanceId}'", raise.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => client.SuspendInstanceAsync(instanceId));
        await Assert.ThrowsAsync<ArgumentException>(() => client.ResumeInstanceAsync(instanceId));
    }

    [Fact]
    public void An_instance_id_longer_than_256_characters_is_rejected_and_256_are_accepted()
    {
        InstanceIds.Validate(new string('x', 256));
        var ex = Assert.Throws<ArgumentException>(() => InstanceIds.Validate(new string('x', 257)));
        Assert.Contains("1-256", ex.Message);
    }

    [Fact]
    public async Task Raise_event_custom_status_and_wait_for_start()
    {
        var hub = _hub;
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Gate");
        var started = await hub.Client.WaitForInstanceStartAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Running, started.RuntimeStatus);
        await Assert.ThrowsAsync<ArgumentException>(() => hub.Client.RaiseEventAsync(id, " ", "x"));

        await hub.Client.RaiseEventAsync(id, "a", "x");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        // Unset, the custom status is JSON null ("null"), as Microsoft.DurableTask's worker writes it.
        while ((await hub.Client.GetInstanceAsync(id, getInputsAndOutputs: true))!.ReadCustomStatusAs<string>() is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the custom status never appeared");
            await Task.Delay(50);
        }

        Assert.Equal("got a", (await hub.Client.GetInstanceAsync(id, getInputsAndOutputs: true))!.ReadCustomStatusAs<string>());
        await hub.Client.RaiseEventAsync(id, "b", "y");
        var done = await hub.WaitForCompletionAsync(id);
        Assert.Equal("xy", done.ReadOutputAs<string>());
        Assert.Equal("got a", done.ReadCustomStatusAs<string>());
        Assert.True(done.LastUpdatedAt >= done.CreatedAt);

        // Read without inputs and outputs, the metadata carries none and refuses to decode them.
        var bare = await hub.Client.GetInstanceAsync(id);
        Assert.Null(bare!.SerializedOutput);
        Assert.Throws<InvalidOperationException>(() => bare.ReadOutputAs<string>());
    }

    [Fact]
    public async Task Suspend_holds_events_until_resume()
    {
        var hub = _hub;
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Gate");
        await hub.Client.WaitForInstanceStartAsync(id);
        await hub.Client.SuspendInstanceAsync(id, "maintenance");
        await hub.WaitForStatusAsync(id, OrchestrationRuntimeStatus.Suspended);
        await hub.Client.RaiseEventAsync(id, "a", "1");
        await hub.Client.RaiseEventAsync(id, "b", "2");
        // Several polling rounds of the worker: the events arrived, and the suspended instance did not run them.
        await Task.Delay(1500);
        var held = await hub.Client.GetInstanceAsync(id, getInputsAndOutputs: true);
        Assert.Equal(OrchestrationRuntimeStatus.Suspended, held!.RuntimeStatus);
        Assert.Null(held.ReadCustomStatusAs<string>());

        await hub.Client.ResumeInstanceAsync(id, "done");
        var m = await hub.WaitForCompletionAsync(id);
        Assert.Equal("12", m.ReadOutputAs<string>());
        var types = (await hub.EventTypesAsync(id)).ToList();
        Assert.Single(types, t => t == "ExecutionSuspended");
        Assert.Single(types, t => t == "ExecutionResumed");
        Assert.True(types.IndexOf("ExecutionResumed") < types.IndexOf("ExecutionCompleted"));
    }

    [Fact]
    public async Task Terminate_wins_over_suspension_and_recursive_terminate_ends_a_running_sub_orchestration()
    {
        var hub = _hub;
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("ParentOfForever", null, new StartOrchestrationOptions("pof"));
        await hub.WaitForStatusAsync("pof-kid", OrchestrationRuntimeStatus.Running);
        await hub.Client.SuspendInstanceAsync(id);
        await hub.WaitForStatusAsync(id, OrchestrationRuntimeStatus.Suspended);

        await hub.Client.TerminateInstanceAsync(id, new TerminateInstanceOptions("bye", Recursive: true));
        var parent = await hub.WaitForCompletionAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, parent.RuntimeStatus);
        Assert.Equal("bye", parent.ReadOutputAs<string>());
        var kid = await hub.WaitForCompletionAsync("pof-kid");
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, kid.RuntimeStatus);
        Assert.Equal("bye", kid.ReadOutputAs<string>());
    }

    [Fact]
    public async Task Terminate_without_recursion_leaves_the_sub_orchestration_running_and_a_finished_instance_as_it_is()
    {
        var hub = _hub;
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("ParentOfForever", null, new StartOrchestrationOptions("solo"));
        await hub.WaitForStatusAsync("solo-kid", OrchestrationRuntimeStatus.Running);
        await hub.Client.TerminateInstanceAsync(id, new TerminateInstanceOptions("parent only"));
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await hub.WaitForCompletionAsync(id)).RuntimeStatus);
        await Task.Delay(500);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await hub.Client.GetInstanceAsync("solo-kid"))!.RuntimeStatus);

        var done = await hub.RunAsync("Echo", "kept", "finished");
        await hub.Client.TerminateInstanceAsync(done.InstanceId, new TerminateInstanceOptions("too late"));
        await Task.Delay(1000);
        var after = await hub.Client.GetInstanceAsync(done.InstanceId, getInputsAndOutputs: true);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, after!.RuntimeStatus);
        Assert.Equal("kept", after.ReadOutputAs<string>());
    }

    [Fact]
    public async Task Query_filters_by_prefix_status_and_creation_time_and_pages_with_a_continuation_token()
    {
        var hub = _hub;
        var from = DateTimeOffset.UtcNow.AddSeconds(-5);
        for (var i = 0; i < 7; i++)
        {
            await hub.RunAsync("Echo", $"x{i}", $"q-done-{i}");
        }

        await hub.Client.ScheduleNewOrchestrationInstanceAsync("WaitForever", null, new StartOrchestrationOptions("q-run"));
        await hub.Client.WaitForInstanceStartAsync("q-run");
        await hub.RunAsync("Echo", "other", "elsewhere");

        // One page at a time, as the management API pages: a full first page hands out a token for the next.
        var pages = new List<Page<OrchestrationMetadata>>();
        await foreach (var page in hub.Client.GetAllInstancesAsync(new OrchestrationQuery(InstanceIdPrefix: "q-done-", PageSize: 3)).AsPages(pageSizeHint: 3))
        {
            pages.Add(page);
        }

        Assert.Equal(3, pages[0].Values.Count);
        Assert.NotNull(pages[0].ContinuationToken);
        Assert.Equal(7, pages.Sum(p => p.Values.Count));
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"q-done-{i}").Order(), pages.SelectMany(p => p.Values).Select(m => m.InstanceId).Order());

        // Resuming from a page's token goes on where that page ended.
        var rest = new List<OrchestrationMetadata>();
        await foreach (var page in hub.Client.GetAllInstancesAsync(new OrchestrationQuery(InstanceIdPrefix: "q-done-", PageSize: 3)).AsPages(pages[0].ContinuationToken, 3))
        {
            rest.AddRange(page.Values);
        }

        Assert.Equal(4, rest.Count);
        Assert.Empty(rest.Select(m => m.InstanceId).Intersect(pages[0].Values.Select(m => m.InstanceId)));

        var all = new List<OrchestrationMetadata>();
        await foreach (var m in hub.Client.GetAllInstancesAsync(new OrchestrationQuery(InstanceIdPrefix: "q-", PageSize: 2)))
        {
            all.Add(m);
        }

        Assert.Equal(8, all.Select(m => m.InstanceId).Distinct().Count());
        Assert.Equal(8, all.Count);

        var running = await FirstPageAsync(hub.Client, new OrchestrationQuery(from, Statuses: [OrchestrationRuntimeStatus.Running], InstanceIdPrefix: "q-", FetchInputsAndOutputs: true));
        Assert.Equal("q-run", Assert.Single(running).InstanceId);
        var completed = await FirstPageAsync(hub.Client, new OrchestrationQuery(Statuses: [OrchestrationRuntimeStatus.Completed], InstanceIdPrefix: "q-", FetchInputsAndOutputs: true));
        Assert.Equal(7, completed.Count);
        Assert.All(completed, m => Assert.StartsWith("x", m.ReadOutputAs<string>()));
        Assert.Empty(await FirstPageAsync(hub.Client, new OrchestrationQuery(CreatedTo: from, InstanceIdPrefix: "q-")));
        Assert.Empty(await FirstPageAsync(hub.Client, new OrchestrationQuery(CreatedFrom: DateTimeOffset.UtcNow.AddMinutes(1))));
    }

    [Fact]
    public async Task A_scheduled_start_waits_until_its_time()
    {
        var hub = _hub;
        var at = DateTimeOffset.UtcNow.AddSeconds(3);
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "late", new StartOrchestrationOptions("scheduled", at));
        await Task.Delay(1000);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await hub.Client.GetInstanceAsync(id))!.RuntimeStatus);
        var m = await hub.WaitForCompletionAsync(id);
        Assert.Equal("late", m.ReadOutputAs<string>());
        // Not before its time, within the queue's resolution: the start message is hidden for whole seconds.
        Assert.True(m.LastUpdatedAt >= at.AddSeconds(-1), $"completed at {m.LastUpdatedAt:o}, before its start time {at:o}");
    }

    [Fact]
    public async Task Large_inputs_and_outputs_travel_through_blobs_and_read_back_whole()
    {
        var hub = _hub;
        // Far over a queue message (64 KB) and a table property (64 KB): the provider stores it compressed in a blob.
        var big = string.Concat(Enumerable.Range(0, 40_000).Select(i => (char)('a' + (i % 26)) + "é"));
        var m = await hub.RunAsync("Echo", big, "large-1");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, m.RuntimeStatus);
        Assert.Equal(big, m.ReadOutputAs<string>());
        Assert.Equal(big, m.ReadInputAs<string>());
    }

    /// <summary>
    /// The Azure Storage provider keeps a failed instance's reason in its output, as "error type: message" (its
    /// instance table has no failure details column), which the management API shows as the output.
    /// </summary>
    [Fact]
    public async Task A_failed_instance_says_why_in_its_output_and_an_uncaught_activity_failure_fails_it()
    {
        var hub = _hub;
        var thrown = await hub.RunAsync("Throws", instanceId: "fails-1");
        Assert.Equal(OrchestrationRuntimeStatus.Failed, thrown.RuntimeStatus);
        Assert.Equal("System.InvalidOperationException: bad input", thrown.SerializedOutput);
        // The provider stores no failure details; the client reads them back from that output.
        Assert.Equal("System.InvalidOperationException", thrown.FailureDetails?.ErrorType);
        Assert.Equal("bad input", thrown.FailureDetails?.ErrorMessage);

        var uncaught = await hub.RunAsync("Uncaught", instanceId: "fails-2");
        Assert.Equal(OrchestrationRuntimeStatus.Failed, uncaught.RuntimeStatus);
        Assert.StartsWith(typeof(Microsoft.DurableTask.TaskFailedException).FullName + ": ", uncaught.SerializedOutput);
        Assert.Contains("'Boom'", uncaught.SerializedOutput);
        Assert.Contains("kaput", uncaught.SerializedOutput);
    }

    [Fact]
    public async Task History_names_each_event_type_and_carries_no_serializer_annotations()
    {
        var hub = _hub;
        var m = await hub.RunAsync("Twice", 21, "history-1");
        Assert.Equal(42, m.ReadOutputAs<int>());
        var history = await hub.Client.GetHistoryAsync("history-1");
        Assert.NotNull(history);
        var types = history.Select(e => e!["EventType"]!.GetValue<string>()).ToList();
        Assert.Equal("ExecutionStarted", types.First(t => t != "OrchestratorStarted"));
        Assert.Contains("TaskScheduled", types);
        Assert.Contains("TaskCompleted", types);
        Assert.Equal("ExecutionCompleted", types.Last(t => t != "OrchestratorCompleted"));
        var scheduled = history.OfType<JsonObject>().Single(e => e["EventType"]!.GetValue<string>() == "TaskScheduled");
        Assert.Equal("Double", scheduled["Name"]!.GetValue<string>());
        Assert.DoesNotContain("$type", history.ToJsonString());
        Assert.Null(await hub.Client.GetHistoryAsync("no-such-instance"));
    }

    private static async Task<IReadOnlyList<OrchestrationMetadata>> FirstPageAsync(DurableTaskClient client, OrchestrationQuery query)
    {
        await foreach (var page in client.GetAllInstancesAsync(query).AsPages())
        {
            return page.Values;
        }

        return [];
    }
}

/// <summary>Purging, on a hub of its own: a purge by filter sees every instance of its hub.</summary>
public sealed class PurgeTests
{
    [Fact]
    public async Task Purging_an_instance_deletes_its_large_payload_blobs_too()
    {
        await using var hub = await InProcessHub.StartAsync(ClientApiTests.Register);
        var big = new string('x', 200_000) + "end";
        Assert.Equal(big, (await hub.RunAsync("Echo", big, "purge-big")).ReadOutputAs<string>());
        var container = new BlobContainerClient(LocalCluster.Current.AzureStorageConnectionString, hub.Hub.Name.ToLowerInvariant() + "-largemessages");
        Assert.NotEmpty(await BlobsAsync(container, "purge-big/"));

        Assert.Equal(1, (await hub.Client.PurgeInstanceAsync("purge-big")).PurgedInstanceCount);
        Assert.Null(await hub.Client.GetInstanceAsync("purge-big"));
        Assert.Empty(await BlobsAsync(container, "purge-big/"));
    }

    private static async Task<List<string>> BlobsAsync(BlobContainerClient container, string prefix)
    {
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, CancellationToken.None))
        {
            names.Add(blob.Name);
        }

        return names;
    }

    [Fact]
    public async Task Purge_removes_finished_instances_only_and_purge_by_filter_never_deletes_running_ones()
    {
        await using var hub = await InProcessHub.StartAsync(ClientApiTests.Register);
        await hub.RunAsync("Echo", "x", "purge-1");
        await hub.RunAsync("Twice", 4, "purge-2");
        await hub.Client.ScheduleNewOrchestrationInstanceAsync("WaitForever", null, new StartOrchestrationOptions("purge-run"));
        await hub.Client.WaitForInstanceStartAsync("purge-run");

        Assert.Equal(1, (await hub.Client.PurgeInstanceAsync("purge-1")).PurgedInstanceCount);
        Assert.Null(await hub.Client.GetInstanceAsync("purge-1"));
        Assert.Null(await hub.Client.GetHistoryAsync("purge-1"));
        Assert.Equal(0, (await hub.Client.PurgeInstanceAsync("purge-1")).PurgedInstanceCount);
        Assert.Equal(0, (await hub.Client.PurgeInstanceAsync("never-existed")).PurgedInstanceCount);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => hub.Client.PurgeInstanceAsync("purge-run"));
        Assert.Contains("Running", ex.Message);
        Assert.Contains("purge-run", ex.Message);

        // By filter, even asking for Running ones: only finished instances go.
        var byFilter = await hub.Client.PurgeAllInstancesAsync(new PurgeInstancesFilter(DateTimeOffset.UtcNow.AddMinutes(-5), null,
            [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Running]));
        Assert.Equal(1, byFilter.PurgedInstanceCount);
        Assert.Null(await hub.Client.GetInstanceAsync("purge-2"));
        Assert.Equal(0, (await hub.Client.PurgeAllInstancesAsync(new PurgeInstancesFilter(Statuses: [OrchestrationRuntimeStatus.Running]))).PurgedInstanceCount);
        Assert.Equal(0, (await hub.Client.PurgeAllInstancesAsync(new PurgeInstancesFilter())).PurgedInstanceCount);
        var survivor = await hub.Client.GetInstanceAsync("purge-run");
        Assert.Equal(OrchestrationRuntimeStatus.Running, survivor!.RuntimeStatus);

        // Still alive after the purges: it completes when told to.
        await hub.Client.RaiseEventAsync("purge-run", "never", "now");
        Assert.Equal("now", (await hub.WaitForCompletionAsync("purge-run")).ReadOutputAs<string>());
    }
}
