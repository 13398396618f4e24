using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Durable.Functions.App;
using Durable.Functions.MoveTables;
using Durable.Functions.Orchestrations;
using Durable.Functions.Queues;
using Durable.Functions.Runner;
using Durable.Functions.Storage;
using Durable.Functions.Tests.Support;
using Durable.Testing;
using Durable.Workflows;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>
/// Issue 18, points 5 and 8, through a real host (the runner's queue listener on the cluster's Azurite, the HTTP API,
/// the MoveTables orchestration) with the cluster side of the workflow in memory: the approvals queue takes only the
/// signed approval in its documented shape, parks anything else in the poison queue and changes nothing, and the same
/// signed payload works over HTTP and on the queue.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ApprovalsQueueTests : IAsyncLifetime
{
    private const string Key = "approvals-test-key";
    private static readonly byte[] AliceKey = Enumerable.Range(60, 32).Select(i => (byte)i).ToArray();
    private static readonly QueueTriggerSettings Base64 = new();
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..10];
    private readonly InMemoryOperations _ops = new(AliceKey);
    private AzureTriggerStorage _storage = null!;
    private TestHost _host = null!;

    private string Queue => "ft-appr-" + _suffix;

    private string Poison => QueueTriggerListener.PoisonQueueNameFor(Queue);

    private string Workflow => "appr_" + _suffix;

    private string Instance => "movetables:customer." + Workflow;

    private DurableTaskClient Client => _host.Services.GetRequiredService<DurableTaskClient>();

    public async Task InitializeAsync()
    {
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("filtered");
        var settings = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = cluster.AzureStorageConnectionString,
            [DurableApp.ApprovalsQueueSetting] = Queue,
            ["AzureWebJobs.PurgeHistory.Disabled"] = "true",
            ["DURABLE_HOST_KEY"] = Key,
            [ConfiguredApproverKeys.Setting] = "alice=" + Convert.ToBase64String(AliceKey),
            // The HTTP API reads the workflow registry under this root; nothing is written there (the operations are in memory).
            [MoveTablesEnvironmentOptions.EtcdSetting] = cluster.EtcdEndpoints,
            [MoveTablesEnvironmentOptions.RootSetting] = "/durable-test/approvals_" + _suffix,
            [MoveTablesEnvironmentOptions.EngineUserSetting] = user,
            [MoveTablesEnvironmentOptions.EnginePasswordSetting] = password,
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings!).Build();
        _storage = AzureTriggerStorage.FromConnectionString(cluster.AzureStorageConnectionString, "AzureWebJobsStorage", "ft" + _suffix + "-timers");
        await _storage.CreateIfNotExistsAsync(Queue, CancellationToken.None);
        _host = await TestHost.StartAsync(s =>
        {
            s.AddSingleton<IMoveTablesOperations>(_ops);
            s.AddDurableApp(configuration);
            s.AddMoveTables(configuration);
        }, settings);

        var spec = new MoveTablesCreate
        {
            Workflow = Workflow, TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["t1"], VDiffInterval = "off",
            Approvals = new ApprovalPolicy { Required = true, Approvers = ["alice"] }, RequestedBy = "ci-pipeline",
        };
        await Client.ScheduleNewOrchestrationInstanceAsync(MoveTablesOrchestration.Name, new WorkflowState { Spec = spec }, new Microsoft.DurableTask.StartOrchestrationOptions(Instance));
        await WaitAsync(s => s.Phase == Phases.Running, "running after the copy");
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _storage.DeleteQueueAsync(Queue, CancellationToken.None);
        await _storage.DeleteQueueAsync(Poison, CancellationToken.None);
    }

    private async Task<WorkflowState> StateAsync() =>
        (await Client.GetInstanceAsync(Instance, getInputsAndOutputs: true))!.ReadCustomStatusAs<WorkflowState>()!;

    private async Task<WorkflowState> WaitAsync(Func<WorkflowState, bool> until, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var meta = await Client.GetInstanceAsync(Instance, getInputsAndOutputs: true);
            last = meta?.SerializedCustomStatus is null ? null : meta.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, commands {string.Join(" | ", last?.Commands.Select(c => $"{c.RequestId} {c.Action}:{c.State}:{c.Message}") ?? [])}");
    }

    /// <summary>POSTs to the workflow's API; the text is the error's message when the answer is an error.</summary>
    private async Task<(HttpStatusCode Status, string Text)> PostAsync(string action, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/movetables/customer/{Workflow}/{action}") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-functions-key", Key);
        using var response = await _host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, response.IsSuccessStatusCode ? text : JsonDocument.Parse(text).RootElement.GetProperty("message").GetString()!);
    }

    /// <summary>Sends a command over HTTP and returns its request id once the workflow has answered it.</summary>
    private async Task<string> CommandAsync(string action, string json = "{}")
    {
        var (status, text) = await PostAsync(action, json);
        Assert.True(status == HttpStatusCode.Accepted, $"{action}: {status} {text}");
        var id = JsonDocument.Parse(text).RootElement.GetProperty("request_id").GetString()!;
        await WaitAsync(s => s.Commands.Any(c => c.RequestId == id), $"the answer to {action}");
        return id;
    }

    private string Signed(string action, long generation, string nonce, string approver = "alice", byte[]? key = null, string? instance = null) =>
        JsonSerializer.Serialize(SignedApproval.Sign(key ?? AliceKey, instance ?? Instance, action, generation, approver, nonce, DateTimeOffset.UtcNow.AddMinutes(10)));

    private Task EnqueueAsync(string text) => _storage.SendAsync(Queue, QueueTriggerListener.Encode(text, Base64), CancellationToken.None);

    private Task<int> CountAsync(string queue) => _storage.ApproximateCountAsync(queue, CancellationToken.None);

    /// <summary>What a refused message must leave as it was: the workflow's decisions and what it waits for.</summary>
    private static string Fingerprint(WorkflowState s) =>
        JsonSerializer.Serialize(new { s.Phase, s.Traffic, s.TrafficGeneration, s.Pending, s.Audit, s.Commands });

    [Fact]
    public async Task Unsigned_arbitrary_and_malformed_messages_go_to_the_poison_queue_and_change_nothing_a_signed_one_works()
    {
        await CommandAsync("switchtraffic");
        var before = await WaitAsync(s => s.Pending is not null, "SwitchTraffic pending");
        var unsigned = JsonSerializer.Deserialize<SignedApproval>(Signed("SwitchTraffic", 0, "unsigned"))! with { Signature = new string('0', 64) };
        string[] refused =
        [
            // The old generic shape: any event name, any payload, on any instance. Cancel needs no approval at all.
            $$$"""{"instanceId":"{{{Instance}}}","eventName":"Command","payload":{"action":"Cancel","request_id":"evil","requested_by":"mallory"}}""",
            $$$$"""{"instanceId":"{{{{Instance}}}}","eventName":"Command","payload":{"action":"Approve","request_id":"evil2","approval":{"instance_id":"{{{{Instance}}}}","action":"SwitchTraffic","approver":"alice","nonce":"x","expires_at":1,"signature":"00"}}}""",
            $$$"""{"instanceId":"{{{Instance}}}","eventName":"SomethingElse","payload":{}}""",
            "not json at all",
            "[1,2,3]",
            JsonSerializer.Serialize(unsigned),
            // Signed with a key this host does not know for that name.
            Signed("SwitchTraffic", 0, "mallory-1", approver: "mallory", key: new byte[32]),
            // From an approver this host has no key for.
            Signed("SwitchTraffic", 0, "bob-1", approver: "bob"),
            // A v1 approval: no generation.
            $$"""{"instance_id":"{{Instance}}","action":"SwitchTraffic","approver":"alice","nonce":"v1","expires_at":{{DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds()}},"signature":"{{new string('a', 64)}}"}""",
            // Well signed, with one field too many.
            Signed("SwitchTraffic", 0, "extra").TrimEnd('}') + ",\"eventName\":\"Command\"}",
            // Well signed, for an instance that does not exist.
            Signed("SwitchTraffic", 0, "nobody", instance: "movetables:customer.nobody_" + _suffix),
        ];
        foreach (var text in refused)
        {
            await EnqueueAsync(text);
        }

        await TestHost.WaitUntilAsync(async () => await CountAsync(Poison) == refused.Length, TimeSpan.FromSeconds(60), $"{refused.Length} messages in {Poison}");
        await TestHost.WaitUntilAsync(async () => await CountAsync(Queue) == 0, TimeSpan.FromSeconds(30), "the approvals queue empty");
        var parked = await _storage.ReceiveAsync(Poison, 32, TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal(refused.Select(t => QueueTriggerListener.Encode(t, Base64)).Order(), parked.Select(m => m.Text).Order());

        // Nothing reached the workflow: no cancel, no switch, no audit entry, the same command still waits.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var after = await StateAsync();
        Assert.Equal(Fingerprint(before), Fingerprint(after));
        Assert.DoesNotContain(_ops.Calls, c => c is "Cancel" || c.StartsWith("Switch", StringComparison.Ordinal));

        // The documented, signed approval on the same queue releases the pending switch.
        await EnqueueAsync(Signed("SwitchTraffic", 0, "good"));
        var switched = await WaitAsync(s => s.Commands.Any(c => c.RequestId == before.Pending!.RequestId && c.State == "done"), "the switch after the queued approval");
        Assert.Equal(1, switched.TrafficGeneration);
        Assert.Contains(switched.Commands, c => c.RequestId.StartsWith(ApprovalsQueue.RequestIdPrefix, StringComparison.Ordinal) && c.State == "accepted");
    }

    [Fact]
    public async Task Http_and_queue_take_the_same_signed_payload()
    {
        var switchRequest = await CommandAsync("switchtraffic");
        var payload = Signed("SwitchTraffic", 0, "http-1");

        // The shapes HTTP took before are refused, naming the fix, and nothing is raised.
        var (wrapped, wrappedText) = await PostAsync("approve", $$"""{"approval":{{payload}},"requested_by":"alice"}""");
        Assert.Equal(HttpStatusCode.BadRequest, wrapped);
        Assert.Contains("not wrapped in {\"approval\": …}", wrappedText);
        var forged = JsonSerializer.Deserialize<SignedApproval>(payload)! with { Signature = new string('f', 64) };
        var (bad, badText) = await PostAsync("approve", JsonSerializer.Serialize(forged));
        Assert.Equal(HttpStatusCode.Forbidden, bad);
        Assert.Contains("bad signature", badText);
        var (other, otherText) = await PostAsync("approve", Signed("SwitchTraffic", 0, "other", instance: "movetables:customer.elsewhere"));
        Assert.Equal(HttpStatusCode.BadRequest, other);
        Assert.Contains("movetables:customer.elsewhere", otherText);
        Assert.DoesNotContain((await StateAsync()).Audit, a => a.Action == "Approve");

        // HTTP: the payload itself is the body.
        var approve = await CommandAsync("approve", payload);
        var switched = await WaitAsync(s => s.Commands.Any(c => c.RequestId == switchRequest && c.State == "done"), "the switch after the HTTP approval");
        Assert.Equal("accepted", switched.Commands.Single(c => c.RequestId == approve).State);
        Assert.Equal(1, switched.TrafficGeneration);

        // The queue: the same shape, for the next pending command in the new generation.
        var complete = await CommandAsync("complete");
        var waiting = await StateAsync();
        Assert.Equal("Complete", waiting.Pending!.Action);
        Assert.Equal(1, waiting.Pending.Generation);
        await EnqueueAsync(Signed("Complete", 1, "queue-1"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var done = await Client.WaitForInstanceCompletionAsync(Instance, true, cts.Token);
        var final = done.ReadOutputAs<WorkflowState>()!;
        Assert.Equal(Phases.Completed, final.Phase);
        Assert.Contains(final.Commands, c => c.RequestId == complete && c.State == "done");
        Assert.Equal(2, final.Audit.Count(a => a is { Who: "alice", Action: "Approve", Outcome: "accepted" }));
        Assert.Equal(0, await CountAsync(Poison));
    }

    /// <summary>The cluster side of a workflow in memory: one stream copied in one chunk, switches that flip the traffic.</summary>
    private sealed class InMemoryOperations(byte[] aliceKey) : IMoveTablesOperations
    {
        private readonly ApprovalVerifier _verifier = new(new ConfiguredApproverKeys(new Dictionary<string, byte[]> { ["alice"] = aliceKey }), new InMemoryNonceStore());

        public System.Collections.Concurrent.ConcurrentQueue<string> Calls { get; } = new();

        public Task<PreflightResult> PreflightAsync(MoveTablesCreate spec, CancellationToken ct) => Task.FromResult(new PreflightResult([], spec.Tables));

        public Task<CreateResult> CreateAsync(MoveTablesCreate spec, IReadOnlyList<string> tables, CancellationToken ct) =>
            Task.FromResult(new CreateResult([new StreamRef(spec.TargetKeyspace, "0", 1, "0")], [.. tables.Select(t => new TableProgress(t, 0, 1, false))]));

        public Task<CopyChunkResult> CopyChunkAsync(MoveTablesCreate spec, StreamRef stream, CancellationToken ct) => Task.FromResult(new CopyChunkResult(true, spec.Tables[0], 1));

        public Task<ProgressResult> ProgressAsync(WorkflowState state, CancellationToken ct) =>
            Task.FromResult(new ProgressResult([.. state.Tables.Select(t => new TableProgress(t, 1, 1, true))], 0, null));

        public Task SetStreamsAsync(StreamsRequest request, CancellationToken ct) => Task.CompletedTask;

        public Task<SwitchResult> SwitchAsync(SwitchRequest request, CancellationToken ct)
        {
            Calls.Enqueue((request.Reverse ? "Reverse:" : "Switch:") + string.Join(",", request.Options.Types()));
            var traffic = request.Options.Types().Aggregate(request.State.Traffic, (t, type) => t.With(type, !request.Reverse));
            return Task.FromResult(new SwitchResult(true, "ok", traffic, request.State.Streams, [new StreamRef(request.State.Spec.SourceKeyspace, "0", 9, "0")]));
        }

        public Task CompleteAsync(CleanupRequest request, CancellationToken ct)
        {
            Calls.Enqueue("Complete");
            return Task.CompletedTask;
        }

        public Task CancelAsync(CleanupRequest request, CancellationToken ct)
        {
            Calls.Enqueue("Cancel");
            return Task.CompletedTask;
        }

        public Task<ApprovalVerdict> VerifyApprovalAsync(VerifyApprovalRequest request, CancellationToken ct) => _verifier.VerifyAsync(request, ct);
    }
}
