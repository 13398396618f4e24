using Durable.DurableTask.Client;
using Durable.DurableTask.History;
using Durable.DurableTask.InMemory;
using Durable.DurableTask.Runtime;
using Durable.DurableTask.Worker;

namespace Durable.DurableTask.Tests.InMemory;

public sealed class ClientApiTests
{
    private static void Register(DurableTaskRegistry r) => r
        .AddOrchestratorFunc<string, string>("Echo", (_, s) => Task.FromResult(s))
        .AddOrchestratorFunc<object?, string>("WaitForever", (ctx, _) => ctx.WaitForExternalEvent<string>("never"))
        .AddOrchestratorFunc<object?, string>("Gate", async (ctx, _) =>
        {
            var a = await ctx.WaitForExternalEvent<string>("a");
            ctx.SetCustomStatus("got a");
            return a + await ctx.WaitForExternalEvent<string>("b");
        });

    [Fact]
    public async Task Schedule_with_chosen_id_rejects_a_running_duplicate_and_replaces_a_finished_one()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(Register);
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("WaitForever", null, new StartOrchestrationOptions("fixed-id"));
        Assert.Equal("fixed-id", id);
        await hub.Client.WaitForInstanceStartAsync(id);
        var ex = await Assert.ThrowsAsync<OrchestrationAlreadyExistsException>(() =>
            hub.Client.ScheduleNewOrchestrationInstanceAsync("WaitForever", null, new StartOrchestrationOptions("fixed-id")));
        Assert.Contains("fixed-id", ex.Message);

