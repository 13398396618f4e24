using Durable.Functions.Tests.Support;
using Durable.Testing;

namespace Durable.Functions.Tests;

/// <summary>The host as operators run it: a separate process (the built Durable.Functions.dll) stopped with SIGTERM.</summary>
[Trait("Category", "Integration")]
public sealed class HostProcessTests
{
    [Fact]
    public async Task Sigterm_stops_the_host_gracefully_with_exit_code_zero()
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var hub = "Fp" + suffix;
        var root = Path.Combine(Path.GetTempPath(), "durable-host-process-" + suffix);
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "host.json"), $$"""
            { "version": "2.0",
              "logging": { "logLevel": { "default": "Information" } },
              "extensions": { "durableTask": { "hubName": "{{hub}}", "storageProvider": { "partitionCount": 1 } } } }
            """);
        var environment = new Dictionary<string, string>
        {
            ["AzureWebJobsScriptRoot"] = root,
            ["AzureWebJobsStorage"] = LocalCluster.Current.AzureStorageConnectionString,
            ["DURABLE_APPROVALS_QUEUE"] = "fp-approvals-" + suffix,
            ["AzureWebJobs.PurgeHistory.Disabled"] = "true",
            ["DURABLE_FAULT_POINTS"] = "",
            // A known worker id: the host names it when its durable worker stops.
            ["WEBSITE_INSTANCE_ID"] = "fp-" + suffix,
        };
        try
        {
            await using (var host = await HostProcess.StartAsync(Path.Combine(AppContext.BaseDirectory, "Durable.Functions.dll"), root, environment, TimeSpan.FromSeconds(60)))
            {
                using var http = new HttpClient();
                Assert.Contains("ok", await http.GetStringAsync(host.Url + "/api/health"));
                Assert.Contains("ok", await http.GetStringAsync(host.Url + "/healthz"));
                // Ready once the durable worker runs on the task hub (it may still be starting when Kestrel answers).
                var ready = "";
                await TestHost.WaitUntilAsync(async () =>
                {
                    using var answer = await http.GetAsync(host.Url + "/readyz");
                    ready = await answer.Content.ReadAsStringAsync();
                    return answer.IsSuccessStatusCode;
                }, TimeSpan.FromSeconds(30), "/readyz to answer 200");
                Assert.Contains($"task hub {hub}", ready);

                await host.SignalAsync("TERM");
                var code = await host.WaitForExitAsync(TimeSpan.FromSeconds(30));
                var log = host.Output;
                Assert.True(code == 0, log);
                Assert.Contains("Application is shutting down", log);
                Assert.Contains($"Durable worker fp-{suffix} stopped.", log);
                Assert.Contains("Triggers stopped.", log);
                // The worker gives its partition back on the way out (the framework's log), so another host takes it at once.
                Assert.Matches($@"{hub.ToLowerInvariant()}-control-00: fp-{suffix} has released its\s+lease", log);
                Assert.Contains("Successfully released all ownership leases for shutdown.", log);
            }
        }
        finally
        {
            await TestHost.DeleteHubAsync(hub);
            var queues = Durable.Functions.Storage.AzureTriggerStorage.FromConnectionString(LocalCluster.Current.AzureStorageConnectionString, "AzureWebJobsStorage", hub.ToLowerInvariant() + "-timers");
            await queues.DeleteQueueAsync("fp-approvals-" + suffix, CancellationToken.None);
            await queues.DeleteQueueAsync("fp-approvals-" + suffix + "-poison", CancellationToken.None);
            Directory.Delete(root, true);
        }
    }
}
