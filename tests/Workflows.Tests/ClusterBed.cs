using Durable.Composition;
using Durable.Functions.Engine;
using Durable.Functions.Orchestrations;
using Durable.MySql;
using Durable.Replication;
using Durable.Testing;
using Durable.Topology;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// One test's corner of the shared cluster: its own etcd root (the local cluster registered there), its own sidecar
/// database (so no other Streamer meets its streams), uniquely named tables in vt_commerce, and an in-process
/// Streamer (the real engine's supervisor) running the workflow's streams. Everything is removed on dispose.
/// </summary>
public sealed class ClusterBed : IAsyncDisposable
{
    private readonly CancellationTokenSource _streamerStop = new();
    private readonly List<string> _cleanup = [];
    private Task? _streamer;
    private TaskHub? _hub;
    private readonly ServiceProvider _engine;

    public ClusterBed(string name, MoveTablesSettings? settings = null)
    {
        Suffix = $"{name}_{Guid.NewGuid().ToString("N")[..6]}";
        Root = "/durable-test/wf_" + Suffix;
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("filtered");
        _engine = DurableEngineServices.BuildEngine(new MoveTablesEnvironmentOptions
        {
            EtcdEndpoints = cluster.EtcdEndpoints,
            TopologyRoot = Root,
            EngineUser = user,
            EnginePassword = password,
            SidecarName = "_vt_wf_" + Suffix,
            ApproverKeys = "alice=" + Convert.ToBase64String(AliceKey),
            Settings = settings ?? new MoveTablesSettings(),
        });
        Env = _engine.GetRequiredService<MoveTablesEnvironment>();
    }

    public static readonly byte[] AliceKey = Enumerable.Range(40, 32).Select(i => (byte)i).ToArray();

    public string Suffix { get; }

    public string Root { get; }

    public MoveTablesEnvironment Env { get; }

    /// <summary>The test's private task hub on Azurite; set by <see cref="StartWorkerAsync"/>.</summary>
    public TaskHub Hub => _hub ?? throw new InvalidOperationException("StartWorkerAsync first: the task hub is created with the worker.");

    public DurableHubClient Client => Hub.Client;

    public async Task InitAsync()
    {
        await TopologyAdmin.RegisterLocalClusterAsync(LocalCluster.Current.Path, LocalCluster.Current.EtcdEndpoints, Root);
    }

    public void StartStreamer()
    {
        var supervisor = new StreamerSupervisor(Env.Engine, Env.Etcd, new StreamerOptions { OwnershipRoot = Root + "/global", PollInterval = TimeSpan.FromMilliseconds(100) },
            Environment.GetEnvironmentVariable("DURABLE_TEST_STREAMER_LOG") is { Length: > 0 } log ? new AppendingFileLogger(log) : NullLogger.Instance);
        _streamer = Task.Run(() => supervisor.RunAsync(_streamerStop.Token));
    }

    /// <summary>
    /// Polls the workflow orchestration's published state until <paramref name="until"/> holds; the timeout names what
    /// was awaited, the phase, the error and the last commands.
    /// </summary>
    public async Task<WorkflowState> WaitStateAsync(string instanceId, Func<WorkflowState, bool> until, string what, int seconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        WorkflowState? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await Client.GetInstanceAsync(instanceId, getInputsAndOutputs: true))?.ReadCustomStatusAs<WorkflowState>();
            if (last is not null && until(last))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Never reached: {what}. Phase {last?.Phase}, error {last?.LastError}, last commands: {string.Join(" | ", last?.Commands.TakeLast(3).Select(c => c.Action + ":" + c.State + ":" + c.Message) ?? [])}");
    }

    /// <summary>Stops the in-process Streamer: its streams stay Running in the sidecar, but nothing applies them (a stalled stream).</summary>
    public async Task StopStreamerAsync()
    {
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

            _streamer = null;
        }
    }

    /// <param name="operations">The activities' operations; null: the bed's real ones (<see cref="MoveTablesEnvironment.Operations"/>).</param>
    public Task StartWorkerAsync(IMoveTablesOperations? operations = null)
    {
        var services = operations is null ? _engine : TestServices.With(operations);
        return StartWorkerAsync(MoveTablesOrchestration.Register, services);
    }

    /// <summary>Starts the bed's task hub with the orchestrations <paramref name="register"/> adds; activities resolve from <paramref name="services"/> (default: the bed's engine).</summary>
    public async Task StartWorkerAsync(Action<DurableTaskRegistry> register, IServiceProvider? services = null)
    {
        var registry = new DurableTaskRegistry();
        register(registry);
        _hub = await TestTaskHub.StartAsync(registry, services ?? _engine,
            tune: s => { s.MaxConcurrentTaskActivityWorkItems = 4; s.MaxConcurrentTaskOrchestrationWorkItems = 4; });
    }

    public static MySqlConnectionOptions Account(string role, int uid, string? db)
    {
        var cluster = LocalCluster.Current;
        var t = cluster.Tablet(uid);
        var (user, password) = cluster.Account(role);
        return new MySqlConnectionOptions { Host = t.Host, Port = t.Port, User = user, Password = password, Database = db, SslMode = SslMode.Disabled };
    }

    public static async Task ExecAsync(string role, int uid, string db, params string[] sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Account(role, uid, db));
        foreach (var s in sql)
        {
            await c.ExecuteAsync(s);
        }
    }

    public static async Task<string?> ScalarAsync(string role, int uid, string db, string sql)
    {
        await using var c = await MySqlConnection.OpenAsync(Account(role, uid, db));
        return await c.QueryScalarAsync(sql);
    }

    /// <summary>Remembers a table to drop (on any tablet's primary) when the test ends.</summary>
    public void DropLater(int uid, string db, string table) => _cleanup.Add($"{uid}\n{db}\n{table}");

    public async ValueTask DisposeAsync()
    {
        if (_hub is not null)
        {
            await _hub.DisposeAndDeleteAsync();
        }

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

        foreach (var entry in _cleanup)
        {
            var parts = entry.Split('\n');
            await ExecAsync("dba", int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), parts[1], $"DROP TABLE IF EXISTS `{parts[2]}`");
        }

        foreach (var uid in new[] { 100, 200, 300, 400 })
        {
            await ExecAsync("dba", uid, "mysql", $"DROP DATABASE IF EXISTS `{Env.Options.SidecarName}`");
        }

        await Env.Etcd.DeleteAsync(Root + "/", prefix: true);
        await _engine.DisposeAsync();
    }
}

/// <summary>The in-process Streamer's log, appended to a file when DURABLE_TEST_STREAMER_LOG names one (diagnosing a stuck stream).</summary>
internal sealed class AppendingFileLogger(string path) : Microsoft.Extensions.Logging.ILogger
{
    private static readonly object Gate = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Gate)
        {
            File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}\n");
        }
    }
}
