using System.Text.Json;
using Durable.Composition;
using Durable.Functions.MoveTables;
using Durable.Functions.Tests.Support;
using Durable.Functions.VDiff;
using Durable.Replication;
using Durable.Testing;
using Durable.Topology;
using Durable.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Functions.Tests;

/// <summary>
/// A Functions host with the MoveTables and VDiff APIs and no default VDiff schedule (DURABLE_VDIFF_INTERVAL=off), on its
/// own topology root, sidecar and task hub over the real local cluster, with an in-process Streamer. Each test makes its
/// own uniquely named tables in vt_commerce; everything is removed on dispose.
/// </summary>
public sealed class VDiffGateFixture : IAsyncLifetime
{
    public const string Key = "vdiff-gate-test-key";
    private readonly CancellationTokenSource _streamerStop = new();
    private readonly ServiceProvider _engine;
    private readonly List<string> _tables = [];
    private Task? _streamer;

    public VDiffGateFixture()
    {
        Suffix = Guid.NewGuid().ToString("N")[..8];
        Root = "/durable-test/vdgate_" + Suffix;
        Sidecar = "_vt_vdgate_" + Suffix;
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("filtered");
        Settings = new Dictionary<string, string>
        {
            ["DURABLE_HOST_KEY"] = Key,
            [MoveTablesEnvironmentOptions.EtcdSetting] = cluster.EtcdEndpoints,
            [MoveTablesEnvironmentOptions.RootSetting] = Root,
            [MoveTablesEnvironmentOptions.EngineUserSetting] = user,
            [MoveTablesEnvironmentOptions.EnginePasswordSetting] = password,
            [MoveTablesEnvironmentOptions.SidecarSetting] = Sidecar,
            [EngineOptions.VDiffIntervalSetting] = "off",
        };
        _engine = DurableEngineServices.BuildEngine(new MoveTablesEnvironmentOptions
        {
            EtcdEndpoints = cluster.EtcdEndpoints, TopologyRoot = Root, EngineUser = user, EnginePassword = password, SidecarName = Sidecar,
        });
        Env = _engine.GetRequiredService<MoveTablesEnvironment>();
    }

    public string Suffix { get; }
    public string Root { get; }
    public string Sidecar { get; }
    public Dictionary<string, string> Settings { get; }
    public MoveTablesEnvironment Env { get; }
    public TestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await TopologyAdmin.RegisterLocalClusterAsync(LocalCluster.Current.Path, LocalCluster.Current.EtcdEndpoints, Root);
        var supervisor = new StreamerSupervisor(Env.Engine, Env.Etcd, new StreamerOptions { OwnershipRoot = Root + "/global", PollInterval = TimeSpan.FromMilliseconds(100) }, NullLogger.Instance);
        _streamer = Task.Run(() => supervisor.RunAsync(_streamerStop.Token));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Settings!).Build();
        Host = await TestHost.StartAsync(s =>
        {
            s.AddMoveTables(configuration);
            s.AddVDiff(configuration);
        }, Settings);
    }

    /// <summary>A new table in vt_commerce (dropped on dispose, with its copy in vt_customer and a renamed leftover).</summary>
    public async Task<string> TableAsync(string name, string columns, string insert)
    {
        var table = $"vdg_{name}_{Suffix}";
        _tables.Add(table);
        await MoveTablesApiFixture.ExecAsync(100, "vt_commerce", $"CREATE TABLE `{table}` ({columns})", insert.Replace("{t}", table, StringComparison.Ordinal));
        return table;
    }

    public async Task<(int Status, JsonElement Body, string Text)> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("x-functions-key", Key);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
        }

        using var response = await Host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonElement parsed = default;
        try
        {
            parsed = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            // reported through the text
        }

        return ((int)response.StatusCode, parsed, text);
    }

    public async Task<WorkflowState> WaitStateAsync(string workflow, Func<WorkflowState, bool> until, string what, int seconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var (status, body, _) = await SendAsync(HttpMethod.Get, $"/api/movetables/customer/{workflow}/state");
            last = status == 200 ? body.Deserialize<WorkflowState>() : null;
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(150);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, traffic {last?.TrafficStateText}, error {last?.LastError}, audit {string.Join(" | ", last?.Audit.TakeLast(5).Select(a => $"{a.Action}:{a.Outcome}:{a.Detail}") ?? [])}");
    }

    /// <summary>Sends a command that must be accepted (202) and returns the workflow's answer to it.</summary>
    public async Task<CommandResult> CommandAsync(string workflow, string action, object? body = null)
    {
        var (status, answer, text) = await SendAsync(HttpMethod.Post, $"/api/movetables/customer/{workflow}/{action}", body ?? new { });
        Assert.True(status == 202, $"{action} answered {status}: {text}");
        var id = answer.GetProperty("request_id").GetString()!;
        var state = await WaitStateAsync(workflow, s => s.Phase != Phases.Switching && s.Commands.Any(c => c.RequestId == id), $"the answer to {action}");
        return state.Commands.Single(c => c.RequestId == id);
    }

    /// <summary>Creates a workflow moving <paramref name="table"/> and waits until it is copied and replicating.</summary>
    public async Task CreateAsync(string workflow, string table, string? sourceTimeZone = null)
    {
        var (status, _, text) = await SendAsync(HttpMethod.Post, $"/api/movetables/customer/{workflow}/create",
            new { source_keyspace = "commerce", tables = new[] { table }, source_time_zone = sourceTimeZone });
        Assert.True(status == 202, text);
        var running = await WaitStateAsync(workflow, s => (s.Phase == Phases.Running && s.CopyDone) || s.Phase is Phases.Failed or Phases.Stopped, "copied and replicating");
        Assert.True(running.Phase == Phases.Running, running.LastError);
    }

    /// <summary>Runs an operator VDiff through the API and returns its finished report.</summary>
    public async Task<JsonElement> VDiffAsync(string keyspace, string workflow, object? body = null)
    {
        var (status, created, text) = await SendAsync(HttpMethod.Post, $"/api/vdiff/{keyspace}/{workflow}/create", body ?? new { });
        Assert.True(status == 202, text);
        var uuid = created.GetProperty("UUID").GetString()!;
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var (s, report, t) = await SendAsync(HttpMethod.Get, $"/api/vdiff/{keyspace}/{workflow}/show/{uuid}");
            Assert.True(s == 200, t);
            var state = report.GetProperty("State").GetString();
            if (state is "completed" or "error")
            {
                Assert.True(state == "completed", t);
                return report;
            }

            Assert.True(DateTime.UtcNow < deadline, $"VDiff {uuid} did not finish: {t}");
            await Task.Delay(200);
        }
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await _streamerStop.CancelAsync();
        if (_streamer is not null)
        {
            try
            {
                await _streamer;
            }
            catch (OperationCanceledException)
            {
            }
        }

        foreach (var (uid, db) in new[] { (100, "vt_commerce"), (200, "vt_customer") })
        {
            foreach (var t in _tables)
            {
                await MoveTablesApiFixture.ExecAsync(uid, db, $"DROP TABLE IF EXISTS `{t}`", $"DROP TABLE IF EXISTS `_{t}_old`");
            }

            await MoveTablesApiFixture.ExecAsync(uid, "mysql", $"DROP DATABASE IF EXISTS `{Sidecar}`");
        }

        await Env.Etcd.DeleteAsync(Root + "/", prefix: true);
        await _engine.DisposeAsync();
    }
}

