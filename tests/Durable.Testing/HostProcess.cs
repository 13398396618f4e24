using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Durable.Testing;

/// <summary>
/// A built .NET host (the Functions host, a test host) run as a separate process, as operators run it: started with
/// <c>--urls=http://127.0.0.1:0</c>, its output captured, its URL read from Kestrel's "Now listening on" line. A process
/// that exits before it listens fails the start at once with its output (not a long timeout and no clue).
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HostProcess(Process process) => _process = process;

    /// <summary>The base URL it listens on, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public string Url { get; private set; } = "";

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

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

    /// <summary>Starts <c>dotnet <paramref name="dll"/></c> in <paramref name="workingDirectory"/> and waits until it listens.</summary>
    public static async Task<HostProcess> StartAsync(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan startTimeout)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The host {dll} is not built (tests run the configuration they were built in).", dll);
        }

        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls=http://127.0.0.1:0");
        foreach (var (name, value) in environment)
        {
            psi.Environment[name] = value;
        }

        var host = new HostProcess(new Process { StartInfo = psi, EnableRaisingEvents = true });
        host._process.OutputDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.ErrorDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.Exited += (_, _) => host._listening.TrySetException(new InvalidOperationException("The host exited before it listened."));
        host._process.Start();
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();
        try
        {
            host.Url = await host._listening.Task.WaitAsync(startTimeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await host.DisposeAsync();
            throw new InvalidOperationException($"The host {dll} did not start listening within {startTimeout} ({e.Message}). Output:\n{host.Output}", e);
        }

        return host;
    }

    /// <summary>Sends a signal (TERM, KILL, STOP, CONT) to the process.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Waits for the process to end by itself (e.g. a fault point's SIGKILL); false when it still runs at the timeout.</summary>
    public async Task<bool> TryWaitForExitAsync(TimeSpan timeout)
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

    /// <summary>A graceful stop, as operators stop a host (SIGTERM); killed when it has not ended after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        await SignalAsync("TERM");
        if (!await TryWaitForExitAsync(grace))
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
            _listening.TrySetResult(m.Groups[1].Value);
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();
}
