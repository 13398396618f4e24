using Durable.Activities.Replication;
using Durable.DurableTask;
using Durable.DurableTask.AzureStorage;
using Durable.DurableTask.Client;
using Durable.Orchestrations;
using Durable.Testing;

namespace Durable.Replication.Tests;

/// <summary>
/// The copy as it runs in a host: the replication orchestrators and activities in a real worker process
/// (tests/Replication.TestHost worker) on its own Azure Storage task hub (Azurite). The process is killed at each named
/// fault point of the activities, of the engine steps they run (copy, catch-up, fast-forward, finish) and of the
/// durable dispatch path, a fresh host is started, and the orchestration must complete with the target equal to the
/// source row by row — no row lost, none duplicated — while a load writes throughout.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HostCrashTests
{
    [Theory]
    [InlineData("activity.start-stream.finished@1")]
    [InlineData("activity.copy-chunk.started@2")]
    [InlineData("activity.copy-chunk.finished@3")]
    [InlineData("copy.chunk.rows-written@2")]
    [InlineData("copy.chunk.after-commit@2")]
    [InlineData("copy.catchup.after-commit@1")]
    [InlineData("copy.fastforward.after-commit@1")]
    [InlineData("copy.finish.before-commit@1")]
    [InlineData("durable.activity.after-run@3")]
    [InlineData("durable.orchestration.after-commit@4")]
    public async Task Host_killed_at_a_fault_point_of_the_copy_and_restarted_loses_and_duplicates_nothing(string faultPoint)
    {
        await using var bed = new TestBed("hostcrash");
        await bed.CreateDatabaseAsync(100, bed.SourceDb);
        await bed.ExecAsync(100, bed.SourceDb,
            "CREATE TABLE items (id INT PRIMARY KEY, uk INT NULL, v VARCHAR(60), n BIGINT, UNIQUE KEY uk (uk))",
            "INSERT INTO items SELECT seq, seq, CONCAT('v', seq), seq * 10 FROM seq_1_to_3000");
        var id = await bed.Engine.CreateStreamAsync(bed.Spec("wf", "customer", "0", new TableRule("items")));
        var stream = new StreamRef("customer", "0", id);

        var hubName = "Rh" + Guid.NewGuid().ToString("N")[..16];
        await using var hub = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            StorageConnectionString = LocalCluster.Current.AzureStorageConnectionString,
            TaskHubName = hubName,
            PartitionCount = 1,
        });
        await hub.CreateIfNotExistsAsync();
        using var stopLoad = new CancellationTokenSource();
        var load = Workload.RunAsync(bed.SourceDb, "items", 5000, stopLoad.Token);
        try
        {
            var client = new DurableTaskClient(hub) { MaxPollingInterval = TimeSpan.FromMilliseconds(200) };
            var instance = await client.ScheduleNewOrchestrationInstanceAsync(CopyFanOutOrchestrator.Name,
                new CopyFanOutInput([stream], new CopyChunkInput(stream, MaxRows: 300), ChunksPerGeneration: 3), new StartOrchestrationOptions("copy-" + bed.Suffix));

            await using (var crashing = ChildProcess.WorkerHost(bed, hubName, faultPoint))
            {
                int code;
                try
                {
                    code = await crashing.WaitForExitAsync(TimeSpan.FromSeconds(150));
                }
                catch (TimeoutException e)
                {
                    // Points such as copy.fastforward are reached only if the source changes between chunks: say
                    // whether the write load was still running and where the copy and the orchestration were.
                    var copied = await TestBed.ScalarAsync(200, $"SELECT CONCAT(state, ' ', rows_copied) FROM `{bed.SidecarName}`.vreplication WHERE id = {id}");
                    var status = (await client.GetInstanceAsync(instance, false))?.RuntimeStatus;
                    throw new TimeoutException($"{e.Message}\nwrite load: {(load.IsCompleted ? $"ended ({load.Status}: {load.Exception?.GetBaseException().Message})" : "running")}; stream: {copied}; orchestration: {status}", e);
                }

                Assert.True(code != 0 && crashing.Output.Contains($"fault point '{faultPoint.Split('@')[0]}' reached", StringComparison.Ordinal),
                    $"the host should have been killed at {faultPoint}; exit {code}, output:\n{crashing.Output}");
            }

            var atKill = await client.GetInstanceAsync(instance, false);
            Assert.NotEqual(OrchestrationRuntimeStatus.Completed, atKill?.RuntimeStatus);

            await using (var restarted = ChildProcess.WorkerHost(bed, hubName))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
                OrchestrationMetadata done;
                try
                {
                    done = await client.WaitForInstanceCompletionAsync(instance, getInputsAndOutputs: true, timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"the copy did not complete after the restart; host output:\n{restarted.Output}");
                }

                Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{done.RuntimeStatus}: {done.FailureDetails?.ErrorMessage}\n{restarted.Output}");
                var result = done.ReadOutputAs<CopyFanOutResult>()!;
                Assert.Equal("Running", Assert.Single(result.Streams).FinalState);
            }
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
            await hub.DeleteAsync();
        }

        await CrashTests.FinishAndCompareAsync(bed, id);
    }
}