/// <summary>
/// The VDiff gate on the real cluster through the HTTP API: an operator's VDiff with differences refuses SwitchTraffic at
/// once (409 naming the VDiff and its counts) and the hold shows in show and status; a repair reports what it changed;
/// a clean VDiff releases; with a schedule on, Complete needs a clean VDiff since the write switch, and --ignore-vdiff
/// passes and is audited; an operator VDiff reads the source in the workflow's time zone.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VDiffGateTests(VDiffGateFixture bed) : IClassFixture<VDiffGateFixture>
{
    private string Wf(string name) => $"vdg_{name}_{bed.Suffix}";

    [Fact]
    public async Task An_operator_vdiff_with_differences_refuses_switch_at_once_shows_the_hold_and_a_clean_vdiff_after_the_repair_releases_it()
    {
        var wf = Wf("hold");
        var table = await bed.TableAsync("hold", "id INT PRIMARY KEY, v VARCHAR(20)", "INSERT INTO `{t}` SELECT seq, CONCAT('v', seq) FROM seq_1_to_20");
        await bed.CreateAsync(wf, table);
        // Five rows missing on the target (the engine's account gets past the target's write guards).
        await ExecFilteredAsync($"DELETE FROM `{table}` WHERE id <= 5");
        var dirty = await bed.VDiffAsync("customer", wf);
        var uuid = dirty.GetProperty("UUID").GetString()!;
        Assert.True(dirty.GetProperty("HasMismatch").GetBoolean());

        // The switch fails now, naming the VDiff, its counts and what releases it.
        var (status, refused, text) = await bed.SendAsync(HttpMethod.Post, $"/api/movetables/customer/{wf}/switchtraffic", new { });
        Assert.True(status == 409, text);
        var message = refused.GetProperty("message").GetString()!;
        Assert.Contains($"SwitchTraffic is held by VDiff: VDiff {uuid}", message);
        Assert.Contains($"{table}: 0 mismatched, 5 extra on the source, 0 extra on the target", message);
        Assert.Contains("--ignore-vdiff", message);
        Assert.Equal(uuid, refused.GetProperty("vdiff_gate").GetProperty("uuid").GetString());

        // show and status show the hold.
        var (_, show, showText) = await bed.SendAsync(HttpMethod.Get, $"/api/movetables/customer/{wf}/show");
        var gate = show.GetProperty("workflows")[0].GetProperty("vdiff_gate");
        Assert.True(gate.GetProperty("state").GetString() == "held", showText);
        Assert.Equal(uuid, gate.GetProperty("uuid").GetString());
        Assert.Equal(5, gate.GetProperty("counts")[0].GetProperty("extra_rows_source").GetInt64());
        var (_, status2, statusText) = await bed.SendAsync(HttpMethod.Get, $"/api/movetables/customer/{wf}/status");
        Assert.True(status2.GetProperty("vdiff_gate").GetProperty("state").GetString() == "held", statusText);
        Assert.False((await bed.WaitStateAsync(wf, _ => true, "state")).Traffic.Primary);

        // A repair run says what it repaired, per table and with a top-level marker.
        var repair = await bed.VDiffAsync("customer", wf, new { repair = true });
        Assert.True(repair.GetProperty("Repaired").GetBoolean(), repair.ToString());
        var repaired = repair.GetProperty("TableSummary").GetProperty(table);
        Assert.Equal((5L, 0L, 0L), (repaired.GetProperty("RowsInserted").GetInt64(), repaired.GetProperty("RowsUpdated").GetInt64(), repaired.GetProperty("RowsDeleted").GetInt64()));
        Assert.Equal("20", await MoveTablesApiFixture.ScalarAsync(200, "vt_customer", $"SELECT COUNT(*) FROM `{table}`"));

        // A clean VDiff releases the switch (the repair run still reports what it found, so it does not).
        var clean = await bed.VDiffAsync("customer", wf);
        Assert.False(clean.GetProperty("HasMismatch").GetBoolean(), clean.ToString());
        var switched = await bed.CommandAsync(wf, "switchtraffic");
        Assert.True(switched.State == "done", switched.Message);
        var complete = await bed.CommandAsync(wf, "complete", new { cleanup = new { keep_data = true } });
        Assert.True(complete.State == "done", complete.Message);
    }

    [Fact]
    public async Task With_a_schedule_on_complete_needs_a_clean_vdiff_since_the_write_switch_and_ignore_vdiff_passes_audited()
    {
        var wf = Wf("sched");
        var table = await bed.TableAsync("sched", "id INT PRIMARY KEY, v VARCHAR(20)", "INSERT INTO `{t}` SELECT seq, CONCAT('v', seq) FROM seq_1_to_20");
        await bed.CreateAsync(wf, table);
        // No schedule and no VDiff ever run: nothing holds the switch (as in Vitess).
        var switched = await bed.CommandAsync(wf, "switchtraffic");
        Assert.True(switched.State == "done", switched.Message);
        // Stopped, no scheduled VDiff can start; then the schedule goes on.
        Assert.Equal("done", (await bed.CommandAsync(wf, "stop")).State);
        var scheduled = await bed.CommandAsync(wf, "vdiffschedule", new { vdiff_interval = "1h" });
        Assert.True(scheduled.State == "done", scheduled.Message);

        var (status, refused, text) = await bed.SendAsync(HttpMethod.Post, $"/api/movetables/customer/{wf}/complete", new { });
        Assert.True(status == 409, text);
        Assert.Contains($"Complete is held by VDiff: a VDiff schedule is on and no VDiff of commerce.{wf}_reverse has completed since the last switch of writes", refused.GetProperty("message").GetString());
        var (_, st, _) = await bed.SendAsync(HttpMethod.Get, $"/api/movetables/customer/{wf}/status");
        Assert.Equal("scheduled", st.GetProperty("vdiff_gate").GetProperty("rule").GetString());

        var done = await bed.CommandAsync(wf, "complete", new { ignore_vdiff = true, reason = "test window", requested_by = "erin", cleanup = new { keep_data = true } });
        Assert.True(done.State == "done", done.Message);
        var state = await bed.WaitStateAsync(wf, s => s.Phase == Phases.Completed, "completed");
        var audit = Assert.Single(state.Audit, a => a.Action == "IgnoreVDiff");
        Assert.Contains("Complete proceeds without the VDiff gate (--ignore-vdiff)", audit.Detail);
        Assert.Contains("test window", audit.Detail);
        Assert.Contains("no VDiff", audit.Detail);
    }

    [Fact]
    public async Task An_operator_vdiff_inherits_the_workflows_source_time_zone()
    {
        var wf = Wf("tz");
        var table = await bed.TableAsync("tz", "id INT PRIMARY KEY, at DATETIME NOT NULL",
            "INSERT INTO `{t}` SELECT seq, TIMESTAMP('2026-03-01 00:00:00') + INTERVAL seq HOUR FROM seq_1_to_200");
        await bed.CreateAsync(wf, table, sourceTimeZone: "+02:00");
        Assert.Equal("2026-02-28 23:00:00", await MoveTablesApiFixture.ScalarAsync(200, "vt_customer", $"SELECT at FROM `{table}` WHERE id = 1"));
        var report = await bed.VDiffAsync("customer", wf);
        var summary = report.GetProperty("TableSummary").GetProperty(table);
        Assert.True(summary.GetProperty("MismatchedRows").GetInt64() == 0, report.ToString());
        Assert.Equal(200, summary.GetProperty("RowsCompared").GetInt64());
        Assert.Equal("done", (await bed.CommandAsync(wf, "cancel")).State);
    }

    private static async Task ExecFilteredAsync(string sql)
    {
        await using var c = await MySql.MySqlConnection.OpenAsync(MoveTablesApiFixture.Account("filtered", 200, "vt_customer"));
        await c.ExecuteAsync(sql);
    }
}
