using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Durable.Testing;

/// <summary>
/// A gateway (src/Gateway, vtgate's role) run as a separate process, as <c>cluster.sh up</c> runs it: settings through
/// <c>Gateway__*</c> environment variables (passwords too, never argv), a free MySQL port chosen by the gateway
/// (<c>MySqlPort=0</c>) and read from its "gateway NAME listening on PORT (mysql)" line, which it writes once it has
/// loaded the topology. A process that exits before it listens fails the start at once, with its output.
/// </summary>
public sealed partial class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GatewayProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    /// <summary>Its name in the gateway registry.</summary>
    public string Name { get; }

    /// <summary>The port clients connect to with the MySQL protocol.</summary>
    public int MySqlPort { get; private set; }

    public int Id => _process.Id;

    /// <summary>Everything it wrote to stdout and stderr so far.</summary>
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
    /// Starts the gateway built in the test's own configuration (<c>src/Gateway/bin/&lt;config&gt;/&lt;tfm&gt;</c>; a test
    /// project references src/Gateway with <c>ReferenceOutputAssembly="false"</c> so it is built) on
    /// <paramref name="topologyRoot"/>, logging in to tablets as <paramref name="backend"/> and accepting
    /// <paramref name="client"/>. <paramref name="settings"/> adds or overrides Gateway settings (e.g. "DrainSeconds").
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(string name, string topologyRoot, (string User, string Password) backend,
        (string User, string Password) client, IReadOnlyDictionary<string, string>? settings = null, TimeSpan? startTimeout = null)
    {
        var baseDir = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)); // .../bin/<config>/<tfm>
        var dll = Path.Combine(LocalCluster.RepositoryRoot(), "src", "Gateway", "bin", baseDir.Parent!.Name, baseDir.Name, "Durable.Gateway.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Build src/Gateway first: {dll} is missing.", dll);
        }

        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["EtcdEndpoints"] = LocalCluster.Current.EtcdEndpoints,
            ["TopologyRoot"] = topologyRoot,
            ["Cell"] = LocalCluster.Current.File.Cell,
            ["Name"] = name,
            ["MySqlPort"] = "0",
            ["HttpPort"] = "0",
            ["BackendUser"] = backend.User,
            ["BackendPassword"] = backend.Password,
            ["Accounts__0__User"] = client.User,
            ["Accounts__0__Password"] = client.Password,
            ["DrainSeconds"] = "2",
            // The tablets' own accounts (secret:NAME references), with which the gateway probes replication lag.
            ["SecretsFile"] = LocalCluster.Current.File.SecretsFile,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        foreach (var (key, value) in environment)
        {
            psi.Environment["Gateway__" + key] = value;
        }

        var gateway = new GatewayProcess(new Process { StartInfo = psi, EnableRaisingEvents = true }, name);
        gateway._process.OutputDataReceived += (_, e) => gateway.OnLine(e.Data);
        gateway._process.ErrorDataReceived += (_, e) => gateway.OnLine(e.Data);
        gateway._process.Exited += (_, _) => gateway._listening.TrySetException(new InvalidOperationException("The gateway exited before it listened."));
        gateway._process.Start();
        gateway._process.BeginOutputReadLine();
        gateway._process.BeginErrorReadLine();
        var timeout = startTimeout ?? TimeSpan.FromSeconds(60);
        try
        {
            gateway.MySqlPort = await gateway._listening.Task.WaitAsync(timeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await gateway.DisposeAsync();
            throw new InvalidOperationException($"The gateway {name} did not start listening within {timeout} ({e.Message}). Output:\n{gateway.Output}", e);
        }

        return gateway;
    }

    /// <summary>A graceful stop (SIGTERM: the gateway drains and leaves the registry); killed when still running after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>SIGKILL, as a crashed machine stops it: no drain, no goodbye to the registry (its lease lapses).</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

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

        if (ListeningOn().Match(line) is { Success: true } m)
        {
            _listening.TrySetResult(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    // The process contract's ready line: "gateway <Name> listening on <port> (mysql) and <port> (http)".
    [GeneratedRegex(@"gateway \S+ listening on (\d+) \(mysql\)")]
    private static partial Regex ListeningOn();
}
