using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Durable.Functions.Runner;
using Durable.Functions.Tests.Support;
using Durable.Testing;

namespace Durable.Functions.Tests;

/// <summary>
/// The host with its task hub on the cluster's Azurite configured as operators configure it (several partitions, the
/// production poll), driven over HTTP. The test host deletes the hub when it is disposed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AzureHubHostTests
{
    [Fact]
    public async Task Orchestration_started_over_http_runs_on_the_azure_storage_hub_and_completes_after_an_event()
    {
        var hub = "Fh" + Guid.NewGuid().ToString("N")[..12];
        var hostJson = $$"""
            {
              "version": "2.0",
              "extensions": {
                "durableTask": {
                  "hubName": "{{hub}}",
                  "storageProvider": { "type": "AzureStorage", "partitionCount": 2, "maxQueuePollingInterval": "00:00:01" },
                  "maxConcurrentActivityFunctions": 4,
                  "maxConcurrentOrchestratorFunctions": 4
                }
              }
            }
            """;
        await using var host = await TestHost.StartAsync(s => s.AddOrchestrations(r => r
                .AddOrchestratorFunc<int, int>("SumSquares", async (ctx, n) =>
                {
                    var squares = await Task.WhenAll(Enumerable.Range(1, n).Select(i => ctx.CallActivityAsync<int>("Square", i)));
                    var bonus = await ctx.WaitForExternalEvent<int>("Bonus");
                    return squares.Sum() + bonus;
                })
                .AddActivityFunc<int, int>("Square", (_, i) => i * i)),
            new Dictionary<string, string>
            {
                ["AzureWebJobsStorage"] = LocalCluster.Current.AzureStorageConnectionString,
                ["DURABLE_HOST_KEY"] = "k",
            }, hostJson, kestrel: true);
        host.Client.DefaultRequestHeaders.Add("x-functions-key", "k");
        var start = await host.Client.PostAsync("/runtime/webhooks/durabletask/orchestrators/SumSquares", new StringContent("10", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var links = await start.Content.ReadFromJsonAsync<JsonElement>();
        var id = links.GetProperty("id").GetString()!;
        Assert.Contains($"taskHub={hub}", links.GetProperty("statusQueryGetUri").GetString());

        var deadline = DateTime.UtcNow.AddSeconds(60);
        var raised = false;
        while (true)
        {
            var status = await host.Client.GetAsync(start.Headers.Location);
            var body = await status.Content.ReadFromJsonAsync<JsonElement>();
            var runtime = body.GetProperty("runtimeStatus").GetString();
            if (runtime == "Completed")
            {
                Assert.Equal(HttpStatusCode.OK, status.StatusCode);
                Assert.Equal(385 + 7, body.GetProperty("output").GetInt32());
                break;
            }

            Assert.Equal(HttpStatusCode.Accepted, status.StatusCode);
            if (!raised && runtime == "Running")
            {
                var raise = await host.Client.PostAsync(links.GetProperty("sendEventPostUri").GetString()!.Replace("{eventName}", "Bonus", StringComparison.Ordinal),
                    new StringContent("7", Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.Accepted, raise.StatusCode);
                raised = true;
            }

            Assert.True(DateTime.UtcNow < deadline, $"instance {id} did not complete; last status {body}");
            await Task.Delay(200);
        }
    }

    private static int _slowActivityRuns;

    [Fact]
    public async Task An_activity_running_longer_than_the_work_item_visibility_runs_once()
    {
        // Visibility 10 s (the least host.json takes), an activity of 22 s: unless the worker keeps renewing the running
        // activity's message (the framework renews every 5 s once it is within 30 s of expiry, so always at 10 s), the
        // message reappears while the activity runs and the host runs it a second time.
        var hub = "Fv" + Guid.NewGuid().ToString("N")[..12];
        var hostJson = $$"""
            {
              "version": "2.0",
              "extensions": {
                "durableTask": {
                  "hubName": "{{hub}}",
                  "storageProvider": { "type": "AzureStorage", "partitionCount": 1, "maxQueuePollingInterval": "00:00:01", "workItemQueueVisibilityTimeout": "00:00:10" }
                }
              }
            }
            """;
        Interlocked.Exchange(ref _slowActivityRuns, 0);
        await using var host = await TestHost.StartAsync(s => s.AddOrchestrations(r => r
                .AddOrchestratorFunc<int, int>("Slow", (ctx, n) => ctx.CallActivityAsync<int>("SlowStep", n))
                .AddActivityFunc<int, int>("SlowStep", async (_, n) =>
                {
                    Interlocked.Increment(ref _slowActivityRuns);
                    await Task.Delay(TimeSpan.FromSeconds(22));
                    return n + 1;
                })),
            new Dictionary<string, string>
            {
                ["AzureWebJobsStorage"] = LocalCluster.Current.AzureStorageConnectionString,
                ["DURABLE_HOST_KEY"] = "k",
            }, hostJson, kestrel: true);
        host.Client.DefaultRequestHeaders.Add("x-functions-key", "k");
        var start = await host.Client.PostAsync("/runtime/webhooks/durabletask/orchestrators/Slow", new StringContent("41", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        JsonElement body;
        while (true)
        {
            body = await (await host.Client.GetAsync(start.Headers.Location)).Content.ReadFromJsonAsync<JsonElement>();
            if (body.GetProperty("runtimeStatus").GetString() is "Completed" or "Failed")
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the instance did not complete; last status {body}");
            await Task.Delay(500);
        }

        Assert.Equal(42, body.GetProperty("output").GetInt32());
        Assert.Equal(1, Volatile.Read(ref _slowActivityRuns));
    }
}
