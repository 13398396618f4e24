using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Queues;
using Durable.Testing;

namespace Durable.Workflows.Tests;

/// <summary>
/// A private Functions host process for crash tests: the built src/Functions (copied to a temp folder so a concurrent
/// rebuild cannot change it under the test), its own task hub on Azurite, its own port, the topology root and sidecar
/// of a <see cref="ClusterBed"/>, and optionally DURABLE_FAULT_POINTS so it SIGKILLs itself at a named step.
/// </summary>
public sealed class SwitchTrafficCrashHost : IAsyncDisposable
{
    private readonly HostProcess _process;

    private SwitchTrafficCrashHost(HostProcess process, string key)
    {
        _process = process;
        Key = key;
        BaseUrl = process.Url;
        // Relative paths work too (BaseAddress); 120 s covers a create that waits for the host's first episode.
        Http = new HttpClient { BaseAddress = new Uri(process.Url), Timeout = TimeSpan.FromSeconds(120) };
        Http.DefaultRequestHeaders.Add("x-functions-key", key);
    }

    public string Key { get; }

    public HttpClient Http { get; }

    public string BaseUrl { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Log => _process.Output;

    /// <summary>
    /// The host binaries: src/Functions/bin/{configuration}/net10.0 copied to <paramref name="into"/>. The Durable.*
    /// libraries this test project was built with replace older copies there, so the host runs the code under test
    /// even when src/Functions itself was built earlier.
    /// </summary>
    public static string PrepareBinaries(string into)
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var source = Path.Combine(LocalCluster.RepositoryRoot(), "src", "Functions", "bin", configuration, "net10.0");
        if (!File.Exists(Path.Combine(source, "Durable.Functions.dll")))
        {
            throw new InvalidOperationException($"{source}/Durable.Functions.dll is missing: build src/Functions ({configuration}) before the crash tests.");
        }

        Directory.CreateDirectory(into);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(into, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }

        foreach (var own in Directory.EnumerateFiles(AppContext.BaseDirectory, "Durable.*.dll"))
        {
            var target = Path.Combine(into, Path.GetFileName(own));
            if (File.Exists(target) && !Path.GetFileName(own).StartsWith("Durable.Workflows.Tests", StringComparison.Ordinal)
                                    && File.GetLastWriteTimeUtc(own) > File.GetLastWriteTimeUtc(target))
            {
                File.Copy(own, target, overwrite: true);
            }
        }

        return Path.Combine(into, "Durable.Functions.dll");
    }

    /// <summary>
    /// Starts the host and waits until it listens. <paramref name="environment"/> adds to or overrides the settings
    /// below (e.g. DURABLE_SECRETS_FILE for a host that must resolve a password only it is given).
    /// </summary>
    public static async Task<SwitchTrafficCrashHost> StartAsync(
        string dll, string scriptRoot, string hub, ClusterBed bed, string key, string? faultPoints, IReadOnlyDictionary<string, string>? environment = null)
    {
        Directory.CreateDirectory(scriptRoot);
        // One partition (one control queue); otherwise the settings the product ships (host.json's durableTask
        // defaults): a killed host's in-flight activity is delivered again after the work-item visibility (20 s) and
        // the restarted host (a new worker) takes the partition once the dead host's lease lapses (30 s).
        await File.WriteAllTextAsync(Path.Combine(scriptRoot, "host.json"), $$"""
            { "version": "2.0",
              "logging": { "logLevel": { "default": "Information" } },
              "extensions": { "durableTask": { "hubName": "{{hub}}",
                "storageProvider": { "partitionCount": 1 } } } }
            """);
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("filtered");
        var settings = new Dictionary<string, string>
        {
            ["AzureWebJobsScriptRoot"] = scriptRoot,
            ["AzureWebJobsStorage"] = cluster.AzureStorageConnectionString,
            ["DURABLE_APPROVALS_QUEUE"] = (hub + "-approvals").ToLowerInvariant(),
            ["AzureWebJobs.PurgeHistory.Disabled"] = "true",
            ["DURABLE_HOST_KEY"] = key,
            ["DURABLE_ETCD_ENDPOINTS"] = cluster.EtcdEndpoints,
            ["DURABLE_TOPO_ROOT"] = bed.Root,
            ["DURABLE_SIDECAR_DB"] = bed.Env.Options.SidecarName,
            ["DURABLE_ENGINE_USER"] = user,
            ["DURABLE_ENGINE_PASSWORD"] = password,
            ["DURABLE_FAULT_POINTS"] = faultPoints ?? "",
            ["DOTNET_gcServer"] = "0",
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            settings[name] = value;
        }

        var process = await HostProcess.StartAsync(dll, scriptRoot, settings, TimeSpan.FromSeconds(90));
        return new SwitchTrafficCrashHost(process, key);
    }

