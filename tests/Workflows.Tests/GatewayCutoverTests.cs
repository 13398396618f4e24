using System.Diagnostics;
using Durable.Testing;
using Xunit.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// The issue-20 acceptance: applications that talk only to gateways see a switch as a pause, not an error. Two gateway
/// processes on the bed's topology, a load of autocommit writes, short transactions and reads spread over both, and
/// SwitchTraffic/ReverseTraffic cycling underneath; then the same with one gateway killed (SIGKILL) in the middle of a
/// switch. Every acknowledged write must be on the side that serves writes, no transaction the gateway rolled back may
/// have left its row, and the only error clients may see is the documented one for a transaction open across a switch.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GatewayCutoverTests(ITestOutputHelper output)
{
    private const int Cycles = 10;

    /// <summary>A switch with a dead gateway: the ack bound plus a switch's own time, with headroom for a loaded CI machine.</summary>
    private static readonly TimeSpan SwitchBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Writes_and_reads_through_two_gateways_see_no_error_across_ten_switch_and_reverse_cycles()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("gwload", "customer");
        await using var _ = bed;
        var client = ("gwclient", Convert.ToHexString(Guid.NewGuid().ToByteArray()));
        var backend = LocalCluster.Current.Account("app");
        await using var gw1 = await GatewayProcess.StartAsync("gw1-" + bed.Suffix, bed.Root, backend, client);
        await using var gw2 = await GatewayProcess.StartAsync("gw2-" + bed.Suffix, bed.Root, backend, client);
        await using var load = new GatewayLoad(table, firstId: 1_000_000);
        load.Start([gw1.MySqlPort, gw2.MySqlPort], client.Item1, client.Item2, workersPerGateway: 3);
        await load.WaitForAckedAsync(30, TimeSpan.FromSeconds(60));

        var ops = bed.Env.Operations;
        var clock = Stopwatch.StartNew();
        for (var cycle = 1; cycle <= Cycles; cycle++)
        {
            foreach (var reverse in new[] { false, true })
            {
                var before = load.Acked.Count;
                var started = clock.Elapsed;
                var result = await ops.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TimeoutSeconds = 30 }, reverse, $"gw{cycle}{(reverse ? "r" : "s")}"), default);
                Assert.True(result.Ok, $"cycle {cycle} {(reverse ? "ReverseTraffic" : "SwitchTraffic")}: {result.Message}");
                state = state with { Traffic = result.Traffic, Streams = result.Streams, ReverseStreams = result.ReverseStreams };
                output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s cycle {cycle} {(reverse ? "reverse" : "switch ")}: {(clock.Elapsed - started).TotalMilliseconds:0} ms, writes refused {result.WindowMs:0} ms, acked {before}->{load.Acked.Count}, in-flight rollbacks {load.RolledBack.Count}");
                // The application keeps going after each switch, on the new routing.
                await load.WaitForAckedAsync(load.Acked.Count + 10, TimeSpan.FromSeconds(30));
            }
        }

        await load.StopAsync();
        output.WriteLine($"{load.Statements} statements, {load.Acked.Count} acknowledged writes, {load.RolledBack.Count} in-flight transactions rolled back");
        Assert.True(load.Errors.IsEmpty, "clients saw errors: " + string.Join(" | ", load.Errors.Take(10).Select(e => $"{e.Port}: {e.Error}")));
        Assert.Empty(load.Unknown);

        // Ten cycles end where they began: writes go to commerce; every acknowledged row is there, no rolled-back one is.
        Assert.False(state.Traffic.Primary);
        await AssertRowsAsync(100, "vt_commerce", table, load.Acked, load.RolledBack);
    }

    [Fact]
    public async Task A_gateway_killed_mid_switch_neither_blocks_the_switch_past_its_bound_nor_costs_the_other_gateways_clients_an_error()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("gwkill", "customer");
        await using var _ = bed;
        var client = ("gwclient", Convert.ToHexString(Guid.NewGuid().ToByteArray()));
        var backend = LocalCluster.Current.Account("app");
        await using var doomed = await GatewayProcess.StartAsync("gwdoomed-" + bed.Suffix, bed.Root, backend, client);
        await using var survivor = await GatewayProcess.StartAsync("gwsurvivor-" + bed.Suffix, bed.Root, backend, client);
        await using var load = new GatewayLoad(table, firstId: 2_000_000);
        load.Start([doomed.MySqlPort, survivor.MySqlPort], client.Item1, client.Item2, workersPerGateway: 3);
        await load.WaitForAckedAsync(30, TimeSpan.FromSeconds(60));

        // The kill lands inside the switch: once its record of intent is written (the hold is announced right after).
        var ops = bed.Env.Operations;
        var clock = Stopwatch.StartNew();
        var switching = ops.SwitchAsync(new SwitchRequest(state, new SwitchOptions { TimeoutSeconds = 30 }, false, "gwkill"), default);
        while (!switching.IsCompleted && await bed.Env.Registry.GetJournalAsync(state.Spec.TargetKeyspace, state.Spec.Workflow, default) is null)
        {
            await Task.Delay(2);
        }

        await doomed.KillAsync();
        output.WriteLine($"{clock.Elapsed.TotalMilliseconds:0} ms: gateway {doomed.Name} killed (switch {(switching.IsCompleted ? "already ended" : "running")})");
        var result = await switching.WaitAsync(SwitchBound);
        output.WriteLine($"{clock.Elapsed.TotalMilliseconds:0} ms: switch ended: {result.Ok} {result.Message.Split('\n')[0]}");
        state = state with { Traffic = result.Traffic, Streams = result.Streams, ReverseStreams = result.ReverseStreams };

        // The survivor's clients carry on, on the routing the switch left.
        await load.WaitForAckedAsync(load.Acked.Count + 20, TimeSpan.FromSeconds(30));
        await load.StopAsync();
        var survivorErrors = load.Errors.Where(e => e.Port == survivor.MySqlPort).ToList();
        Assert.True(survivorErrors.Count == 0, "the surviving gateway's clients saw errors: " + string.Join(" | ", survivorErrors.Take(10).Select(e => e.Error)));

        var (uid, db) = state.Traffic.Primary ? (200, "vt_customer") : (100, "vt_commerce");
        await AssertRowsAsync(uid, db, table, load.Acked, load.RolledBack);
    }

    /// <summary>Every acknowledged id is in the table on the side that serves writes, and no id of a rolled-back transaction is.</summary>
    private static async Task AssertRowsAsync(int uid, string db, string table, IEnumerable<long> acked, IEnumerable<long> rolledBack)
    {
        var present = new HashSet<long>();
        await using var connection = await Durable.MySql.MySqlConnection.OpenAsync(ClusterBed.Account("dba", uid, db));
        await using (var reader = await connection.QueryAsync($"SELECT customer_id FROM `{table}`"))
        {
            while (await reader.ReadAsync())
            {
                present.Add(reader.GetInt64(0));
            }
        }

        var lost = acked.Where(id => !present.Contains(id)).Order().ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged writes are missing from {db}.{table}: {string.Join(", ", lost.Take(20))}");
        var phantom = rolledBack.Where(present.Contains).Order().ToList();
        Assert.True(phantom.Count == 0, $"{phantom.Count} rolled-back transactions left rows in {db}.{table}: {string.Join(", ", phantom.Take(20))}");
    }
}
