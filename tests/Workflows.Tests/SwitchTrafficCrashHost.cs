using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Durable.Testing;

namespace Durable.Workflows.Tests;

/// <summary>
/// A private Functions host process for crash tests: the built src/Functions (copied to a temp folder so a concurrent
/// rebuild cannot change it under the test), its own task hub on Azurite, its own port, the topology root and sidecar
/// of a <see cref="ClusterBed"/>, and optionally DURABLE_FAULT_POINTS so it SIGKILLs itself at a named step.
/// </summary>
public sealed partial class SwitchTrafficCrashHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SwitchTrafficCrashHost(Process process, string key)
    {
        _process = process;
        Key = key;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Add("x-functions-key", key);
    }

    public string Key { get; }

    public HttpClient Http { get; }

    public string BaseUrl { get; private set; } = "";

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Log
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

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

    /// <summary>Starts the host and waits until it listens.</summary>
    public static async Task<SwitchTrafficCrashHost> StartAsync(string dll, string scriptRoot, string hub, ClusterBed bed, string key, string? faultPoints)
    {
        Directory.CreateDirectory(scriptRoot);
        // One partition (one control queue) and a 30 s work-item visibility: a killed host's in-flight activity is
        // delivered again after 30 s (as long as the partition lease a restart waits for anyway) instead of 5 minutes.
        // Not shorter: the worker renews a running activity's message only every 60 s, so an activity running longer
        // than the visibility is delivered a second time beside the first. The control queue's visibility is 30 s too:
        // a command event this host puts for its own partition is put invisible and handed over in memory, and a
        // handover that does not reach the orchestration (seen right after a restart) is then retried after 30 s, not 5 min.
        await File.WriteAllTextAsync(Path.Combine(scriptRoot, "host.json"), $$"""
            { "version": "2.0",
              "logging": { "logLevel": { "default": "Information" } },
              "extensions": { "durableTask": { "hubName": "{{hub}}",
                "storageProvider": { "partitionCount": 1, "maxQueuePollingInterval": "00:00:01", "workItemQueueVisibilityTimeout": "00:00:30", "controlQueueVisibilityTimeout": "00:00:30" } } } }
            """);
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("filtered");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = scriptRoot,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls=http://127.0.0.1:0");
        psi.Environment["AzureWebJobsScriptRoot"] = scriptRoot;
        psi.Environment["AzureWebJobsStorage"] = cluster.AzureStorageConnectionString;
        psi.Environment["DURABLE_APPROVALS_QUEUE"] = (hub + "-approvals").ToLowerInvariant();
        psi.Environment["AzureWebJobs.PurgeHistory.Disabled"] = "true";
        psi.Environment["DURABLE_HOST_KEY"] = key;
        psi.Environment["DURABLE_ETCD_ENDPOINTS"] = cluster.EtcdEndpoints;
        psi.Environment["DURABLE_TOPO_ROOT"] = bed.Root;
        psi.Environment["DURABLE_SIDECAR_DB"] = bed.Env.Options.SidecarName;
        psi.Environment["DURABLE_ENGINE_USER"] = user;
        psi.Environment["DURABLE_ENGINE_PASSWORD"] = password;
        psi.Environment["DURABLE_FAULT_POINTS"] = faultPoints ?? "";
        psi.Environment["DOTNET_gcServer"] = "0";

        var host = new SwitchTrafficCrashHost(new Process { StartInfo = psi }, key);
        host._process.OutputDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.ErrorDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.Start();
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();
        try
        {
            host.BaseUrl = await host._listening.Task.WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            await host.DisposeAsync();
            throw new TimeoutException("The host did not start listening within 90 s:\n" + host.Log);
        }

        return host;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (ListeningOn().Match(line) is { Success: true } m)
        {
            _listening.TrySetResult(m.Groups[1].Value);
        }
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
    public async Task<bool> TryWaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        // WaitForExitAsync returns when the process ends; the redirected output may still be draining.
        _process.WaitForExit();
        return true;
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        if (!await TryWaitForExitAsync(timeout))
        {
            throw new TimeoutException($"The host did not exit within {timeout.TotalSeconds:0} s:\n" + Tail(Log));
        }
    }

    /// <summary>A graceful stop (SIGTERM, as operators stop it): the partition lease is released for the next host.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public static string Tail(string log, int lines = 60) => string.Join("\n", log.Split('\n').TakeLast(lines));

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        Http.Dispose();
        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();
}
