using System.Diagnostics;
using System.Text;
using Durable.Engine.TestHost;
using Durable.Testing;

namespace Durable.Engine.Tests;

/// <summary>
/// The test host (tests/Engine.TestHost) as a child process on one task hub: started with its environment, ready
/// once it prints its worker id, stopped gracefully by closing its stdin, or killed with SIGKILL.
/// </summary>
internal sealed class EngineHost : IAsyncDisposable
{
    /// <summary>What .NET reports for a process that SIGKILL ended (128 + 9), whether a fault point or a test sent it.</summary>
    public const int KilledExitCode = 137;

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disposed;

    private EngineHost(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith(HostContract.Ready + " ", StringComparison.Ordinal) == true)
            {
                _ready.TrySetResult(e.Data[(HostContract.Ready.Length + 1)..]);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"The test host exited ({_process.ExitCode}) before it was ready."));
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Its worker id (partition lease owner), once ready.</summary>
    public string WorkerId => _ready.Task.IsCompletedSuccessfully ? _ready.Task.Result : "(not ready)";

    /// <summary>Everything it wrote to stderr: the engine's logs and a fault point's last words.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static EngineHost Start(string hub, string directory, IReadOnlyDictionary<string, string> environment)
    {
        var dll = Path.Combine(BinDirectory(), "Durable.Engine.TestHost.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The test host is not built: {dll}. Build tests/Engine.Tests (it builds the host).", dll);
        }

        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = BinDirectory(),
        };
        psi.ArgumentList.Add(dll);
        psi.Environment[HostContract.Connection] = LocalCluster.Current.AzureStorageConnectionString;
        psi.Environment[HostContract.Hub] = hub;
        psi.Environment[HostContract.Directory] = directory;
        // Nothing inherited decides how a child behaves: only what the test passes.
        foreach (var name in new[] { "DURABLE_FAULT_POINTS", HostContract.WorkerId, HostContract.Settings, HostContract.Partitions, HostContract.SlowStep, HostContract.FailEpisode })
        {
            psi.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            psi.Environment[name] = value;
        }

        var host = new EngineHost(new Process { StartInfo = psi, EnableRaisingEvents = true });
        host._process.Start();
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits until the host started its worker; returns its worker id.</summary>
    public async Task<string> WaitReadyAsync(TimeSpan timeout)
    {
        try
        {
            return await _ready.Task.WaitAsync(timeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"The test host did not get ready within {timeout}: {e.Message}\n{Stderr}", e);
        }
    }

    /// <summary>Waits for the process to end by itself (a fault point's SIGKILL, or a graceful stop); false on timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            // Returns once the process ended and its redirected output reached end of file.
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Asks for a graceful stop (stdin closed: the host stops its engine) without waiting for it.</summary>
    public void RequestStop() => _process.StandardInput.Close();

    /// <summary>A graceful stop; returns the exit code, or throws with its output when it did not end in time.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            RequestStop();
            if (!await WaitForExitAsync(timeout))
            {
                Kill();
                throw new TimeoutException($"The test host {Id} did not stop within {timeout}.\n{Stderr}");
            }
        }

        return _process.ExitCode;
    }

    /// <summary>SIGKILL, as an operator's kill -9: no shutdown, leases and dequeued messages left to expire.</summary>
    public void Kill()
    {
        if (!_disposed && !_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    /// <summary>Kills the process if it still runs; a host is disposed by its test and again by its hub.</summary>
    public ValueTask DisposeAsync()
    {
        Kill();
        _disposed = true;
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string BinDirectory()
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        return Path.Combine(LocalCluster.RepositoryRoot(), "tests", "Engine.TestHost", "bin", configuration, "net10.0");
    }
}
