using Durable.Testing;

namespace Durable.Cluster.Tests;

/// <summary>
/// The lifecycle of infra/local/cluster.sh, exercised on a second, private cluster (its own DURABLE_LOCAL_DIR) so the
/// shared cluster the other tests use is never stopped. Its ports collide with the shared cluster's preferred ports,
/// which also proves that `up` steps around ports already taken.
/// </summary>
[Trait("Category", "Integration")]
public class ClusterScriptTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"durable-cluster-{Guid.NewGuid():N}");

    private Task<ProcessRunner.Result> Script(params string[] command) =>
        ProcessRunner.RunAsync(
            "bash",
            [Path.Combine(LocalCluster.RepositoryRoot(), "infra", "local", "cluster.sh"), .. command],
            environment: new Dictionary<string, string> { ["DURABLE_LOCAL_DIR"] = _dir },
            timeout: TimeSpan.FromMinutes(5));

    [Fact]
    public async Task UpIsIdempotentAndDownLeavesNothingRunning()
    {
        // The servers only: the Functions host part of `up` is proven by the shared cluster (UpRegisteredEveryTablet...).
        var up = await Script("up", "--servers-only");
        Assert.True(up.ExitCode == 0, up.StdErr);
        Assert.Contains("starting tablet zone1-0000000100", up.StdErr);

        var shared = LocalCluster.Current.Tablets.Select(t => t.Port).ToHashSet();
        var status = await Script("status");
        Assert.Equal(0, status.ExitCode);
        var rows = status.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        Assert.Equal(18, rows.Count); // etcd, Azurite x3, the Functions host, the Streamer, two gateways, ten tablets
        static bool IsProcess(string row) => row.StartsWith("functions") || row.StartsWith("streamer") || row.StartsWith("gateway");
        Assert.All(rows.Where(r => !IsProcess(r)), r => Assert.EndsWith("up", r.TrimEnd()));
        Assert.All(rows.Where(IsProcess), r => Assert.EndsWith("off", r.TrimEnd()));
        var privatePorts = rows.Where(r => r.StartsWith("zone1-")).Select(r => int.Parse(r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^2])).ToList();
        Assert.DoesNotContain(privatePorts, shared.Contains);

        var again = await Script("up", "--servers-only");
        Assert.Equal(0, again.ExitCode);
        Assert.DoesNotContain("starting", again.StdErr);

        var down = await Script("down");
        Assert.Equal(0, down.ExitCode);
        var after = await Script("status");
        Assert.NotEqual(0, after.ExitCode);
        var afterRows = after.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        Assert.All(afterRows.Where(r => !IsProcess(r)), r => Assert.EndsWith("down", r.TrimEnd()));
        Assert.Empty(ProcessesUsing(_dir));
    }

    [Fact]
    public async Task AnUnknownOptionOfUpIsRefusedAndChangesNothing()
    {
        var result = await Script("up", "--fast");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unknown option '--fast'", result.StdErr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "mariadb")), "a refused up must start nothing");
    }

    [Fact]
    public async Task AnUnknownCommandIsRefusedWithUsage()
    {
        var result = await Script("start");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("usage:", result.StdErr);
        Assert.False(Directory.Exists(_dir), "an unknown command must change nothing");
    }

    private static List<string> ProcessesUsing(string path)
    {
        var found = new List<string>();
        foreach (var proc in Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(path, StringComparison.Ordinal))
                {
                    found.Add(cmdline);
                }
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Never leave a private cluster behind, even when an assertion failed half-way.
        await Script("down");
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