    /// <summary>
    /// Deletes a test's task hub (its queues, tables and blobs on Azurite) and the host's approval and timer queues
    /// once its hosts are gone.
    /// </summary>
    public static async Task DeleteHubAsync(string hub)
    {
        await TestTaskHub.DeleteAsync(hub);

        var storage = new QueueServiceClient(LocalCluster.Current.AzureStorageConnectionString);
        foreach (var queue in new[] { (hub + "-approvals").ToLowerInvariant(), (hub + "-approvals-poison").ToLowerInvariant(), hub.ToLowerInvariant() + "-timers" })
        {
            await storage.GetQueueClient(queue).DeleteIfExistsAsync();
        }
    }

    /// <summary>
    /// Polls a workflow's <c>.../state</c> until its phase is one of <paramref name="phases"/> (or the timeout); returns
    /// the last state read, so the caller's assertion shows it.
    /// </summary>
    public async Task<JsonNode?> WaitForPhaseAsync(string statePath, TimeSpan timeout, params string[] phases)
    {
        JsonNode? state = null;
        var deadline = DateTime.UtcNow + timeout;
        do
        {
            state = JsonNode.Parse(await Http.GetStringAsync(statePath));
            if (phases.Contains(state?["phase"]?.GetValue<string>()))
            {
                break;
            }

            await Task.Delay(300);
        }
        while (DateTime.UtcNow < deadline);
        return state;
    }

    public async Task<(int Status, JsonElement Body)> PostAsync(string path, object? body = null)
    {
        using var response = await Http.PostAsJsonAsync(BaseUrl + path, body ?? new { });
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async Task<WorkflowState?> StateAsync(string keyspace, string workflow)
    {
        using var response = await Http.GetAsync($"{BaseUrl}/api/movetables/{keyspace}/{workflow}/state");
        return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<WorkflowState>() : null;
    }

    /// <summary>Waits for the process to end by itself (a fault point's SIGKILL); false when it is still running at the timeout.</summary>
    public Task<bool> TryWaitForExitAsync(TimeSpan timeout) => _process.TryWaitForExitAsync(timeout);

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        if (!await TryWaitForExitAsync(timeout))
        {
            throw new TimeoutException($"The host did not exit within {timeout.TotalSeconds:0} s:\n" + Tail(Log));
        }
    }

    /// <summary>Sends a signal to the host (CONT resumes one a <c>:stop</c> fault point paused).</summary>
    public Task SignalAsync(string signal) => _process.SignalAsync(signal);

    /// <summary>kill -9, as an operator or the OOM killer would: no graceful shutdown, leases left to expire.</summary>
    public Task KillAsync() => _process.SignalAsync("KILL");

    /// <summary>A graceful stop (SIGTERM, as operators stop it): the partition lease is released for the next host.</summary>
    public Task StopAsync() => _process.StopAsync(TimeSpan.FromSeconds(30));

    public static string Tail(string log, int lines = 60) => string.Join("\n", log.Split('\n').TakeLast(lines));

    /// <summary>
    /// The last log entries that say something about the workflow (warnings and errors, the product's own categories,
    /// the fault points), without the HTTP and status-polling noise a waiting test makes.
    /// </summary>
    public static string SignificantTail(string log, int entries = 40)
    {
        var kept = new List<string>();
        var entry = new List<string>();
        void Close()
        {
            var header = entry.Count > 0 ? entry[0] : "";
            if (header.StartsWith("warn:", StringComparison.Ordinal) || header.StartsWith("fail:", StringComparison.Ordinal) || header.StartsWith("crit:", StringComparison.Ordinal)
                || header.Contains("Durable.", StringComparison.Ordinal) || header.Contains("fault point", StringComparison.Ordinal))
            {
                kept.Add(string.Join("\n", entry));
            }

            entry.Clear();
        }

        foreach (var line in log.Split('\n'))
        {
            if (!line.StartsWith(' ') && entry.Count > 0)
            {
                Close();
            }

            entry.Add(line);
        }

        Close();
        return string.Join("\n", kept.TakeLast(entries));
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Http.Dispose();
        await _process.DisposeAsync();
    }
}
