using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Durable.Testing;

/// <summary>
/// A gateway (src/Gateway, vtgate's role) run as a separate process, as operators run it, so a test can kill it with
/// SIGKILL: the built binaries copied to a folder of the test's own (a concurrent rebuild cannot change them under it),
/// its own MySQL and HTTP ports, a topology root, the local cluster's `app` account as its backend account and one
/// client account. Started means ready: /readyz answered 200 (the topology is loaded).
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayProcess(Process process, string name, int mySqlPort, int httpPort)
    {
        _process = process;
        Name = name;
        MySqlPort = mySqlPort;
        HttpPort = httpPort;
    }

    public string Name { get; }

    public int MySqlPort { get; }

    public int HttpPort { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The account clients log in with.</summary>
    public const string ClientUser = "gwclient";

    public string Output
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
    /// The gateway binaries: src/Gateway/bin/{configuration}/net10.0 copied to <paramref name="into"/> (once per folder),
    /// with the Durable.* libraries this test project was built with where they are newer.
    /// </summary>
    public static string PrepareBinaries(string into)
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var source = Path.Combine(LocalCluster.RepositoryRoot(), "src", "Gateway", "bin", configuration, "net10.0");
        if (!File.Exists(Path.Combine(source, "Durable.Gateway.dll")))
        {
            throw new InvalidOperationException($"{source}/Durable.Gateway.dll is missing: build src/Gateway ({configuration}) before the gateway tests.");
        }

        Directory.CreateDirectory(into);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(into, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }

        return Path.Combine(into, "Durable.Gateway.dll");
    }

    /// <summary>A TCP port free at the moment of asking (the gateway binds it a moment later).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts a gateway on <paramref name="topologyRoot"/> and waits until it is ready.</summary>
    public static async Task<GatewayProcess> StartAsync(string dll, string name, string topologyRoot, string clientPassword,
        IReadOnlyDictionary<string, string>? settings = null, TimeSpan? startTimeout = null)
    {
        var cluster = LocalCluster.Current;
        var (backendUser, backendPassword) = cluster.Account("app");
        var mySqlPort = FreePort();
        var httpPort = FreePort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        var environment = new Dictionary<string, string>
        {
            ["Gateway__EtcdEndpoints"] = cluster.EtcdEndpoints,
            ["Gateway__TopologyRoot"] = topologyRoot,
            ["Gateway__Cell"] = cluster.Cell,
            ["Gateway__Name"] = name,
            ["Gateway__MySqlPort"] = mySqlPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Gateway__HttpPort"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Gateway__BackendUser"] = backendUser,
            ["Gateway__BackendPassword"] = backendPassword,
            ["Gateway__Accounts__0__User"] = ClientUser,
            ["Gateway__Accounts__0__Password"] = clientPassword,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        var gateway = new GatewayProcess(new Process { StartInfo = psi, EnableRaisingEvents = true }, name, mySqlPort, httpPort);
        gateway._process.OutputDataReceived += (_, e) => gateway.OnLine(e.Data);
        gateway._process.ErrorDataReceived += (_, e) => gateway.OnLine(e.Data);
        gateway._process.Start();
        gateway._process.BeginOutputReadLine();
        gateway._process.BeginErrorReadLine();
        try
        {
            await gateway.WaitReadyAsync(startTimeout ?? TimeSpan.FromSeconds(60));
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The gateway {Name} exited ({_process.ExitCode}) before it was ready. Output:\n{Output}");
            }

            try
            {
                using var answer = await http.GetAsync($"http://127.0.0.1:{HttpPort}/readyz");
                if (answer.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The gateway {Name} was not ready (/readyz) within {timeout}. Output:\n{Output}");
    }

    /// <summary>SIGKILL, as a crashed machine stops it: no drain, no goodbye to etcd.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM and wait for the drain to end it; killed after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
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
    }
}
