using Durable.Functions.Runner;
using Durable.Functions.Storage;
using Durable.Testing;
using DurableTask.AzureStorage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests.Support;

/// <summary>
/// A real Functions host built exactly as Program.cs builds it (LocalRunner.CreateBuilder/Build), with its own
/// script root (host.json) and settings passed as command-line arguments. In-process on a TestServer for HTTP tests,
/// or on Kestrel at a free loopback port when several hosts must run side by side. Its task hub lives on the local
/// cluster's Azurite: without a host.json of the test's own it gets a private hub (one partition, fast polling). The
/// hub is deleted when the host is disposed, unless the test shares it between hosts and deletes it itself.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly string _root;
    private readonly bool _ownsHub;

    private TestHost(WebApplication app, string root, HttpClient client, bool ownsHub)
    {
        App = app;
        _root = root;
        Client = client;
        _ownsHub = ownsHub;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>The task hub the host runs (host.json's hubName with any %Setting% resolved).</summary>
    public string HubName => Services.GetRequiredService<FunctionsHostSettings>().HubName;

    /// <summary>
    /// A host.json for tests: an Azure Storage task hub named <paramref name="hub"/> with one partition (one control
    /// queue to create, lease and poll) and the shortest poll host.json takes, so an in-process test waits milliseconds
    /// for its orchestrations, not the production second.
    /// </summary>
    public static string HostJson(string hub, string functionTimeout = "00:01:00") => $$"""
        {
          "version": "2.0",
          "functionTimeout": "{{functionTimeout}}",
          "extensions": {
            "durableTask": {
              "hubName": "{{hub}}",
              "storageProvider": { "type": "AzureStorage", "partitionCount": 1, "maxQueuePollingInterval": "00:00:00.100" },
              "maxConcurrentActivityFunctions": 8,
              "maxConcurrentOrchestratorFunctions": 8
            },
            "queues": { "maxPollingInterval": "00:00:00.200", "visibilityTimeout": "00:00:00", "maxDequeueCount": 3, "batchSize": 4, "newBatchThreshold": 2 }
          }
        }
        """;

    public static async Task<TestHost> StartAsync(
        Action<IServiceCollection> functions,
        IDictionary<string, string>? settings = null,
        string? hostJson = null,
        bool kestrel = false,
        bool deleteHub = true)
    {
        var root = Path.Combine(Path.GetTempPath(), "durable-functions-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var ownsHub = deleteHub;
        await File.WriteAllTextAsync(Path.Combine(root, "host.json"), hostJson ?? HostJson(TestTaskHub.NewName()));
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            [FunctionsHostSettings.ScriptRootSetting] = root,
            ["AzureWebJobsStorage"] = LocalCluster.Current.AzureStorageConnectionString,
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            [FunctionsHostSettings.ShutdownTimeoutSetting] = "10",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            all[k] = v;
        }

        WebApplication? app = null;
        try
        {
            var builder = LocalRunner.CreateBuilder(all.Select(p => $"--{p.Key}={p.Value}").ToArray());
            if (!kestrel)
            {
                builder.WebHost.UseTestServer();
            }

            functions(builder.Services);
            app = LocalRunner.Build(builder);
            await app.StartAsync();
            var client = kestrel
                ? new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First()) }
                : app.GetTestClient();
            return new TestHost(app, root, client, ownsHub);
        }
        catch
        {
            // A host that failed to start may already have created its hub (the worker starts before later services).
            if (app is not null)
            {
                try
                {
                    await EndAsync(app, ownsHub);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // The start-up failure is what the test sees; this one would only hide it.
                    Console.Error.WriteLine($"stopping a host that failed to start: {e.Message}");
                }
            }

            DeleteDirectory(root);
            throw;
        }
    }

    /// <summary>Graceful stop, as on SIGTERM.</summary>
    public Task StopAsync() => App.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await EndAsync(App, _ownsHub);
        DeleteDirectory(_root);
    }

    /// <summary>Deletes a task hub's tables, queues and containers (for tests whose hosts share a hub of the test's naming).</summary>
    public static Task DeleteHubAsync(string hub) => TestTaskHub.DeleteAsync(hub);

    private static async Task EndAsync(WebApplication app, bool ownsHub)
    {
        try
        {
            await app.StopAsync();
        }
        finally
        {
            if (ownsHub)
            {
                // While the host's storage clients are still usable (they are disposed with the app).
                await DeleteOwnHubAsync(app.Services);
            }

            await app.DisposeAsync();
        }
    }

    private static async Task DeleteOwnHubAsync(IServiceProvider services)
    {
        try
        {
            var hub = services.GetRequiredService<FunctionsHostSettings>().HubName;
            await TestTaskHub.BreakAppLeaseAsync(hub);
            await services.GetRequiredService<AzureStorageOrchestrationService>().DeleteAsync();
            await TestTaskHub.DeleteAppLeaseContainerAsync(hub);
            // Timer triggers keep their schedule records next to the hub; nothing else of a test host outlives it.
            await services.GetRequiredService<AzureTriggerStorage>().DeleteScheduleContainerAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The test already has its verdict; a leftover hub is noise, not a failure.
            Console.Error.WriteLine($"deleting a test host's task hub: {e.Message}");
        }
    }

    private static void DeleteDirectory(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds or the timeout passes (then fails with <paramref name="what"/>).</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Polls an asynchronous <paramref name="condition"/> (e.g. an HTTP probe) every 200 ms until it holds or the timeout passes.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }

            await Task.Delay(200);
        }
    }
}
