// Usage: Durable.Replication.TestHost copy <targetKeyspace> <targetShard> <streamId> <maxRows>
// Settings come from the same variables the Streamer reads (Streamer__EtcdEndpoints, __TopologyRoot, __Sidecar,
// __User, __Password, __TabletsFile). Exit code 0 when the copy is done; a fault point kills the process (SIGKILL).
using System.Globalization;
using System.Text.Json;
using Durable.Replication;
using Durable.Topology;
using Durable.Topology.Etcd;

if (args.Length != 5 || args[0] != "copy")
{
    Console.Error.WriteLine("usage: copy <targetKeyspace> <targetShard> <streamId> <maxRows>");
    return 2;
}

string Setting(string name) => Environment.GetEnvironmentVariable("Streamer__" + name)
    ?? throw new InvalidOperationException($"Environment variable Streamer__{name} is not set.");

using var etcd = new EtcdClient(Setting("EtcdEndpoints"));
var store = new TopologyStore(etcd, new TopologyOptions { Root = Setting("TopologyRoot") });
var tablets = JsonSerializer.Deserialize<List<TabletEndpoint>>(File.ReadAllText(Setting("TabletsFile")), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
var connector = new TabletConnector(new StaticTabletResolver(tablets), new ReplicationCredentials(Setting("User"), Setting("Password")));
var engine = new ReplicationEngine(connector, new EtcdServerIdSource(store), new ReplicationEngineOptions { SidecarName = Setting("Sidecar") });
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