        await hub.Client.TerminateInstanceAsync(id, "stop");
        var terminated = await hub.Client.WaitForInstanceCompletionAsync(id, true);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, terminated.RuntimeStatus);
        Assert.Equal("stop", terminated.ReadOutputAs<string>());

        await hub.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "again", new StartOrchestrationOptions("fixed-id"));
        var again = await hub.Client.WaitForInstanceCompletionAsync(id, true);
        Assert.Equal("again", again.ReadOutputAs<string>());
    }

    [Fact]
    public void Invalid_instance_ids_are_rejected_with_the_value()
    {
        var ex = Assert.Throws<ArgumentException>(() => DurableTaskClient.ValidateInstanceId("a/b"));
        Assert.Contains("'a/b'", ex.Message);
    }

    [Fact]
    public async Task Raise_event_and_custom_status_and_wait_for_start()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(Register);
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Gate");
        var started = await hub.Client.WaitForInstanceStartAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Running, started.RuntimeStatus);
        await hub.Client.RaiseEventAsync(id, "a", "x");
        for (var i = 0; i < 100 && (await hub.Client.GetInstanceAsync(id, true))!.SerializedCustomStatus is null; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal("got a", (await hub.Client.GetInstanceAsync(id, true))!.ReadCustomStatusAs<string>());
        await hub.Client.RaiseEventAsync(id, "b", "y");
        var done = await hub.Client.WaitForInstanceCompletionAsync(id, true);
        Assert.Equal("xy", done.ReadOutputAs<string>());
        Assert.True(done.LastUpdatedAt >= done.CreatedAt);
    }

    [Fact]
    public async Task Suspend_holds_events_until_resume()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(Register);
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Gate");
        await hub.Client.WaitForInstanceStartAsync(id);
        await hub.Client.SuspendInstanceAsync(id, "maintenance");
        await WaitForStatus(hub.Client, id, OrchestrationRuntimeStatus.Suspended);
        await hub.Client.RaiseEventAsync(id, "a", "1");
        await hub.Client.RaiseEventAsync(id, "b", "2");
        await Task.Delay(300);
        Assert.Equal(OrchestrationRuntimeStatus.Suspended, (await hub.Client.GetInstanceAsync(id))!.RuntimeStatus);

        await hub.Client.ResumeInstanceAsync(id, "done");
        var m = await hub.Client.WaitForInstanceCompletionAsync(id, true);
        Assert.Equal("12", m.ReadOutputAs<string>());
        var history = await hub.Client.GetOrchestrationHistoryAsync(id);
        Assert.Single(history.OfType<ExecutionSuspendedEvent>());
        Assert.Single(history.OfType<ExecutionResumedEvent>());
    }

    [Fact]
    public async Task Terminate_wins_over_suspension_and_is_recursive()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(r =>
        {
            Register(r);
            r.AddOrchestratorFunc<object?, string>("ParentOfForever", (ctx, _) =>
                ctx.CallSubOrchestratorAsync<string>("WaitForever", null, new SubOrchestrationOptions(instanceId: ctx.InstanceId + "-kid")));
        });
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("ParentOfForever", null, new StartOrchestrationOptions("pof"));
        await WaitForStatus(hub.Client, "pof-kid", OrchestrationRuntimeStatus.Running);
        await hub.Client.SuspendInstanceAsync(id);
        await WaitForStatus(hub.Client, id, OrchestrationRuntimeStatus.Suspended);
        await hub.Client.TerminateInstanceAsync(id, new TerminateInstanceOptions("bye", Recursive: true));
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await hub.Client.WaitForInstanceCompletionAsync(id)).RuntimeStatus);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, (await hub.Client.WaitForInstanceCompletionAsync("pof-kid")).RuntimeStatus);
    }

    [Fact]
    public async Task Query_filters_and_pages()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(Register);
        var from = DateTimeOffset.UtcNow.AddSeconds(-1);
        for (var i = 0; i < 7; i++)
        {
            await hub.RunAsync("Echo", "x", $"q-done-{i}");
        }

        await hub.Client.ScheduleNewOrchestrationInstanceAsync("WaitForever", null, new StartOrchestrationOptions("q-run"));
        await hub.Client.WaitForInstanceStartAsync("q-run");

        var page1 = await hub.Client.QueryInstancesAsync(new OrchestrationQuery(InstanceIdPrefix: "q-done-", PageSize: 3));
        Assert.Equal(3, page1.Values.Count);
        Assert.NotNull(page1.ContinuationToken);
        var all = new List<OrchestrationMetadata>();
        await foreach (var m in hub.Client.GetAllInstancesAsync(new OrchestrationQuery(InstanceIdPrefix: "q-", PageSize: 3)))
        {
            all.Add(m);
        }

        Assert.Equal(8, all.Count);
        Assert.Equal(8, all.Select(m => m.InstanceId).Distinct().Count());

        var running = await hub.Client.QueryInstancesAsync(new OrchestrationQuery(from, Statuses: [OrchestrationRuntimeStatus.Running], FetchInputsAndOutputs: true));
        Assert.Equal("q-run", Assert.Single(running.Values).InstanceId);
        var none = await hub.Client.QueryInstancesAsync(new OrchestrationQuery(CreatedTo: from));
        Assert.Empty(none.Values);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => hub.Client.QueryInstancesAsync(new OrchestrationQuery(PageSize: 0)));
    }

    [Fact]
    public async Task Purge_removes_finished_instances_only()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(Register);
        await hub.RunAsync("Echo", "x", "purge-1");
        await hub.RunAsync("Echo", "x", "purge-2");
        await hub.Client.ScheduleNewOrchestrationInstanceAsync("WaitForever", null, new StartOrchestrationOptions("purge-run"));
        await hub.Client.WaitForInstanceStartAsync("purge-run");

        Assert.Equal(1, (await hub.Client.PurgeInstanceAsync("purge-1")).PurgedInstanceCount);
        Assert.Null(await hub.Client.GetInstanceAsync("purge-1"));
        Assert.Equal(0, (await hub.Client.PurgeInstanceAsync("purge-1")).PurgedInstanceCount);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => hub.Client.PurgeInstanceAsync("purge-run"));
        Assert.Contains("Running", ex.Message);

        var result = await hub.Client.PurgeAllInstancesAsync(new PurgeInstancesFilter(DateTimeOffset.UtcNow.AddMinutes(-5)));
        Assert.Equal(1, result.PurgedInstanceCount);
        Assert.NotNull(await hub.Client.GetInstanceAsync("purge-run"));
    }

    [Fact]
    public async Task Scheduled_start_waits_until_its_time()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(Register);
        var at = DateTimeOffset.UtcNow.AddMilliseconds(600);
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "late", new StartOrchestrationOptions(StartAt: at));
        await Task.Delay(200);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await hub.Client.GetInstanceAsync(id))!.RuntimeStatus);
        var m = await hub.Client.WaitForInstanceCompletionAsync(id, true);
        Assert.True(m.LastUpdatedAt >= at.AddMilliseconds(-50));
    }

    [Fact]
    public async Task Terminating_a_scheduled_instance_before_it_starts_ends_it()
    {
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(Register);
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "never", new StartOrchestrationOptions(StartAt: DateTimeOffset.UtcNow.AddSeconds(2)));
        await hub.Client.TerminateInstanceAsync(id, "cancelled");
        var m = await hub.Client.WaitForInstanceCompletionAsync(id, true);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, m.RuntimeStatus);
        await Task.Delay(2500); // the start message arrives and must be dropped
        var after = await hub.Client.GetInstanceAsync(id, true);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, after!.RuntimeStatus);
        Assert.Equal("cancelled", after.ReadOutputAs<string>());
    }

    internal static async Task WaitForStatus(DurableTaskClient client, string id, OrchestrationRuntimeStatus status)
    {
        for (var i = 0; i < 300; i++)
        {
            if ((await client.GetInstanceAsync(id))?.RuntimeStatus == status)
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{id} never reached {status}");
    }
}

