// Benchmark programs run by bench/run.sh. Each prints its measurement (higher is better) as the last stdout line,
// except replication-copy, the side of bench/benchmarks/replication-copy.sh that the script times.
// Add a benchmark with one line in the table below.
using Durable.Bench.DurableTask;
using Durable.Bench.MySql;

var benchmarks = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.Ordinal)
{
    ["mysql-read"] = MySqlBenchmarks.ReadAsync,
    ["mysql-binlog"] = MySqlBenchmarks.BinlogAsync,
    ["mysql-binlog-anchor"] = MySqlBenchmarks.ReplicaIoThreadAsync,
    ["durable-sequential"] = DurableBenchmarks.SequentialAsync,
    ["durable-fanout"] = DurableBenchmarks.FanOutAsync,
    ["durable-queue-floor"] = DurableBenchmarks.QueueFloorAsync,
    ["durable-idle"] = DurableBenchmarks.IdleAsync,
    ["durable-queue-roundtrip"] = DurableBenchmarks.QueueRoundTripAsync,
    ["durable-event"] = EventLatencyBenchmark.RunAsync,
    ["durable-recovery"] = RecoveryBenchmark.RunAsync,
    // Not benchmarks: the host process durable-event and durable-recovery start (see ProbeHost), and the removal of
    // task hubs an interrupted run left in Azurite.
    ["durable-probe-host"] = ProbeHost.RunAsync,
    ["durable-hub-delete"] = BenchHub.DeleteHubsAsync,
    ["cutover-window"] = Durable.Bench.Cutover.CutoverBenchmark.RunAsync,
    ["cutover-gateway"] = Durable.Bench.Cutover.CutoverBenchmark.RunThroughGatewaysAsync,
    // Not a benchmark: registers a cluster file's keyspaces and tablets under a private topology root (gateway-oltp's
    // private keyspace) without a Functions host.
    ["topology-register"] = Durable.Bench.Gateway.PrivateTopology.RunAsync,
    ["replication-copy"] = Durable.Bench.Replication.ReplicationCopyBenchmark.RunAsync,
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: Durable.Bench NAME [ARGS...]; benchmarks: {string.Join(", ", benchmarks.Keys)}");
    return 2;
}

return await run(args[1..]);
