// Usage: Durable.Replication.TestHost copy <targetKeyspace> <targetShard> <streamId> <maxRows>
//        Durable.Replication.TestHost create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <table>[,<table>...] [--defer-secondary-keys]
//        (prints the stream id; used by bench/benchmarks/replication-copy.sh)
//        Durable.Replication.TestHost create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <table>[,...] <position>
//        (a stream over target tables that already hold the source's rows as of <position>, e.g. MariaDB/0-11-42,
//        started Running without a copy; used by bench/benchmarks/replication-catchup.sh)
//        Durable.Replication.TestHost worker <taskHub>
//        (a durable worker host on the Azure Storage hub (AzureWebJobsStorage) running the replication activities and
//        orchestrators, as the Functions host does, until it is killed; used by the host crash tests)
// Settings come from the same variables the Streamer reads (Streamer__EtcdEndpoints, __TopologyRoot, __Sidecar,
// __User, __Password, __TabletsFile). Exit code 0 when the copy is done; a fault point kills the process (SIGKILL).
using System.Globalization;
using System.Text.Json;
using Durable.DurableTask;
using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.Worker;
using Durable.Orchestrations;
using Durable.Replication;
using Durable.Topology;
using Durable.Topology.Etcd;

// Options (create only): --defer-secondary-keys.
var deferSecondaryKeys = args.Contains("--defer-secondary-keys");
args = args.Where(a => a != "--defer-secondary-keys").ToArray();
var valid = args.Length > 0 && args[0] switch
{
    "copy" => args.Length is 5 or 6,
    "create" => args.Length is 6 or 7,
    "worker" => args.Length == 2,
    _ => false,
};
if (!valid)
{
    Console.Error.WriteLine("usage: copy <targetKeyspace> <targetShard> <streamId> <maxRows> [<commitRows>] | create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <tables> [<position>] | worker <taskHub>");
    return 2;
}

string Setting(string name) => Environment.GetEnvironmentVariable("Streamer__" + name)
    ?? throw new InvalidOperationException($"Environment variable Streamer__{name} is not set.");

using var etcd = new EtcdClient(Setting("EtcdEndpoints"));
var store = new TopologyStore(etcd, new TopologyOptions { Root = Setting("TopologyRoot") });
var tablets = JsonSerializer.Deserialize<List<TabletEndpoint>>(File.ReadAllText(Setting("TabletsFile")), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
var connector = new TabletConnector(new StaticTabletResolver(tablets), new ReplicationCredentials(Setting("User"), Setting("Password")));
var engine = new ReplicationEngine(connector, new EtcdServerIdSource(store), new ReplicationEngineOptions { SidecarName = Setting("Sidecar") });
if (args[0] == "create")
{
    var target = await connector.Resolver.PrimaryAsync(args[3], args[4], CancellationToken.None);
    var created = await engine.CreateStreamAsync(new StreamSpec
    {
        Workflow = args[1],
        SourceKeyspace = args[2],
        SourceShard = "0",
        TargetKeyspace = args[3],
        TargetShard = args[4],
        TargetDb = target.DbName,
        Filter = new StreamFilter(args[5].Split(',').Select(t => new TableRule(t)).ToList()),
        Position = args.Length == 7 ? Durable.Core.Positions.GtidPosition.Decode(args[6]) : null,
        Options = new StreamOptions { DeferSecondaryKeys = deferSecondaryKeys },
    }, new PreflightOptions { AllowNonEmptyTargetTables = args.Length == 7 });
    if (args.Length == 7)
    {
        await engine.StartStreamAsync(args[3], args[4], created);
    }

    Console.WriteLine(created);
    return 0;
}

if (args[0] == "worker")
{
    // Short leases and visibility timeouts so a killed host's partition and in-flight activity come back in seconds.
    await using var service = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
    {
        StorageConnectionString = Environment.GetEnvironmentVariable("AzureWebJobsStorage")
            ?? throw new InvalidOperationException("Environment variable AzureWebJobsStorage is not set."),
        TaskHubName = args[1],
        PartitionCount = 1,
        LeaseInterval = TimeSpan.FromSeconds(15),
        LeaseRenewInterval = TimeSpan.FromSeconds(3),
        ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(10),
        WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(10),
        MaxQueuePollingInterval = TimeSpan.FromMilliseconds(500),
    });
    var registry = ReplicationRegistration.AddReplication(new DurableTaskRegistry(), engine);
    await using var worker = new DurableTaskWorker(service, registry, new DurableTaskWorkerOptions
    {
        MaxConcurrentActivities = 4,
        MaxConcurrentOrchestrations = 4,
        ActivityRenewInterval = TimeSpan.FromSeconds(3),
    });
    await worker.StartAsync();
    Console.WriteLine($"worker ready on hub {args[1]}");
    await Task.Delay(Timeout.Infinite);
    return 0;
}

var id = long.Parse(args[3], CultureInfo.InvariantCulture);
var budget = new CopyBudget { MaxRows = int.Parse(args[4], CultureInfo.InvariantCulture) };
if (args.Length == 6)
{
    budget = budget with { CommitRows = int.Parse(args[5], CultureInfo.InvariantCulture) };
}
var chunks = 0;
var failures = 0;
while (true)
{
    ChunkResult result;
    try
    {
        result = await engine.CopyChunkAsync(args[1], args[2], id, $"testhost-{Environment.ProcessId}", budget);
        failures = 0;
    }
    catch (Exception e) when (TransientFailures.IsTransient(e) && ++failures < 10)
    {
        // As the copy chain's retry policy does: a transient failure (e.g. a stalled binlog on a loaded machine)
        // re-runs the chunk from the sidecar's committed state.
        Console.Error.WriteLine($"chunk failed (attempt {failures}, retrying): {e.Message}");
        await Task.Delay(TimeSpan.FromSeconds(failures));
        continue;
    }

    chunks++;
    if (result.Done)
    {
        Console.WriteLine($"copied in {chunks} chunks; state {result.State}");
        return 0;
    }
}
