using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Durable.DurableTask.AzureStorage;
using Durable.Functions.Hosting;
using Durable.Functions.Tests.Support;
using Durable.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>The host with its default provider, the Azure Storage task hub on the cluster's Azurite, driven over HTTP.</summary>
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
        var host = await TestHost.StartAsync(s => s.AddOrchestrations(r => r
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
        try
        {
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

            var metrics = await host.Client.GetStringAsync("/metrics");
            Assert.Contains("durable_activity_executions_total", metrics);
        }
        finally
        {
            // Delete the hub's queues and containers while the service (disposed with the host) is still usable.
            var service = host.Services.GetRequiredService<AzureStorageOrchestrationService>();
            await host.StopAsync();
            await service.DeleteAsync();
            await host.DisposeAsync();
        }
    }
}
