using Durable.Functions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests.Support;

/// <summary>
/// A real Functions host built exactly as Program.cs builds it (FunctionsHost.CreateBuilder/Build), with its own
/// script root (host.json) and settings passed as command-line arguments. In-process on a TestServer for HTTP tests,
/// or on Kestrel at a free loopback port when several hosts must run side by side.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly string _root;

    private TestHost(WebApplication app, string root, HttpClient client)
    {
        App = app;
        _root = root;
        Client = client;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    public const string InMemoryHostJson = """
        {
          "version": "2.0",
          "functionTimeout": "00:01:00",
          "extensions": {
            "durableTask": { "hubName": "HUB", "storageProvider": { "type": "InMemory" } },
            "queues": { "maxPollingInterval": "00:00:00.200", "visibilityTimeout": "00:00:00", "maxDequeueCount": 3, "batchSize": 4, "newBatchThreshold": 2 }
          }
        }
        """;

    public static async Task<TestHost> StartAsync(
        Action<IServiceCollection> functions,
        IDictionary<string, string>? settings = null,
        string? hostJson = null,
        bool kestrel = false)
    {
        var root = Path.Combine(Path.GetTempPath(), "durable-functions-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "host.json"), hostJson ?? InMemoryHostJson.Replace("HUB", "TestHub"));
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            [FunctionsHostSettings.ScriptRootSetting] = root,
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            [FunctionsHostSettings.ShutdownTimeoutSetting] = "10",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            all[k] = v;
        }

        var builder = FunctionsHost.CreateBuilder(all.Select(p => $"--{p.Key}={p.Value}").ToArray());
        if (!kestrel)
        {
            builder.WebHost.UseTestServer();
        }

        functions(builder.Services);
        var app = FunctionsHost.Build(builder);
        await app.StartAsync();
        HttpClient client;
        if (kestrel)
        {
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
            client = new HttpClient { BaseAddress = new Uri(address) };
        }
        else
        {
            client = app.GetTestClient();
        }

        return new TestHost(app, root, client);
    }

    /// <summary>Graceful stop, as on SIGTERM.</summary>
    public Task StopAsync() => App.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
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
}
