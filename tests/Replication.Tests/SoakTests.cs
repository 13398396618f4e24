using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Durable.Replication.Tests;

/// <summary>
/// Random kill -9 soak: while a load inserts, updates (with primary key changes and unique-key swaps) and deletes
/// across the whole key space, the process running the copy and then the Streamer are SIGKILLed at random moments
/// (not only at fault points) and restarted; at the end source and target compare equal row by row.
/// Runs ~2.5 minutes by default; DURABLE_SOAK_SECONDS makes it longer, DURABLE_SOAK_SEED replays a schedule.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SoakTests(ITestOutputHelper output)
{
    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    [Fact]
    public async Task Copy_and_streamer_killed_at_random_moments_under_load_lose_and_duplicate_nothing()
    {
        var seed = Setting("DURABLE_SOAK_SEED", Random.Shared.Next(1, int.MaxValue));
        var seconds = Setting("DURABLE_SOAK_SECONDS", 150);
        output.WriteLine($"soak seed {seed}, {seconds} s (replay: DURABLE_SOAK_SEED={seed} DURABLE_SOAK_SECONDS={seconds})");
        var random = new Random(seed);
        var soak = Stopwatch.StartNew();
        var budget = TimeSpan.FromSeconds(seconds);

        await using var bed = new TestBed("soak");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        const int rows = 20_000;
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE items (id INT PRIMARY KEY, uk INT NULL, v VARCHAR(60), n BIGINT, UNIQUE KEY uk (uk))",
            $"INSERT INTO items SELECT seq, seq, CONCAT('v', seq), seq * 10 FROM seq_1_to_{rows}");
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("items")));

        using var stopLoad = new CancellationTokenSource();
        // Paced (200 changes/s): the copy's catch-up must be able to overtake the writer on a loaded CI machine.
        var load = Workload.RunAsync(bed.SourceDb, "items", rows * 2, stopLoad.Token, seed: seed, maxOpsPerSecond: 200);
        var copyKills = 0;
        var streamerKills = 0;
        try
        {
            // Copy: a third of the time at most, killed at random moments; then one run is left to finish.
            var copyUntil = TimeSpan.FromSeconds(seconds / 3.0);
            while (true)
            {
                var killAfter = TimeSpan.FromMilliseconds(random.Next(300, 4000));
                var mayKill = soak.Elapsed < copyUntil;
                await using var copy = ChildProcess.CopyHost(bed, "customer", "0", id, random.Next(100, 1500));
                if (mayKill)
                {
                    await Task.WhenAny(WaitExitAsync(copy), Task.Delay(killAfter));
                }

                if (mayKill && !copy.HasExited)
                {
                    copy.Signal("KILL");
                    await copy.WaitForExitAsync(TimeSpan.FromSeconds(30));
                    copyKills++;
                    var copied = await TestBed.ScalarAsync(200, $"SELECT rows_copied FROM `{bed.SidecarName}`.vreplication WHERE id = {id}");
                    output.WriteLine($"{soak.Elapsed.TotalSeconds,6:F1}s copy killed after {killAfter.TotalMilliseconds} ms ({copied} rows copied so far)");
                    continue;
                }

                var code = await copy.WaitForExitAsync(TimeSpan.FromMinutes(5));
                Assert.True(code == 0, $"the copy run failed with {code}:\n{copy.Output}");
                output.WriteLine($"{soak.Elapsed.TotalSeconds,6:F1}s copy done after {copyKills} kills");
                break;
            }

            // Streaming: Streamers killed at random moments; sometimes the next one starts while the old one lives
            // (it waits for the old one's lease; the epoch fences the old one's last transaction).
            var current = ChildProcess.Streamer(bed, replicaName: "soak-0");
            try
            {
                // The time budget, but at least five Streamer kills even when a loaded machine made the copy slow.
                while (soak.Elapsed < budget || streamerKills < 5)
                {
                    await Task.Delay(random.Next(300, 6000));
                    if (current.HasExited)
                    {
                        Assert.Fail($"the Streamer exited by itself ({current.ExitCode}):\n{current.Output}");
                    }

                    var overlap = random.Next(4) == 0;
                    var next = overlap ? ChildProcess.Streamer(bed, replicaName: $"soak-{streamerKills + 1}") : null;
                    if (overlap)
                    {
                        await Task.Delay(random.Next(0, 1500));
                    }

                    current.Signal("KILL");
                    await current.WaitForExitAsync(TimeSpan.FromSeconds(30));
                    await current.DisposeAsync();
                    streamerKills++;
                    var position = await TestBed.ScalarAsync(200, $"SELECT pos FROM `{bed.SidecarName}`.vreplication WHERE id = {id}");
                    output.WriteLine($"{soak.Elapsed.TotalSeconds,6:F1}s Streamer killed{(overlap ? " (successor already running)" : "")}; stream at {position}");
                    current = next ?? ChildProcess.Streamer(bed, replicaName: $"soak-{streamerKills}");
                }

                await stopLoad.CancelAsync();
                var stats = await load;
                output.WriteLine($"load: {stats}");
                Assert.True(stats.KeyChanges > 0 && stats.UniqueSwaps > 0 && stats.Deletes > 0 && stats.Inserts > 0, $"the load did not exercise every kind of change: {stats}");
                await bed.WaitCaughtUpAsync("customer", "0", id, TimeSpan.FromSeconds(120));
            }
            finally
            {
                await current.DisposeAsync();
            }
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
        }

        output.WriteLine($"copy kills {copyKills}, Streamer kills {streamerKills}, {soak.Elapsed.TotalSeconds:F0} s");
        Assert.True(streamerKills >= 3, $"only {streamerKills} Streamer kills; the soak did not soak");
        var stream = (await bed.Engine.ListStreamsAsync("customer", "0")).Single(s => s.Id == id);
        Assert.Equal(StreamState.Running, stream.State);
        var source = await TestBed.DumpAsync(100, bed.SourceDb, "items");
        var target = await TestBed.DumpAsync(200, bed.TargetDb, "items");
        var missing = source.Except(target).Take(5).ToList();
        var extra = target.Except(source).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && source.Count == target.Count,
            $"seed {seed}: source {source.Count} rows, target {target.Count}; missing on target: [{string.Join(", ", missing)}], extra: [{string.Join(", ", extra)}]");
    }

    private static async Task WaitExitAsync(ChildProcess process)
    {
        while (!process.HasExited)
        {
            await Task.Delay(50);
        }
    }
}
