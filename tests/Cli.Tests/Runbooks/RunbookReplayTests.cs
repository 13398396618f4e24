using System.Text.Json;
using Durable.Cli.Infrastructure;
using Durable.Testing;

namespace Durable.Cli.Tests;

/// <summary>The fixture itself: every seed command line is in it once, and the deferred lines cannot grow silently.</summary>
public sealed class SeedFixtureTests
{
    [Fact]
    public void Every_seed_line_the_grep_finds_is_in_the_fixture_once()
    {
        var fixture = SeedFixture.Load();
        var seeds = fixture.Lines.Select(l => l.Seed).Concat(fixture.Prose).ToList();
        Assert.Equal(seeds.Count, seeds.Distinct().Count());

        // grep -nE 'vtctldclient|vtctlclient|\./[0-9]+_|mysql ' /work/shared/seeds/*.txt finds 27, 0, 2, 12 and 20 lines.
        var perFile = seeds.GroupBy(s => s.Split(':')[0]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["000"] = 27, ["002"] = 2, ["003"] = 12, ["004"] = 20 }, perFile);
        Assert.All(fixture.Wrong, w => Assert.Contains(w, fixture.Lines.Select(l => l.Seed)));
    }

    [Fact]
    public void The_lines_waiting_for_the_gateway_and_mirror_traffic_are_counted()
    {
        var fixture = SeedFixture.Load();
        Assert.Equal(5, fixture.Lines.Count(l => l.Mark == SeedFixture.GatewayMark));
        Assert.Equal(1, fixture.Lines.Count(l => l.Mark == SeedFixture.MirrorMark));
        Assert.Equal(10, fixture.Lines.Count(l => l.Mark == SeedFixture.LeadMark));
        Assert.All(fixture.Lines.Where(l => l.Mark is not null), l => Assert.Contains(l.Mark, new[] { SeedFixture.GatewayMark, SeedFixture.MirrorMark, SeedFixture.LeadMark }));
    }

    [Fact]
    public void The_shell_forms_of_the_seeds_split_as_a_shell_would()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """{"rules": []}""" + "\n");
            var (args, redirect) = SeedFixture.Split($"durablectl ApplyRoutingRules -- --rules=\"$(cat {file})\" --tables 'a,b' > /tmp/x.json");
            Assert.Equal(["durablectl", "ApplyRoutingRules", "--", """--rules={"rules": []}""", "--tables", "a,b"], args);
            Assert.Equal("/tmp/x.json", redirect);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>
