using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Durable.Bench.DurableTask;

/// <summary>
/// A private task hub served by probe host processes (<see cref="ProbeHost"/>) for one benchmark run: its own hub name,
/// script root (host.json naming only the hub, so every durable setting is the product default), host key and probe
/// log. Hosts are started and SIGKILLed here; the management API is called over HTTP. Disposing kills the hosts that
/// still run and deletes the hub and the folder.
/// </summary>
internal sealed class ProbeBed : IAsyncDisposable
{
    private const string Api = "/runtime/webhooks/durabletask";

    private readonly string _root;
    private readonly string _key = Convert.ToHexString(Guid.NewGuid().ToByteArray());
    private readonly List<ProbeHostProcess> _hosts = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    private ProbeBed(string hub, string root)
    {
        Hub = hub;
        _root = root;
        Log = new ProbeLog(Path.Combine(root, "probe.log"));
        _http.DefaultRequestHeaders.Add("x-functions-key", _key);
    }

    public string Hub { get; }

    public ProbeLog Log { get; }

    public static async Task<ProbeBed> CreateAsync(string hubPrefix)
    {
        var hub = BenchHub.NewHubName(hubPrefix);
        var root = Directory.CreateTempSubdirectory("durable-probe-").FullName;
        // Information for the lifetime ("Now listening on") and the engine's lease and dispatch messages, which the
        // host logs show when a run fails; the rest stays quiet.
        await File.WriteAllTextAsync(Path.Combine(root, "host.json"), $$"""
            { "version": "2.0",
              "logging": { "logLevel": { "default": "Warning", "Microsoft.Hosting.Lifetime": "Information", "DurableTask.AzureStorage": "Information", "Durable": "Information" } },
              "extensions": { "durableTask": { "hubName": "{{hub}}" } } }
            """);
        return new ProbeBed(hub, root);
    }

    /// <summary>
    /// Starts one more host process on the hub and waits until it listens (its durable worker has started by then).
    /// <paramref name="replicaId"/> sets WEBSITE_INSTANCE_ID, the host's worker id; without it the host takes its
    /// default, machine name and process id, so a restarted host is a new worker to the partition leases.
    /// </summary>
    public async Task<ProbeHostProcess> StartHostAsync(string name, string? replicaId = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["AzureWebJobsScriptRoot"] = _root,
            ["AzureWebJobsStorage"] = BenchHub.ConnectionString(),
            ["DURABLE_HOST_KEY"] = _key,
            [ProbeLog.Setting] = Log.Path,
        };
        if (replicaId is not null)
        {
            environment["WEBSITE_INSTANCE_ID"] = replicaId;
        }

        var host = await ProbeHostProcess.StartAsync(name, Path.Combine(_root, name + ".log"), environment, TimeSpan.FromSeconds(120));
        _hosts.Add(host);
        return host;
    }

    /// <summary>The worker id of a host started without a replica id, as it appears in the partition table (machine name and process id).</summary>
    public static string WorkerId(ProbeHostProcess host) => $"{Environment.MachineName}-{host.ProcessId}";

    public async Task StartOrchestrationAsync(ProbeHostProcess host, string orchestrator, string instanceId, int input)
    {
        using var response = await _http.PostAsJsonAsync($"{host.Url}{Api}/orchestrators/{orchestrator}/{instanceId}", input);
        await EnsureAsync(response, $"starting {orchestrator} {instanceId}");
    }

    /// <summary>The instance's runtime status and custom status (null while it has none).</summary>
    public async Task<(string Status, string? Custom)> StatusAsync(ProbeHostProcess host, string instanceId)
    {
        using var response = await _http.GetAsync($"{host.Url}{Api}/instances/{instanceId}");
        await EnsureAsync(response, $"status of {instanceId}");
        var body = await response.Content.ReadFromJsonAsync<JsonObject>() ?? throw new InvalidDataException($"Empty status of {instanceId}.");
        return (body["runtimeStatus"]!.GetValue<string>(), body["customStatus"]?.GetValue<string>());
    }

    /// <summary>Polls the status until the custom status starts with <paramref name="prefix"/>; returns it.</summary>
    public async Task<string> WaitForCustomStatusAsync(ProbeHostProcess host, string instanceId, string prefix, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var (status, custom) = await StatusAsync(host, instanceId);
            if (custom?.StartsWith(prefix, StringComparison.Ordinal) == true)
            {
                return custom;
            }

            if (status is "Failed" or "Terminated" || Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{instanceId} did not reach '{prefix}' within {timeout.TotalSeconds:0} s (status {status}, custom status '{custom}').");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>POSTs the probe event; returns how long the host took to answer (202).</summary>
    public async Task<double> RaiseAsync(ProbeHostProcess host, string instanceId, int payload)
    {
        var start = Stopwatch.GetTimestamp();
        using var response = await _http.PostAsJsonAsync($"{host.Url}{Api}/instances/{instanceId}/raiseEvent/{ProbeHost.EventName}", payload);
        var took = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        await EnsureAsync(response, $"raising {ProbeHost.EventName} on {instanceId}");
        return took;
    }

    /// <summary>The last lines of every host's output, for a failed run.</summary>
    public string Tails() => string.Join("\n", _hosts.Select(h => $"--- {h.Name} (pid {h.ProcessId}) ---\n{h.Tail(15)}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.KillAsync();
        }

        _http.Dispose();
        try
        {
            using var logging = BenchHub.CreateLogging();
            await BenchHub.DeleteAsync(Hub, logging);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"deleting task hub {Hub}: {e.Message}");
        }

        Directory.Delete(_root, recursive: true);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{what}: HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}

/// <summary>A probe host process (<c>dotnet Durable.Bench.dll durable-probe-host</c>), its output going to a file.</summary>
internal sealed partial class ProbeHostProcess
{
    private readonly Process _process;
    private readonly StreamWriter _output;
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ProbeHostProcess(string name, Process process, StreamWriter output)
    {
        Name = name;
        _process = process;
        _output = output;
    }

    public string Name { get; }

    public string Url { get; private set; } = "";

    public int ProcessId => _process.Id;

    public static async Task<ProbeHostProcess> StartAsync(string name, string logFile, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The same program in its host mode; a free loopback port, read back from Kestrel's "Now listening on" line.
        psi.ArgumentList.Add(typeof(ProbeHost).Assembly.Location);
        psi.ArgumentList.Add("durable-probe-host");
        psi.ArgumentList.Add("--urls=http://127.0.0.1:0");
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        var host = new ProbeHostProcess(name, new Process { StartInfo = psi, EnableRaisingEvents = true }, new StreamWriter(logFile) { AutoFlush = true });
        host._process.OutputDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.ErrorDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.Exited += (_, _) => host._listening.TrySetException(new InvalidOperationException($"host {name} exited before it listened"));
        host._process.Start();
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();
        try
        {
            host.Url = await host._listening.Task.WaitAsync(timeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await host.KillAsync();
            throw new InvalidOperationException($"{e.Message}; its last output:\n{host.Tail(20)}", e);
        }

        return host;
    }

    /// <summary>kill -9: the process ends at once, nothing is released or flushed.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public string Tail(int lines)
    {
        lock (_tail)
        {
            return string.Join("\n", _tail.TakeLast(lines));
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_tail)
        {
            _output.WriteLine(line);
            _tail.Enqueue(line);
            if (_tail.Count > 50)
            {
                _tail.Dequeue();
            }
        }

        if (ListeningOn().Match(line) is { Success: true } m)
        {
            _listening.TrySetResult(m.Groups[1].Value);
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();
}
