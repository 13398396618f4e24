using Durable.Topology;

namespace Durable.Bench.Gateway;

/// <summary>
/// <c>topology-register CLUSTER_FILE ETCD_ENDPOINTS ROOT</c>: what <c>durablectl RegisterLocalCluster</c> does through a
/// host, done here directly (the library call the host makes), so a benchmark can give a private gateway a private
/// keyspace without starting a Functions host.
/// </summary>
public static class PrivateTopology
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 3 || !args[2].StartsWith('/'))
        {
            Console.Error.WriteLine($"usage: topology-register CLUSTER_FILE ETCD_ENDPOINTS ROOT (ROOT an absolute etcd prefix such as /durable-bench/x); got: {string.Join(' ', args)}");
            return 2;
        }

        foreach (var line in await TopologyAdmin.RegisterLocalClusterAsync(args[0], args[1], args[2]))
        {
            Console.Error.WriteLine(line);
        }

        return 0;
    }
}