/// Replays the seeds' command lines (Runbooks/seed-commands.txt) in order with durablectl against a real host on the
/// cluster: one workflow's life from create to complete on tables of this test's own, each line's exit code asserted,
/// and the outputs the seeds show checked at the key steps.
/// </summary>
[Collection(CliClusterCollection.Name)]
[Trait("Category", "Integration")]
public sealed class RunbookReplayTests(CliClusterHost host) : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private readonly string _saveDir = Path.Combine(Path.GetTempPath(), "durablectl-runbook-" + Guid.NewGuid().ToString("N"));

    private string Workflow => "rb_" + _suffix;

    private string[] Tables => [$"rba_{_suffix}", $"rbb_{_suffix}", $"rbc_{_suffix}"];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_saveDir);
        // The seeds' insert_commerce_data.sql goes through the gateway (issue 20); the rows are written to the source directly.
        foreach (var t in Tables)
        {
            await CliClusterHost.ExecAsync(100, "vt_commerce",
                $"CREATE TABLE `{t}` (id BIGINT NOT NULL, name VARCHAR(40) NOT NULL, PRIMARY KEY (id))",
                $"INSERT INTO `{t}` SELECT seq, CONCAT('name', seq) FROM seq_1_to_200");
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var t in Tables)
        {
            await CliClusterHost.ExecAsync(100, "vt_commerce", $"DROP TABLE IF EXISTS `{t}`", $"DROP TABLE IF EXISTS `_{t}_old`");
            await CliClusterHost.ExecAsync(200, "vt_customer", $"DROP TABLE IF EXISTS `{t}`");
        }

        Directory.Delete(_saveDir, true);
    }

    [Fact]
    public async Task The_seeds_runbook_runs_with_durablectl()
    {
        var fixture = SeedFixture.Load();
        var values = new Dictionary<string, string>
        {
            ["host_port"] = host.HostPort,
            ["cluster_file"] = LocalCluster.Current.Path,
            ["workflow"] = Workflow,
            ["table1"] = Tables[0],
            ["table2"] = Tables[1],
            ["table3"] = Tables[2],
            ["save_dir"] = _saveDir,
        };
        var log = new List<string>();
        var deferred = 0;
        foreach (var line in fixture.Lines)
        {
            if (line.Deferred)
            {
                deferred++;
                continue;
            }

            await BeforeAsync(line.Seed);
            var command = fixture.Substitute(line, values);
            var (args, redirect) = SeedFixture.Split(command);
            Assert.True(args[0] == "durablectl", $"{line.Seed}: not a durablectl line after substitution: {command}");
            var (code, output, error) = await host.RunAsync([.. args.Skip(1)]);
            log.Add($"{line.Seed} exit {code}: {command}\n{output}{error}");
            Assert.True(code == line.Exit, $"{line.Seed}: expected exit {line.Exit}, got {code}: {command}\n{output}{error}\n---- the replay so far:\n{string.Join('\n', log)}");
            if (redirect is not null)
            {
                await File.WriteAllTextAsync(redirect, output);
            }

            CheckOutput(line.Seed, output);
        }

        Assert.Equal(6, deferred);
    }

    /// <summary>Waits the seeds' reader does by watching the output: the copy done before VDiff, the VDiff done before the switch.</summary>
    private async Task BeforeAsync(string seed)
    {
        switch (seed)
        {
            case "000:195": // the guide's "Confirm MoveTables has completed" comes before the cutover's dry runs
            case "004:377":
                await WaitAsync(async () =>
                {
                    var (code, output, _) = await host.RunAsync("MoveTables", "--target-keyspace", "customer", "--workflow", Workflow, "status", "--format", "json");
                    if (code != 0)
                    {
                        return false;
                    }

                    var status = JsonDocument.Parse(output).RootElement;
                    return !status.GetProperty("table_copy_state").EnumerateObject().Any()
                           && status.GetProperty("shard_streams").EnumerateObject().SelectMany(s => s.Value.GetProperty("streams").EnumerateArray())
                               .All(s => s.GetProperty("status").GetString() == "Running");
                }, "the copy to finish");
                break;
            case "004:380":
            case "004:454":
                await WaitAsync(async () =>
                {
                    var (code, output, _) = await host.RunAsync("VDiff", "--target-keyspace", "customer", "--workflow", Workflow, "show", "last", "--format", "json");
                    return code == 0 && JsonDocument.Parse(output).RootElement.GetProperty("State").GetString() == "completed";
                }, "the VDiff to complete");
                break;
        }
    }

    private void CheckOutput(string seed, string output)
    {
        switch (seed)
        {
            case "000:42":
                Assert.Contains($"customer.{Workflow}", output);
                Assert.Contains("was created", output);
                break;
            case "004:122":
                Assert.Contains("already exists", output);
                break;
            case "000:48":
            case "000:55":
            case "004:266":
                Assert.Contains(Workflow, output);
                break;
            case "004:133":
            case "004:465":
                Assert.Contains(Tables[0], output);
                break;
            case "004:241":
                Assert.True(JsonDocument.Parse(output).RootElement.TryGetProperty("traffic_state", out _), output);
                break;
            case "004:380":
                Assert.False(JsonDocument.Parse(output).RootElement.GetProperty("HasMismatch").GetBoolean(), output);
                break;
            case "004:571":
                Assert.Contains(Workflow + "_reverse", output);
                break;
            case "004:738":
                Assert.DoesNotContain(Tables[0], output);
                break;
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(500);
        }
    }
}
