// Usage: Durable.Replication.TestHost copy <targetKeyspace> <targetShard> <streamId> <maxRows>
//        Durable.Replication.TestHost create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <table>[,<table>...]
//        (prints the stream id; used by bench/benchmarks/replication-copy.sh)
// Settings come from the same variables the Streamer reads (Streamer__EtcdEndpoints, __TopologyRoot, __Sidecar,
// __User, __Password, __TabletsFile). Exit code 0 when the copy is done; a fault point kills the process (SIGKILL).
using System.Globalization;
using System.Text.Json;
using Durable.Replication;
using Durable.Topology;
using Durable.Topology.Etcd;

if (args.Length != 5 && args.Length != 6 || args[0] is not ("copy" or "create") || (args[0] == "create") != (args.Length == 6))
{
    Console.Error.WriteLine("usage: copy <targetKeyspace> <targetShard> <streamId> <maxRows> | create <workflow> <sourceKeyspace> <targetKeyspace> <targetShard> <tables>");
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
    });
    Console.WriteLine(created);
    return 0;
}

var id = long.Parse(args[3], CultureInfo.InvariantCulture);
var budget = new CopyBudget { MaxRows = int.Parse(args[4], CultureInfo.InvariantCulture) };
var chunks = 0;
while (true)
{
    var result = await engine.CopyChunkAsync(args[1], args[2], id, $"testhost-{Environment.ProcessId}", budget);
    chunks++;
    if (result.Done)
    {
        Console.WriteLine($"copied in {chunks} chunks; state {result.State}");
        return 0;
    }
}