public sealed class ReplayTests
{
    private static ExecutionStartedEvent Start(string name, string version = "") => new()
    {
        OrchestrationInstance = new OrchestrationInstanceRef("i1", "e1"),
        Name = name,
        Version = version,
    };

    [Fact]
    public void Nondeterminism_names_what_history_has_and_what_code_did()
    {
        var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var past = new List<HistoryEvent>
        {
            new OrchestratorStartedEvent { Timestamp = t0 },
            Start("Flow"),
            new TaskScheduledEvent { EventId = 0, Name = "CopyRows" },
            new OrchestratorCompletedEvent(),
        };
        var changed = new FuncTaskOrchestrator<object?, int>(async (ctx, _) => await ctx.CallActivityAsync<int>("DropTables"));
        var result = OrchestrationExecutor.Execute(changed, past, [new OrchestratorStartedEvent(), new TaskCompletedEvent { TaskScheduledId = 0, Result = "1" }]);

        Assert.Equal(CompletionKind.Failed, result.Completion);
        Assert.Contains("'CopyRows'", result.Failure!.ErrorMessage);
        Assert.Contains("'DropTables'", result.Failure.ErrorMessage);
        Assert.Contains("sequence number 0", result.Failure.ErrorMessage);
        Assert.Equal(typeof(NonDeterministicOrchestrationException).FullName, result.Failure.ErrorType);
    }

