using System.Text.Json.Nodes;
using Durable.Engine.TestHost;
using Durable.Functions.Engine;
using Durable.Functions.Runner;
using Durable.Testing;
using DurableTask.AzureStorage;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Durable.Engine.Tests;

/// <summary>
/// A private task hub on Azurite served by test host processes (<see cref="EngineHost"/>): the test holds only a
/// client (its service never starts a worker, so it owns no partitions), a ledger directory the hosts write, and every
/// host it started, which are killed and the hub deleted when the test ends.
/// </summary>
internal sealed class ChildHub : IAsyncDisposable
{
    private readonly List<EngineHost> _hosts = [];
    private readonly ITestOutputHelper _output;
    private readonly string _settings;
    private readonly int _partitions;

    private ChildHub(string settings, int partitions, ITestOutputHelper output)
    {
        _settings = settings;
        _partitions = partitions;
        _output = output;
        Name = TestTaskHub.NewName();
        Directory = Path.Combine(Path.GetTempPath(), "durable-engine-" + Name);
        System.IO.Directory.CreateDirectory(Directory);
        Ledger = new HostLedger(Directory);
        // The client's partition count must be the hosts' (it decides which control queue an instance's messages go to).
        Settings = TaskHubSettings.ToAzureStorage(new DurableTaskSettings { PartitionCount = partitions }, Name, LocalCluster.Current.AzureStorageConnectionString,
            "test-client", NullLoggerFactory.Instance);
        Service = new AzureStorageOrchestrationService(Settings);
        Client = new DurableHubClient(Service, Name) { MaxPollingInterval = TimeSpan.FromMilliseconds(200) };
    }

    public string Name { get; }

    public string Directory { get; }

    public HostLedger Ledger { get; }

    public AzureStorageOrchestrationServiceSettings Settings { get; }

    public AzureStorageOrchestrationService Service { get; }

    public DurableHubClient Client { get; }

    /// <summary>Creates the hub's storage with <paramref name="settings"/> (the host's short test timings, or the product's defaults).</summary>
    public static async Task<ChildHub> CreateAsync(ITestOutputHelper output, string settings = HostContract.TestSettings, int? partitions = null)
    {
        var hub = new ChildHub(settings, partitions ?? (settings == HostContract.ProductSettings ? new DurableTaskSettings().PartitionCount : 1), output);
        await hub.Service.CreateIfNotExistsAsync();
        return hub;
    }

    /// <summary>Starts a host on this hub with these settings plus <paramref name="environment"/>; it is ready when this returns.</summary>
    public async Task<EngineHost> StartHostAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>())
        {
            [HostContract.Settings] = _settings,
            [HostContract.Partitions] = _partitions.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var host = EngineHost.Start(Name, Directory, env);
        _hosts.Add(host);
        var worker = await host.WaitReadyAsync(TimeSpan.FromSeconds(60));
        _output.WriteLine($"{Now} host {host.Id} ready as worker {worker}");
        return host;
    }

    public async Task<OrchestrationMetadata> WaitForCompletionAsync(string instanceId, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await Client.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, cts.Token);
        }
        catch (OperationCanceledException)
        {
            var m = await Client.GetInstanceAsync(instanceId);
            throw new TimeoutException(
                $"{instanceId} did not finish within {timeout}: {m?.RuntimeStatus.ToString() ?? "missing"}. Runs:\n{string.Join('\n', Ledger.Runs())}\n" +
                string.Join('\n', _hosts.Select(h => $"host {h.Id} ({h.WorkerId}) stderr:\n{h.Stderr}")));
        }
    }

    /// <summary>The activity ids (TaskScheduledId) whose completion the instance's history holds.</summary>
    public async Task<IReadOnlySet<int>> CompletedTasksAsync(string instanceId) =>
        Events(await Client.GetHistoryAsync(instanceId), "TaskCompleted").Select(e => e["TaskScheduledId"]!.GetValue<int>()).ToHashSet();

    public static IEnumerable<JsonObject> Events(JsonArray? history, string eventType) =>
        (history ?? []).OfType<JsonObject>().Where(e => e["EventType"]?.GetValue<string>() == eventType);

    public void Log(string line) => _output.WriteLine($"{Now} {line}");

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            try
            {
                await host.DisposeAsync();
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // The hub is deleted all the same: a host that cannot be killed has already ended.
                _output.WriteLine($"disposing a host of {Name}: {e.Message}");
            }
        }

        try
        {
            await Service.DeleteAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _output.WriteLine($"deleting task hub {Name}: {e.Message}");
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp directory left behind is harmless.
        }
    }

    private static string Now => DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
}
