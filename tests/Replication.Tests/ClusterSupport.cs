using System.Globalization;
using Durable.MySql;
using Durable.Testing;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.Replication.Tests;

/// <summary>
/// One test's own corner of the shared cluster: unique source/target database names, a unique sidecar name (so no
/// other engineer's streams or Streamer meet ours), a unique etcd root, and the engine wired to the "filtered" account.
/// Everything is dropped on dispose.
/// </summary>
public sealed class TestBed : IAsyncDisposable
{
    private readonly List<(int Uid, string Db)> _created = [];

    public TestBed(string name, ReplicationEngineOptions? options = null)
    {
        Suffix = $"{name}_{Environment.ProcessId}_{Guid.NewGuid().ToString("N")[..6]}";
        SourceDb = "rs_" + Suffix;
        TargetDb = "rt_" + Suffix;
        SidecarName = "_vt_" + Suffix;
        EtcdRoot = "/durable-test/" + Suffix;
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("filtered");
        Credentials = new ReplicationCredentials(user, password);
        Resolver = new StaticTabletResolver(cluster.Tablets.Select(t => new TabletEndpoint(
            t.Alias, t.Keyspace, t.Shard, t.Type, t.Host, t.Port, t.Keyspace == "commerce" ? SourceDb : TargetDb)).ToList());
        Connector = new TabletConnector(Resolver, Credentials);
        Etcd = new EtcdConnection(cluster.EtcdEndpoints);
        Topology = new TopologyStore(Etcd, new TopologyOptions { Root = EtcdRoot });
        Engine = new ReplicationEngine(Connector, new EtcdServerIdSource(Topology), (options ?? new ReplicationEngineOptions()) with { SidecarName = SidecarName });
    }

    public string Suffix { get; }

    public string SourceDb { get; }

    public string TargetDb { get; }

    public string SidecarName { get; }

    public string EtcdRoot { get; }

    public ReplicationCredentials Credentials { get; }

    public StaticTabletResolver Resolver { get; }

    public TabletConnector Connector { get; }

    public EtcdConnection Etcd { get; }

    public TopologyStore Topology { get; }

    public ReplicationEngine Engine { get; }

    public static MySqlConnectionOptions Dba(int uid, string? database = null)
    {
        var cluster = LocalCluster.Current;
        var tablet = cluster.Tablet(uid);
        var (user, password) = cluster.Account("dba");
        return new MySqlConnectionOptions { Host = tablet.Host, Port = tablet.Port, User = user, Password = password, Database = database, SslMode = SslMode.Disabled };
    }

    public static Task<MySqlConnection> OpenDbaAsync(int uid, string? database = null) => MySqlConnection.OpenAsync(Dba(uid, database));

    /// <summary>Creates a database this test owns on a server (dropped on dispose, with the sidecar there).</summary>
    public async Task CreateDatabaseAsync(int uid, string db)
    {
        await using var c = await OpenDbaAsync(uid);
        await c.ExecuteAsync($"CREATE DATABASE `{db}`");
        _created.Add((uid, db));
    }

    public async Task ExecAsync(int uid, string db, params string[] statements)
    {
        await using var c = await OpenDbaAsync(uid, db);
        await c.ExecuteAsync("SET SESSION time_zone = '+00:00'");
        foreach (var s in statements)
        {
            await c.ExecuteAsync(s);
        }
    }

    public static async Task<List<string>> DumpAsync(int uid, string db, string table, string columns = "*", string orderBy = "1")
    {
        await using var c = await OpenDbaAsync(uid, db);
        await c.ExecuteAsync("SET SESSION time_zone = '+00:00'");
        var rows = new List<string>();
        await using var r = await c.QueryAsync($"SELECT {columns} FROM `{table}` ORDER BY {orderBy}");
        while (await r.ReadAsync())
        {
            rows.Add(string.Join("|", r.GetRow().Select(v => v.IsNull ? "NULL" : Convert.ToHexString(v.Span))));
        }

        return rows;
    }

    public static async Task<string> ScalarAsync(int uid, string sql)
    {
        await using var c = await OpenDbaAsync(uid);
        return await c.QueryScalarAsync(sql) ?? "";
    }

    public StreamSpec Spec(string workflow, string targetKeyspace, string targetShard, params TableRule[] rules) => new()
    {
        Workflow = workflow,
        SourceKeyspace = "commerce",
        SourceShard = "0",
        TargetKeyspace = targetKeyspace,
        TargetShard = targetShard,
        TargetDb = TargetDb,
        Filter = new StreamFilter(rules),
    };

    /// <summary>Runs copy chunks until the stream's copy is done, as the copy-chain orchestrator does.</summary>
    public async Task<int> CopyAllAsync(string keyspace, string shard, long id, CopyBudget budget, int maxChunks = 10_000)
    {
        for (var chunk = 1; chunk <= maxChunks; chunk++)
        {
            var result = await Engine.CopyChunkAsync(keyspace, shard, id, "test-copier", budget);
            if (result.Done)
            {
                return chunk;
            }
        }

        throw new InvalidOperationException($"The copy did not finish in {maxChunks} chunks.");
    }

    /// <summary>
    /// Runs an in-process Streamer supervisor, makes <paramref name="changes"/> on the source while it runs, and stops
    /// it once the stream has caught up with them.
    /// </summary>
    public async Task ReplicateAsync(string keyspace, string shard, long id, Func<Task> changes, TimeSpan? timeout = null)
    {
        await using var supervisor = new StreamerSupervisor(Engine, Etcd, new StreamerOptions { OwnershipRoot = EtcdRoot }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = supervisor.RunAsync(stop.Token);
        await changes();
        await WaitCaughtUpAsync(keyspace, shard, id, timeout ?? TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await run;
    }

    /// <summary>Waits until the stream's position includes the source primary's current position.</summary>
    public async Task WaitCaughtUpAsync(string keyspace, string shard, long id, TimeSpan timeout)
    {
        var target = Durable.Core.Positions.GtidPosition.Parse(await ScalarAsync(100, "SELECT @@global.gtid_binlog_pos"), Durable.Core.Positions.GtidFlavor.MariaDb);
        var deadline = DateTime.UtcNow + timeout;
        StreamRecord? s = null;
        while (DateTime.UtcNow < deadline)
        {
            s = (await Engine.ListStreamsAsync(keyspace, shard)).Single(x => x.Id == id);
            if (s.Position is not null && s.Position.AtLeast(target))
            {
                return;
            }

            if (s.State == StreamState.Error)
            {
                throw new InvalidOperationException($"Stream {id} went to Error: {s.Message}");
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Stream {id} at {s?.Position} did not reach {target} within {timeout} (state {s?.State}, message {s?.Message}).");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var uid in new[] { 200, 300, 400 })
        {
            try
            {
                await using var c = await OpenDbaAsync(uid);
                await c.ExecuteAsync($"DROP DATABASE IF EXISTS `{SidecarName}`");
                await c.ExecuteAsync($"DROP DATABASE IF EXISTS `{TargetDb}`");
            }
            catch (MySqlException)
            {
            }
        }

        foreach (var (uid, db) in _created)
        {
            try
            {
                await using var c = await OpenDbaAsync(uid);
                await c.ExecuteAsync($"DROP DATABASE IF EXISTS `{db}`");
            }
            catch (MySqlException)
            {
            }
        }

        try
        {
            await Etcd.DeleteAsync(EtcdRoot + "/", prefix: true);
        }
        catch (EtcdException)
        {
        }

        Etcd.Dispose();
    }

    public static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
}
