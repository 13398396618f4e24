using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Durable.Composition;
using Durable.Functions.MoveTables;
using Durable.Functions.Tests.Support;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;
using Durable.Topology;
using Durable.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Functions.Tests;

/// <summary>
/// An in-process Functions host with the MoveTables API (its own task hub on Azurite) on its own topology root and sidecar over
/// the real local cluster, an in-process Streamer for its streams, and uniquely named tables in vt_commerce:
/// <c>a</c> and <c>b</c> (with primary keys, a few rows) and <c>nopk</c> (no primary key). Everything is removed on dispose.
/// </summary>
public sealed class MoveTablesApiFixture : IAsyncLifetime
{
    public const string Key = "movetables-api-test-key";
    private readonly CancellationTokenSource _streamerStop = new();
    private Task? _streamer;

    public MoveTablesApiFixture()
    {
        Suffix = Guid.NewGuid().ToString("N")[..8];
        Root = "/durable-test/mtapi_" + Suffix;
        Sidecar = "_vt_mtapi_" + Suffix;
        TableA = "mta_a_" + Suffix;
        TableB = "mta_b_" + Suffix;
        TableNoPk = "mta_nopk_" + Suffix;
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
        };
        _engine = DurableEngineServices.BuildEngine(new MoveTablesEnvironmentOptions
        {
            EtcdEndpoints = cluster.EtcdEndpoints,
            TopologyRoot = Root,
            EngineUser = user,
            EnginePassword = password,
            SidecarName = Sidecar,
        });
        Env = _engine.GetRequiredService<MoveTablesEnvironment>();
    }

    private readonly ServiceProvider _engine;

    public string Suffix { get; }
    public string Root { get; }
    public string Sidecar { get; }
    public string TableA { get; }
    public string TableB { get; }
    public string TableNoPk { get; }
    public Dictionary<string, string> Settings { get; }

    /// <summary>The test's own view of the same topology and engine, to check what changed.</summary>
    public MoveTablesEnvironment Env { get; }

    public TestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await TopologyAdmin.RegisterLocalClusterAsync(LocalCluster.Current.Path, LocalCluster.Current.EtcdEndpoints, Root);
        foreach (var t in new[] { TableA, TableB })
        {
            await ExecAsync(100, "vt_commerce",
                $"CREATE TABLE `{t}` (id BIGINT NOT NULL, v VARCHAR(32) NOT NULL, PRIMARY KEY (id))",
                $"INSERT INTO `{t}` (id, v) VALUES (1, 'one'), (2, 'two'), (3, 'three')");
        }

        await ExecAsync(100, "vt_commerce", $"CREATE TABLE `{TableNoPk}` (id BIGINT NOT NULL, v VARCHAR(32))");
        var supervisor = new StreamerSupervisor(Env.Engine, Env.Etcd, new StreamerOptions { OwnershipRoot = Root + "/global", PollInterval = TimeSpan.FromMilliseconds(100) }, NullLogger.Instance);
        _streamer = Task.Run(() => supervisor.RunAsync(_streamerStop.Token));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Settings!).Build();
        Host = await TestHost.StartAsync(s => s.AddMoveTables(configuration), Settings);
    }

    public static MySqlConnectionOptions Account(string role, int uid, string? db)
    {
        var t = LocalCluster.Current.Tablet(uid);
        var (user, password) = LocalCluster.Current.Account(role);
        return new MySqlConnectionOptions { Host = t.Host, Port = t.Port, User = user, Password = password, Database = db, SslMode = SslMode.Disabled };
    }

    public static async Task ExecAsync(int uid, string db, params string[] sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Account("dba", uid, db));
        foreach (var s in sql)
        {
            await c.ExecuteAsync(s);
        }
    }

    public static async Task<string?> ScalarAsync(int uid, string db, string sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Account("dba", uid, db));
        return await c.QueryScalarAsync(sql);
    }

    public async Task<(int Status, JsonElement Body, string Text)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("x-functions-key", Key);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await Host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonElement body = default;
        try
        {
            body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            // a non-JSON answer is reported through Text
        }

        return ((int)response.StatusCode, body, text);
    }

    public Task<(int Status, JsonElement Body, string Text)> PostAsync(string path, object body) =>
        SendAsync(HttpMethod.Post, path, JsonSerializer.Serialize(body));

    public async Task<WorkflowState?> StateAsync(string workflow)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/movetables/customer/{workflow}/state");
        request.Headers.Add("x-functions-key", Key);
        using var response = await Host.Client.SendAsync(request);
        return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<WorkflowState>() : null;
    }

    public async Task<WorkflowState> WaitStateAsync(string workflow, Func<WorkflowState, bool> until, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await StateAsync(workflow);
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, traffic {last?.TrafficStateText}, error {last?.LastError}");
    }

    /// <summary>Sends a command and waits for its result in the workflow's state.</summary>
    public async Task<CommandResult> CommandAsync(string workflow, string action, object? body = null)
    {
        var (status, answer, text) = await PostAsync($"/api/movetables/customer/{workflow}/{action}", body ?? new { });
        Assert.True(status == 202, $"{action} answered {status}: {text}");
        var id = answer.GetProperty("request_id").GetString()!;
        var state = await WaitStateAsync(workflow, s => s.Phase != Phases.Switching && s.Commands.Any(c => c.RequestId == id), $"the result of {action}");
        return state.Commands.Single(c => c.RequestId == id);
    }

    /// <summary>
    /// Everything a refused call must leave as it was: the topology under the root (rules, workflows, journals; not the
    /// Streamer's ownership leases, server ids or locks, which live by themselves) and the sidecars' streams.
    /// </summary>
    public async Task<string> SnapshotAsync()
    {
        var (kvs, _) = await Env.Etcd.GetPrefixAsync(Root + "/global/", ct: default);
        var topology = string.Join("\n", kvs.Where(kv => !new[] { "/locks/", "/streams/", "/serverids/" }.Any(k => kv.KeyString.Contains(k, StringComparison.Ordinal))).Select(kv => $"{kv.KeyString}@{kv.ModRevision}"));
        var streams = new List<string>();
        foreach (var (ks, shard) in new[] { ("customer", "0"), ("commerce", "0") })
        {
            foreach (var s in await Env.Engine.ListStreamsAsync(ks, shard))
            {
                streams.Add($"{ks}/{shard}:{s.Id}:{s.Workflow}:{s.State}");
            }
        }

        return topology + "\n" + string.Join("\n", streams);
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
            foreach (var t in new[] { TableA, TableB, TableNoPk })
            {
                await ExecAsync(uid, db, $"DROP TABLE IF EXISTS `{t}`");
            }

            await ExecAsync(uid, "mysql", $"DROP DATABASE IF EXISTS `{Sidecar}`");
        }

        await Env.Etcd.DeleteAsync(Root + "/", prefix: true);
        await _engine.DisposeAsync();
    }
}
