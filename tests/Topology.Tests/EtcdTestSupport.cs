using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Durable.Testing;
using Durable.Topology.Etcd;

namespace Durable.Topology.Tests;

/// <summary>A topology under its own unique root in the cluster's etcd, removed again when the test ends.</summary>
public sealed class TestTopology : IAsyncDisposable
{
    private TestTopology(string endpoints, string root, TopologyOptions? options)
    {
        Endpoints = endpoints;
        Root = root;
        Etcd = new EtcdConnection(endpoints);
        Store = new TopologyStore(Etcd, options is null
            ? new TopologyOptions { Root = root }
            : new TopologyOptions { Root = root, ServerIdMin = options.ServerIdMin, ServerIdMax = options.ServerIdMax, LockTtl = options.LockTtl });
        Admin = new TopologyAdmin(Store);
    }

    public string Endpoints { get; }

    public string Root { get; }

    public EtcdConnection Etcd { get; }

    public TopologyStore Store { get; }

    public TopologyAdmin Admin { get; }

    public static TestTopology Create(string? endpoints = null, TopologyOptions? options = null) =>
        new(endpoints ?? LocalCluster.Current.EtcdEndpoints, $"/durable-test/{Guid.NewGuid():N}", options);

    /// <summary>Every key and value under this test's root, to prove a failed command wrote nothing.</summary>
    public async Task<IReadOnlyList<string>> SnapshotAsync()
    {
        var (kvs, _) = await Etcd.GetPrefixAsync(Root + "/");
        return [.. kvs.Select(kv => $"{kv.KeyString}={kv.ValueString}@{kv.ModRevision}")];
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Etcd.DeleteAsync(Root + "/", prefix: true);
        }
        catch (EtcdException)
        {
            // a private etcd may already be gone
        }

        Etcd.Dispose();
    }
}

/// <summary>
/// An etcd of the test's own (own data directory, free ports on 127.0.0.1), so a test can kill and restart it
/// without touching the shared cluster.
/// </summary>
public sealed class PrivateEtcd : IAsyncDisposable
{
    private readonly string _dataDir;
    private readonly int _clientPort;
    private readonly int _peerPort;
    private Process? _process;

    private readonly IReadOnlyList<string> _extraArgs;
    private readonly string _scheme;

    private PrivateEtcd(string scheme, IReadOnlyList<string> extraArgs)
    {
        _dataDir = Path.Combine(Path.GetTempPath(), "durable-private-etcd-" + Guid.NewGuid().ToString("N"));
        _clientPort = FreePort();
        _peerPort = FreePort();
        _scheme = scheme;
        _extraArgs = extraArgs;
    }

    public string Endpoint => $"{_scheme}://127.0.0.1:{_clientPort}";

    /// <summary>Starts etcd; with "https" pass the --cert-file/--key-file arguments in <paramref name="extraArgs"/>.</summary>
    public static async Task<PrivateEtcd> StartAsync(string scheme = "http", params string[] extraArgs)
    {
        var etcd = new PrivateEtcd(scheme, extraArgs);
        await etcd.StartProcessAsync();
        return etcd;
    }

    /// <summary>Kills etcd hard (SIGKILL), as a crash would.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts it again on the same ports and data directory, so its data and revisions survive.</summary>
    public Task RestartAsync() => StartProcessAsync();

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp directory
        }
    }

    private async Task StartProcessAsync()
    {
        var peer = $"http://127.0.0.1:{_peerPort}";
        var start = new ProcessStartInfo("/usr/bin/etcd")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--name", "private", "--data-dir", _dataDir,
                     "--listen-client-urls", Endpoint, "--advertise-client-urls", Endpoint,
                     "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                     "--initial-cluster", $"private={peer}", "--log-level", "error",
                 }.Concat(_extraArgs))
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start /usr/bin/etcd.");
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        // Readiness only: the tests themselves check certificates properly.
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(1) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                // etcd's own health endpoint: true once the member has a leader and serves reads.
                using var response = await http.GetAsync(Endpoint + "/health");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not up yet
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Private etcd exited with code {_process.ExitCode} during start.");
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Private etcd at {Endpoint} did not answer within 30s.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Runs an etcd tool (etcdctl, openssl) and fails the test with its stderr when it fails.</summary>
internal static class EtcdTool
{
    public static async Task RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {args[0]} failed: {await stderr}");
    }
}
