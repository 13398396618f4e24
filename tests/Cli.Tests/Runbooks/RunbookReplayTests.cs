using System.Diagnostics;
using System.Globalization;
using System.Text;
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
    public void No_line_waits_for_mirror_traffic_any_more_and_the_gateway_lines_are_replayed()
    {
        var fixture = SeedFixture.Load();
        Assert.Equal(0, fixture.Lines.Count(l => l.Mark == SeedFixture.MirrorMark));
        Assert.Equal(10, fixture.Lines.Count(l => l.Mark == SeedFixture.LeadMark));
        Assert.All(fixture.Lines.Where(l => l.Mark is not null), l => Assert.Contains(l.Mark, new[] { SeedFixture.MirrorMark, SeedFixture.LeadMark }));
        // The seeds' five `mysql` lines (issue 20) run through a gateway, none deferred.
        Assert.Equal(["004:14", "004:19", "004:57", "004:105", "004:732"], fixture.Lines.Where(l => l.Command.StartsWith("mysql ", StringComparison.Ordinal) && !l.Deferred).Select(l => l.Seed));
    }

    [Fact]
    public void The_shell_forms_of_the_seeds_split_as_a_shell_would()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """{"rules": []}""" + "\n");
            var (args, redirect, input) = SeedFixture.Split($"durablectl ApplyRoutingRules -- --rules=\"$(cat {file})\" --tables 'a,b' > /tmp/x.json");
            Assert.Equal(["durablectl", "ApplyRoutingRules", "--", """--rules={"rules": []}""", "--tables", "a,b"], args);
            Assert.Equal("/tmp/x.json", redirect);
            Assert.Null(input);
            (args, redirect, input) = SeedFixture.Split("mysql --table < ../common/select_commerce_data.sql");
            Assert.Equal(["mysql", "--table"], args);
            Assert.Null(redirect);
            Assert.Equal("../common/select_commerce_data.sql", input);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>
/// Replays the seeds' command lines (Runbooks/seed-commands.txt) in order with durablectl against a real host on the
/// cluster, and the seeds' `mysql` lines with the mariadb client through a gateway on the host's topology (as the
/// seeds' `mysql` reaches vtgate): one workflow's life from create to complete on tables of this test's own, each
/// line's exit code asserted, and the outputs the seeds show checked at the key steps.
/// </summary>
[Collection(CliClusterCollection.Name)]
[Trait("Category", "Integration")]
public sealed class RunbookReplayTests(CliClusterHost host) : IAsyncLifetime
{
    private const int RowsPerTable = 200;
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private readonly string _saveDir = Path.Combine(Path.GetTempPath(), "durablectl-runbook-" + Guid.NewGuid().ToString("N"));
    private readonly (string User, string Password) _client = ("replay", Guid.NewGuid().ToString("N"));
    private GatewayProcess? _gateway;

    private string Workflow => "rb_" + _suffix;

    private string[] Tables => [$"rba_{_suffix}", $"rbb_{_suffix}", $"rbc_{_suffix}"];

    private string InsertFile => Path.Combine(_saveDir, "insert_commerce_data.sql");

