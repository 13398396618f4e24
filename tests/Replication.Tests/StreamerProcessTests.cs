using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Durable.Testing;

namespace Durable.Replication.Tests;

/// <summary>
/// The Streamer as a process: its HTTP listener (/healthz, /readyz, /metrics with the Durable.Streamer meter), and
/// graceful shutdown on SIGTERM: it stops applying, exits 0 within the shutdown timeout, and releases its ownership
/// leases, so another replica takes the stream at once rather than after the lease's TTL.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StreamerProcessTests
{
    // Long enough that a takeover by expiry would time the test out: only a released lease lets the second replica in.
    private const int OwnershipTtlSeconds = 60;

    [Fact]
    public async Task Serves_health_readiness_and_metrics_and_on_SIGTERM_releases_its_streams_to_another_replica_at_once()
    {
        await using var bed = new TestBed("sigterm");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(60))",
            "INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_200");
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("items")));
        await bed.CopyAllAsync("customer", "0", id, new CopyBudget { MaxRows = 500 });

        var port = FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        await using var first = ChildProcess.Streamer(bed, replicaName: "first", environment: new Dictionary<string, string>
        {
            ["Streamer__HttpPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["Streamer__OwnershipTtlSeconds"] = OwnershipTtlSeconds.ToString(CultureInfo.InvariantCulture),
        });
        await WaitAsync(async () => (await TryGetAsync(http, "/readyz")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "/readyz to answer 200", first);
        Assert.Equal(HttpStatusCode.OK, (await TryGetAsync(http, "/healthz")).Status);
        // The always-on Streamer also ends the traffic commands whose host died (a Functions plan may scale to zero).
        await WaitAsync(() => Task.FromResult(first.Output.Contains("Ending the traffic commands of dead holders", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the recovery sweep to start", first);

        await bed.ExecAsync(100, bed.SourceDb, "UPDATE items SET v = CONCAT(v, '-1') WHERE id <= 50", "INSERT INTO items VALUES (201, 'new')");
        await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(60));
        var metrics = "";
        await WaitAsync(async () =>
        {
            metrics = (await TryGetAsync(http, "/metrics")).Body;
            return metrics.Contains("durable_streamer_streams_owned{} 1\n", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10), "the stream counted as owned", first);
        Assert.Contains("durable_streamer_ownership_changes_total{change=\"acquired\"} 1\n", metrics);
        Assert.True(Counter(metrics, "durable_streamer_rows_applied_total") >= 51, metrics);
        Assert.True(Counter(metrics, "durable_streamer_binlog_events_total") > 0, metrics);
        Assert.True(Counter(metrics, "durable_streamer_commits_total") > 0, metrics);
        Assert.Contains("# TYPE durable_streamer_apply_lag_seconds gauge\n", metrics);
        Assert.Matches(new Regex("durable_streamer_scans_total\\{outcome=\"succeeded\"\\} [1-9]"), metrics);
        Assert.Contains("dotnet_gc_collections_total", metrics);
        var epochBefore = await EpochAsync(bed, id);

        first.Signal("TERM");
        Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("released stream", first.Output);

        // Changes made after the first replica left are applied by the second well before the first's lease could
        // have expired: the lease was revoked on shutdown.
        var stopped = DateTime.UtcNow;
        await bed.ExecAsync(100, bed.SourceDb, "DELETE FROM items WHERE id > 190", "UPDATE items SET v = 'after' WHERE id = 1");
        await using var second = ChildProcess.Streamer(bed, replicaName: "second", environment: new Dictionary<string, string>
        {
            ["Streamer__OwnershipTtlSeconds"] = OwnershipTtlSeconds.ToString(CultureInfo.InvariantCulture),
        });
        await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(OwnershipTtlSeconds / 2));
        Assert.True(DateTime.UtcNow - stopped < TimeSpan.FromSeconds(OwnershipTtlSeconds / 2));
        Assert.True(await EpochAsync(bed, id) > epochBefore, $"the second Streamer did not take the stream:\n{second.Output}");
        Assert.Equal(await TestBed.DumpAsync(100, bed.SourceDb, "items"), await TestBed.DumpAsync(200, bed.TargetDb, "items"));
    }

    private static async Task<long> EpochAsync(TestBed bed, long id) =>
        long.Parse(await TestBed.ScalarAsync(200, $"SELECT owner_epoch FROM `{bed.SidecarName}`.vreplication WHERE id = {id}"), CultureInfo.InvariantCulture);

    private static double Counter(string metrics, string name)
    {
        var m = Regex.Match(metrics, "^" + Regex.Escape(name) + "\\{\\} (\\S+)$", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<(HttpStatusCode? Status, string Body)> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (null, "");
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, ChildProcess process)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The Streamer exited ({process.ExitCode}) while waiting for {what}:\n{process.Output}");
            }

            if (await condition())
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"Timed out after {timeout} waiting for {what}. Output:\n{process.Output}");
    }
}
