using Durable.MySql;
using Durable.Replication;
using Durable.Testing;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.VDiff.Tests;

/// <summary>
/// VDiff of a real stream (copied by the replication engine, commerce primary → customer primary) while the source
/// keeps taking writes: the stream is not run by any Streamer here, so the target lags until VDiff's alignment runs
/// it to the source snapshot's position — a clean result proves the two snapshots show the same moment.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AlignmentTests
{
    [Fact]
    public async Task Vdiff_of_a_lagging_stream_under_writes_is_clean_and_leaves_the_stream_running()
    {
        var suffix = $"align_{Environment.ProcessId}_{Guid.NewGuid().ToString("N")[..6]}";
        var sourceDb = "vds_" + suffix;
        var targetDb = "vdt_" + suffix;
        var sidecar = "_vt_vd_" + suffix;
        var etcdRoot = "/durable-test/" + suffix;
        var cluster = LocalCluster.Current;
        var (user, password) = cluster.Account("filtered");
        var resolver = new StaticTabletResolver(cluster.Tablets.Select(t => new TabletEndpoint(
            t.Alias, t.Keyspace, t.Shard, t.Type, t.Host, t.Port, t.Keyspace == "commerce" ? sourceDb : targetDb)).ToList());
        using var etcd = new EtcdConnection(cluster.EtcdEndpoints);
        var topology = new TopologyStore(etcd, new TopologyOptions { Root = etcdRoot });
        var engine = new ReplicationEngine(new TabletConnector(resolver, new ReplicationCredentials(user, password)), new EtcdServerIdSource(topology), new ReplicationEngineOptions { SidecarName = sidecar });
        try
        {
            await using (var s = await PairBed.OpenAsync(PairBed.SourceUid))
            {
                await s.ExecuteAsync($"CREATE DATABASE `{sourceDb}`");
                await s.ExecuteAsync($"CREATE TABLE `{sourceDb}`.items (id INT PRIMARY KEY, name VARCHAR(40) COLLATE utf8mb4_general_ci, n BIGINT)");
                await s.ExecuteAsync($"USE `{sourceDb}`");
                await s.ExecuteAsync("INSERT INTO items SELECT seq, CONCAT('Name', seq), seq * 10 FROM seq_1_to_2000");
            }

            await using (var t = await PairBed.OpenAsync(PairBed.TargetUid))
            {
                await t.ExecuteAsync($"CREATE DATABASE `{targetDb}`");
            }

            var id = await engine.CreateStreamAsync(new StreamSpec
            {
                Workflow = "wf", SourceKeyspace = "commerce", SourceShard = "0", TargetKeyspace = "customer", TargetShard = "0", TargetDb = targetDb,
                Filter = new StreamFilter([new TableRule("items")]),
            });
            while (!(await engine.CopyChunkAsync("customer", "0", id, "test-copier", new CopyBudget { MaxRows = 500 })).Done)
            {
            }

            // Writes the stream has not applied yet, and more while the VDiff runs.
            using var stop = new CancellationTokenSource();
            var writes = Task.Run(async () =>
            {
                await using var w = await PairBed.OpenAsync(PairBed.SourceUid, sourceDb);
                var i = 0;
                while (!stop.IsCancellationRequested)
                {
                    i++;
                    await w.ExecuteAsync($"UPDATE items SET n = n + 1, name = CONCAT('name', id, '-', {i}) WHERE id = {1 + (i * 37 % 2000)}");
                    await w.ExecuteAsync($"INSERT INTO items VALUES ({2000 + i}, 'new{i}', {i})");
                    await w.ExecuteAsync($"DELETE FROM items WHERE id = {1 + (i * 53 % 2000)}");
                    await Task.Delay(5);
                }
            });
            await Task.Delay(500);

            var service = new VDiffService(engine);
            var (uuid, shards) = await service.CreateAsync("wf", "customer", new VDiffOptions { ChunkRows = 300, MaxDiffDuration = TimeSpan.FromSeconds(1), TabletTypes = "PRIMARY" });
            Assert.Equal(["0"], shards);
            var state = await service.RunShardAsync(uuid, "wf", "customer", "0", default);
            await stop.CancelAsync();
            await writes;

            var report = await service.ShowAsync("wf", "customer", "last", verbose: true);
            Assert.NotNull(report);
            Assert.True(state == VDiffStates.Completed, report!.ToJson());
            Assert.False(report.HasMismatch, report.ToJson());
            Assert.True(report.RowsCompared >= 2000, report.ToJson());

            // The alignment parked the stream only briefly and left it Running with no stop position.
            var stream = (await engine.ListStreamsAsync("customer", "0", "wf")).Single();
            Assert.Equal(StreamState.Running, stream.State);
            Assert.Null(stream.StopPosition);

            // A target-side corruption is seen through the same aligned path.
            await using (var t = await PairBed.OpenAsync(PairBed.TargetUid))
            {
                await t.ExecuteAsync($"INSERT INTO `{targetDb}`.items VALUES (900000, 'only on the target', 1)");
            }

            var (second, _) = await service.CreateAsync("wf", "customer", new VDiffOptions { ChunkRows = 300, TabletTypes = "PRIMARY" });
            Assert.Equal(VDiffStates.Completed, await service.RunShardAsync(second, "wf", "customer", "0", default));
            var dirty = await service.ShowAsync("wf", "customer", second, verbose: false);
            Assert.Equal(1, dirty!.TableSummary["items"].ExtraRowsTarget);
            Assert.Equal(0, dirty.TableSummary["items"].MismatchedRows + dirty.TableSummary["items"].ExtraRowsSource);
            Assert.Equal(2, (await service.ShowAllAsync("wf", "customer", false)).Count);
            Assert.Equal(2, await service.DeleteAsync("wf", "customer", "all"));
        }
        finally
        {
            foreach (var (uid, db) in new[] { (PairBed.SourceUid, sourceDb), (PairBed.TargetUid, targetDb), (PairBed.TargetUid, sidecar) })
            {
                try
                {
                    await using var c = await PairBed.OpenAsync(uid);
                    await c.ExecuteAsync($"DROP DATABASE IF EXISTS `{db}`");
                }
                catch (MySqlException)
                {
                }
            }

            try
            {
                await etcd.DeleteAsync(etcdRoot + "/", prefix: true);
            }
            catch (EtcdException)
            {
            }
        }
    }
}