    private string SelectFile => Path.Combine(_saveDir, "select_commerce_data.sql");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_saveDir);
        // The seeds' 101 step: the commerce schema exists (the rows come with the replay's first `mysql` line) and the
        // cluster is registered, so the gateway has keyspaces to route to from its first statement.
        foreach (var t in Tables)
        {
            await CliClusterHost.ExecAsync(100, "vt_commerce", $"CREATE TABLE `{t}` (id BIGINT NOT NULL, name VARCHAR(40) NOT NULL, PRIMARY KEY (id))");
        }

        var (code, output, error) = await host.RunAsync("RegisterLocalCluster", "--cluster-file", LocalCluster.Current.Path);
        Assert.True(code == 0, $"RegisterLocalCluster: {output}{error}");
        await WriteSampleSqlAsync();
        _gateway = await GatewayProcess.StartAsync("replay-" + _suffix, host.Root, LocalCluster.Current.Account("app"), _client);
    }

    /// <summary>
    /// The seeds' insert_commerce_data.sql and select_commerce_data.sql over this test's tables. Both start with the
    /// seeds' select file's `use commerce` (the insert file relies on vtgate's global routing instead; the keyspace is
    /// named here so the replay does not depend on which keyspace's VSchema lists a test table).
    /// </summary>
    private async Task WriteSampleSqlAsync()
    {
        var insert = new StringBuilder("use commerce;\n");
        var select = new StringBuilder("use commerce;\n");
        foreach (var t in Tables)
        {
            insert.Append(CultureInfo.InvariantCulture, $"insert into {t}(id, name) values ")
                .AppendJoin(", ", Enumerable.Range(1, RowsPerTable).Select(i => $"({i}, 'name{i}')")).Append(";\n");
            select.Append(CultureInfo.InvariantCulture, $"select '{t}' as `table`, count(*) as `rows` from {t};\n");
        }

        await File.WriteAllTextAsync(InsertFile, insert.ToString());
        await File.WriteAllTextAsync(SelectFile, select.ToString());
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.StopAsync(TimeSpan.FromSeconds(15));
            await _gateway.DisposeAsync();
        }

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
            ["insert_file"] = InsertFile,
            ["select_file"] = SelectFile,
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
            var (args, redirect, input) = SeedFixture.Split(command);
            var (code, output, error) = args[0] switch
            {
                "durablectl" => await host.RunAsync([.. args.Skip(1)]),
                "mysql" => await MySqlThroughGatewayAsync(args.Skip(1), input),
                _ => throw new InvalidOperationException($"{line.Seed}: neither a durablectl nor a mysql line after substitution: {command}"),
            };
            log.Add($"{line.Seed} exit {code}: {command}\n{output}{error}");
            Assert.True(code == line.Exit, $"{line.Seed}: expected exit {line.Exit}, got {code}: {command}\n{output}{error}\n---- the replay so far:\n{string.Join('\n', log)}");
            if (redirect is not null)
            {
                await File.WriteAllTextAsync(redirect, output);
            }

            CheckOutput(line.Seed, args[0] == "mysql" ? output + error : output);
        }

        Assert.Equal(0, deferred); // MirrorTraffic (issue 21) replays like every other line
    }

    /// <summary>
    /// The seeds' `mysql` (env.sh: the mysql client on vtgate's port) as the mariadb client on the replay's gateway, as
    /// its client account; the password through MYSQL_PWD, never argv.
    /// </summary>
    private async Task<(int Code, string Out, string Err)> MySqlThroughGatewayAsync(IEnumerable<string> args, string? input)
    {
        var psi = new ProcessStartInfo("mariadb") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--no-defaults", "-h", "127.0.0.1", "-P", _gateway!.MySqlPort.ToString(CultureInfo.InvariantCulture), "-u", _client.User, .. args])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["MYSQL_PWD"] = _client.Password;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(await File.ReadAllTextAsync(input));
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
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
            case "004:465":
            {
                // SwitchTraffic (004:454) removed the workflow's mirror rules.
                var (code, output, _) = await host.RunAsync("GetMirrorRules");
                Assert.True(code == 0, output);
                Assert.DoesNotContain(Tables[0], output);
                break;
            }

            case "004:454":
            {
                // MirrorTraffic (004:440) wrote one rule per table and tablet type at 1 %, for the gateways to follow.
                var (code, output, _) = await host.RunAsync("GetMirrorRules");
                Assert.True(code == 0, output);
                Assert.Contains($"\"from_table\": \"commerce.{Tables[0]}@replica\"", output);
                Assert.Contains($"\"to_table\": \"customer.{Tables[0]}\"", output);
                Assert.Contains("\"percent\": 1", output);
                goto case "004:380";
            }

            case "004:380":
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
            case "004:19":
                // Through the gateway, every row the insert line wrote through it, in a table as `--table` draws it.
                Assert.All(Tables, t => Assert.Matches($@"\| {t} \|\s+{RowsPerTable} \|", output));
                break;
            case "004:57":
            case "004:105":
                // SHOW VITESS_TABLETS answered by the gateway from the topology, as the seeds show it.
                Assert.Contains("zone1-0000000100", output);
                Assert.Contains("zone1-0000000200", output);
                Assert.Contains("PRIMARY", output);
                break;
            case "004:732":
                // "Expected to fail!": ERROR 1146, the moved table is gone from commerce, passed through with its code.
                Assert.Contains("ERROR 1146", output);
                Assert.Contains($"{Tables[0]}' doesn't exist", output);
                break;
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
            case "004:440":
                Assert.Contains($"MirrorTraffic was successful for workflow customer.{Workflow}", output);
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
