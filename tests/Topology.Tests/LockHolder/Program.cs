using Durable.Topology;
using Durable.Topology.Etcd;

// Usage: Durable.Topology.LockHolder <etcd endpoints> <topology root> <keyspace> <ttl seconds>
// Prints "LOCKED <create revision>" once the lock is held, then keeps it (renewing its lease) until killed.
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: Durable.Topology.LockHolder <etcd endpoints> <topology root> <keyspace> <ttl seconds>");
    return 2;
}

using var etcd = new EtcdConnection(args[0]);
var store = new TopologyStore(etcd, new TopologyOptions { Root = args[1] });
var held = await store.LockKeyspaceAsync(
    args[2], $"lock-holder pid {Environment.ProcessId}", "test: hold until killed", TimeSpan.FromSeconds(int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)));
Console.WriteLine($"LOCKED {held.CreateRevision}");
Console.Out.Flush();
await held.Lost;
Console.WriteLine("LOST");
return 1;