    [Fact]
    public void Nondeterminism_detects_a_timer_where_history_has_an_activity()
    {
        var past = new List<HistoryEvent> { new OrchestratorStartedEvent(), Start("Flow"), new TaskScheduledEvent { EventId = 0, Name = "A" } };
        var changed = new FuncTaskOrchestrator<object?, int>(async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromMinutes(1), CancellationToken.None);
            return 0;
        });
        var result = OrchestrationExecutor.Execute(changed, past, [new OrchestratorStartedEvent()]);
        Assert.Contains("activity task named 'A'", result.Failure!.ErrorMessage);
        Assert.Contains("durable timer", result.Failure.ErrorMessage);
    }

    [Fact]
    public void Completions_match_by_id_and_duplicates_are_ignored()
    {
        var calls = 0;
        var orch = new FuncTaskOrchestrator<object?, string>(async (ctx, _) =>
        {
            calls++;
            var a = ctx.CallActivityAsync<string>("A");
            var b = ctx.CallActivityAsync<string>("B");
            return await a + await b;
        });
        var past = new List<HistoryEvent>
        {
            new OrchestratorStartedEvent(), Start("F"),
            new TaskScheduledEvent { EventId = 0, Name = "A" }, new TaskScheduledEvent { EventId = 1, Name = "B" },
            new OrchestratorCompletedEvent(),
        };
        var result = OrchestrationExecutor.Execute(orch, past,
        [
            new OrchestratorStartedEvent(),
            new TaskCompletedEvent { TaskScheduledId = 1, Result = "\"b\"" },
            new TaskCompletedEvent { TaskScheduledId = 1, Result = "\"dup\"" },
            new TaskCompletedEvent { TaskScheduledId = 0, Result = "\"a\"" },
            new TaskCompletedEvent { TaskScheduledId = 0, Result = "\"dup\"" },
        ]);

        Assert.Equal(CompletionKind.Completed, result.Completion);
        Assert.Equal("\"ab\"", result.Output);
        Assert.Empty(result.Actions);
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Long_timers_are_split_into_chunks_below_the_queue_limit()
    {
        var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var orch = new FuncTaskOrchestrator<object?, int>(async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromDays(10), CancellationToken.None);
            return 1;
        });
        var opts = new OrchestrationExecutorOptions { MaximumTimerInterval = TimeSpan.FromDays(3) };
        var first = OrchestrationExecutor.Execute(orch, [], [new OrchestratorStartedEvent { Timestamp = t0 }, Start("T")], opts);
        var timer = Assert.IsType<CreateTimerAction>(Assert.Single(first.Actions));
        Assert.Equal(t0.AddDays(3), timer.FireAt);

        // Replay through the chain: 3 + 3 + 3 + 1 days.
        var history = new List<HistoryEvent> { new OrchestratorStartedEvent { Timestamp = t0 }, Start("T"), new TimerCreatedEvent { EventId = 0, FireAt = t0.AddDays(3) } };
        var fires = new List<DateTime>();
        for (var i = 0; ; i++)
        {
            var now = ((TimerCreatedEvent)history[^1]).FireAt;
            var newEvents = new List<HistoryEvent> { new OrchestratorStartedEvent { Timestamp = now }, new TimerFiredEvent { TimerId = i, FireAt = now } };
            var r = OrchestrationExecutor.Execute(orch, history, newEvents, opts);
            history.AddRange(newEvents);
            if (r.Completion is not null)
            {
                Assert.Equal(CompletionKind.Completed, r.Completion);
                break;
            }

            var next = Assert.IsType<CreateTimerAction>(Assert.Single(r.Actions));
            fires.Add(next.FireAt);
            history.Add(new TimerCreatedEvent { EventId = next.Id, FireAt = next.FireAt });
        }

        Assert.Equal([t0.AddDays(6), t0.AddDays(9), t0.AddDays(10)], fires);
    }

    [Fact]
    public async Task Duplicate_messages_are_dropped_by_the_hub()
    {
        var runs = 0;
        await using var hub = new TestHub();
        await hub.StartWorkerAsync(r => r
            .AddOrchestratorFunc<object?, string>("Dup", async (ctx, _) =>
            {
                var first = await ctx.WaitForExternalEvent<string>("e");
                var x = await ctx.CallActivityAsync<int>("Count");
                var second = await ctx.WaitForExternalEvent<string>("e");
                return $"{first}{second}{x}";
            })
            .AddActivityFunc<object?, int>("Count", (_, _) => Interlocked.Increment(ref runs)));

        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Dup");
        await hub.Client.WaitForInstanceStartAsync(id);
        var raised = new TaskMessage { InstanceId = id, MessageId = "same", Event = new EventRaisedEvent { Name = "e", Input = "\"1\"" } };
        hub.Service.Enqueue(raised);
        await Task.Delay(300);
        hub.Service.Enqueue(raised); // re-delivered copy: must not count as the second event
        var state = await hub.Service.GetStateAsync(id);
        hub.Service.Enqueue(new TaskMessage { InstanceId = id, ExecutionId = state!.ExecutionId, Event = new TaskCompletedEvent { TaskScheduledId = 0, Result = "99" } });
        await Task.Delay(300);
        await hub.Client.RaiseEventAsync(id, "e", "2");
        var m = await hub.Client.WaitForInstanceCompletionAsync(id, true);
        Assert.Equal("121", m.ReadOutputAs<string>());
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Versioning_runs_the_recorded_version_or_fails_clearly()
    {
        var service = new InMemoryOrchestrationService();
        var client = new DurableTaskClient(service) { MaxPollingInterval = TimeSpan.FromMilliseconds(50) };
        var v1 = new DurableTaskRegistry().AddOrchestratorFunc<object?, string>("Flow", async (ctx, _) =>
            $"{await ctx.WaitForExternalEvent<string>("go")}-v1-{ctx.Version}", "1.0");
        var w1 = new DurableTaskWorker(service, v1);
        await w1.StartAsync();
        var a = await client.ScheduleNewOrchestrationInstanceAsync("Flow", null, new StartOrchestrationOptions("ver-a"));
        var b = await client.ScheduleNewOrchestrationInstanceAsync("Flow", null, new StartOrchestrationOptions("ver-b"));
        await client.WaitForInstanceStartAsync(a);
        await client.WaitForInstanceStartAsync(b);
        await w1.StopAsync();

        // Host with both versions: the old instance keeps running 1.0, a new one gets the newest (2.0).
        var both = new DurableTaskRegistry()
            .AddOrchestratorFunc<object?, string>("Flow", async (ctx, _) => $"{await ctx.WaitForExternalEvent<string>("go")}-v1-{ctx.Version}", "1.0")
            .AddOrchestratorFunc<object?, string>("Flow", async (ctx, _) => $"{await ctx.WaitForExternalEvent<string>("go")}-v2-{ctx.Version}", "2.0");
        var w2 = new DurableTaskWorker(service, both);
        await w2.StartAsync();
        await client.RaiseEventAsync(a, "go", "a");
        Assert.Equal("a-v1-1.0", (await client.WaitForInstanceCompletionAsync(a, true)).ReadOutputAs<string>());
        var c = await client.ScheduleNewOrchestrationInstanceAsync("Flow");
        await client.RaiseEventAsync(c, "go", "c");
        Assert.Equal("c-v2-2.0", (await client.WaitForInstanceCompletionAsync(c, true)).ReadOutputAs<string>());
        await w2.StopAsync();

        // Host with only 2.0: an instance recorded as 1.0 is failed with a message naming both versions.
        var only2 = new DurableTaskRegistry().AddOrchestratorFunc<object?, string>("Flow", (_, _) => Task.FromResult("v2"), "2.0");
        var w3 = new DurableTaskWorker(service, only2);
        await w3.StartAsync();
        await client.RaiseEventAsync(b, "go", "b");
        var failed = await client.WaitForInstanceCompletionAsync(b, true);
        await w3.StopAsync();
        Assert.Equal(OrchestrationRuntimeStatus.Failed, failed.RuntimeStatus);
        Assert.Contains("version '1.0'", failed.FailureDetails!.ErrorMessage);
        Assert.Contains("'2.0'", failed.FailureDetails.ErrorMessage);
        Assert.Equal("1.0", failed.Version);
    }

    [Fact]
    public async Task Version_mismatch_can_leave_the_instance_for_another_host()
    {
        var service = new InMemoryOrchestrationService();
        var client = new DurableTaskClient(service) { MaxPollingInterval = TimeSpan.FromMilliseconds(50) };
        var id = await client.ScheduleNewOrchestrationInstanceAsync("Flow", "x", new StartOrchestrationOptions { Version = "1.0" });
        var only2 = new DurableTaskRegistry().AddOrchestratorFunc<string, string>("Flow", (_, s) => Task.FromResult(s + "v2"), "2.0");
        await using (var w = new DurableTaskWorker(service, only2, new DurableTaskWorkerOptions { VersionMismatch = VersionMismatchBehavior.Abandon }))
        {
            await w.StartAsync();
            await Task.Delay(400);
            Assert.Equal(OrchestrationRuntimeStatus.Pending, (await client.GetInstanceAsync(id))!.RuntimeStatus);
        }
    }

    [Fact]
    public async Task Poison_orchestration_message_is_parked_and_the_reason_shows_in_the_status()
    {
        await using var hub = new TestHub(new InMemoryOrchestrationServiceOptions { MaxDequeueCount = 3, LockTimeout = TimeSpan.FromMilliseconds(30) });
        var id = await hub.Client.ScheduleNewOrchestrationInstanceAsync("Anything", null, new StartOrchestrationOptions("poisoned"));

        // Three hosts "crash" while holding the start message: it is delivered and never completed.
        for (var i = 0; i < 3; i++)
        {
            var wi = await hub.Service.LockNextOrchestrationWorkItemAsync(CancellationToken.None);
            hub.Service.ReleaseOrchestrationWorkItem(wi!);
            await Task.Delay(50);
        }

        await hub.StartWorkerAsync(r => r.AddOrchestratorFunc<object?, int>("Anything", (_, _) => Task.FromResult(1)));
        var m = await hub.Client.WaitForInstanceCompletionAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, m.RuntimeStatus);
        Assert.Equal("Durable.PoisonMessage", m.FailureDetails!.ErrorType);
        Assert.Contains("after 4 deliveries", m.FailureDetails.ErrorMessage);
        Assert.Single(hub.Service.PoisonMessages);
    }

    [Fact]
    public async Task Poison_activity_message_is_parked_and_fails_the_call_with_its_reason()
    {
        await using var hub = new TestHub(new InMemoryOrchestrationServiceOptions { MaxDequeueCount = 2, LockTimeout = TimeSpan.FromMilliseconds(30) });
        var crashes = 0;
        await hub.StartWorkerAsync(r => r
            .AddOrchestratorFunc<object?, string>("CallsCrasher", async (ctx, _) =>
            {
                try
                {
                    await ctx.CallActivityAsync("Crasher", null, TaskOptions.FromRetryPolicy(new RetryPolicy(5, TimeSpan.FromMilliseconds(10))));
                    return "ran";
                }
                catch (TaskFailedException ex)
                {
                    return ex.FailureDetails.ErrorType + ": " + ex.FailureDetails.ErrorMessage;
                }
            })
            .AddActivityFunc<object?>("Crasher", async (ctx, _) =>
            {
                // Simulates a host that dies mid-activity: the message is never completed and its lock expires.
                Interlocked.Increment(ref crashes);
                await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
            }), new DurableTaskWorkerOptions { ActivityRenewInterval = TimeSpan.FromDays(1), MaxConcurrentActivities = 8 });

        var m = await hub.RunAsync("CallsCrasher");
        Assert.StartsWith("Durable.PoisonMessage: Activity 'Crasher' (#0)", m.ReadOutputAs<string>());
        Assert.Equal(2, crashes);
        var history = await hub.Client.GetOrchestrationHistoryAsync(m.InstanceId);
        Assert.Single(history.OfType<TaskScheduledEvent>()); // non-retriable: the retry policy does not re-run it
    }

    [Fact]
    public async Task Two_workers_on_one_hub_never_commit_a_step_twice()
    {
        await using var hub = new TestHub();
        void Reg(DurableTaskRegistry r) => r
            .AddOrchestratorFunc<int, int>("Fan", async (ctx, n) => (await Task.WhenAll(Enumerable.Range(0, n).Select(i => ctx.CallActivityAsync<int>("One", i)))).Length)
            .AddActivityFunc<int, int>("One", (_, i) => i);
        await hub.StartWorkerAsync(Reg);
        await hub.StartWorkerAsync(Reg);
        var ids = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add(await hub.Client.ScheduleNewOrchestrationInstanceAsync("Fan", 30));
        }

        foreach (var id in ids)
        {
            var m = await hub.Client.WaitForInstanceCompletionAsync(id, true);
            Assert.Equal(30, m.ReadOutputAs<int>());
            var h = await hub.Client.GetOrchestrationHistoryAsync(id);
            Assert.Equal(30, h.OfType<TaskScheduledEvent>().Select(e => e.EventId).Distinct().Count());
            Assert.Equal(30, h.OfType<TaskScheduledEvent>().Count());
            Assert.Equal(30, h.OfType<TaskCompletedEvent>().Count());
        }
    }
}
