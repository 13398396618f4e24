using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Durable.Testing;

namespace Durable.Replication.Tests;

/// <summary>A Streamer or test-host child process: started with the test bed's settings, killed, stopped, resumed.</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ChildProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

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

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static ChildProcess Start(TestBed bed, string project, string assembly, IEnumerable<string> args, string? faultPoints, string replicaName, IReadOnlyDictionary<string, string>? environment = null)
    {
        var baseDir = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)); // .../bin/<config>/<tfm>
        var dll = Path.Combine(LocalCluster.RepositoryRoot(), project, "bin", baseDir.Parent!.Name, baseDir.Name, assembly);
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Build {project} first: {dll} is missing.");
        }

        var tabletsFile = Path.Combine(Path.GetTempPath(), $"tablets-{bed.Suffix}.json");
        File.WriteAllText(tabletsFile, JsonSerializer.Serialize(bed.Resolver.Tablets, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["Streamer__EtcdEndpoints"] = LocalCluster.Current.EtcdEndpoints;
        info.Environment["Streamer__TopologyRoot"] = bed.EtcdRoot;
        info.Environment["Streamer__Sidecar"] = bed.SidecarName;
        info.Environment["Streamer__User"] = bed.Credentials.User;
        info.Environment["Streamer__Password"] = bed.Credentials.Password;
        info.Environment["Streamer__TabletsFile"] = tabletsFile;
        info.Environment["Streamer__ReplicaName"] = replicaName;
        info.Environment["Streamer__OwnershipTtlSeconds"] = "3";
        info.Environment["Streamer__PollIntervalMs"] = "200";
        info.Environment["Logging__LogLevel__Default"] = "Information";
        // No HTTP listener unless a test asks for one with a port of its own: several Streamers run side by side.
        info.Environment["Streamer__HttpPort"] = "0";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        if (faultPoints is not null)
        {
            info.Environment["DURABLE_FAULT_POINTS"] = faultPoints;
        }

        return new ChildProcess(Process.Start(info)!);
    }

    public static ChildProcess Streamer(TestBed bed, string? faultPoints = null, string replicaName = "streamer", IReadOnlyDictionary<string, string>? environment = null) =>
        Start(bed, "src/Streamer", "Durable.Streamer.dll", [], faultPoints, replicaName, environment);

    /// <summary>
    /// The MoveTables copy in a process a test can kill: chunk after chunk of the <c>MoveTables_CopyChunk</c> activity's
    /// own call (<c>ClusterMoveTablesOperations.CopyChunkAsync</c>) until the stream is copied.
    /// </summary>
    /// <param name="maxRows">Rows per chunk (what DURABLE_COPY_CHUNK_ROWS sets on a host).</param>
    /// <param name="commitRows">Rows per commit inside a chunk (the copy budget's CommitRows); null: the default.</param>
    public static ChildProcess CopyHost(TestBed bed, string keyspace, string shard, long id, int maxRows, string? faultPoints = null, int? commitRows = null) =>
        Start(bed, "tests/Replication.TestHost", "Durable.Replication.TestHost.dll",
            ["copy", keyspace, shard, id.ToString(System.Globalization.CultureInfo.InvariantCulture), maxRows.ToString(System.Globalization.CultureInfo.InvariantCulture),
             .. commitRows is { } c ? [c.ToString(System.Globalization.CultureInfo.InvariantCulture)] : Array.Empty<string>()],
            faultPoints, "copier");

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Child {Pid} did not exit within {timeout}. Output:\n{Output}");
        }

        return _process.ExitCode;
    }

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signal("CONT");
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
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
