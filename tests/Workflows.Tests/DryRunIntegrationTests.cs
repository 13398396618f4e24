namespace Durable.Workflows.Tests;

/// <summary>
/// Each dry run is drawn up from the cluster as it is and walks the steps its command then takes (the same
/// <see cref="SwitchPath"/> / <see cref="CleanupPath"/>), changing nothing; a dry run of a switch the streams would
/// refuse is refused with the command's reason.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DryRunIntegrationTests
{
    private static int At(IReadOnlyList<string> lines, string prefix) => lines.ToList().FindIndex(l => l.StartsWith(prefix, StringComparison.Ordinal));

    [Fact]
    public async Task Each_dry_run_lists_the_steps_its_command_then_takes_and_changes_nothing()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("dry", "customer");
        await using var _ = bed;
        bed.DropLater(100, "vt_commerce", $"_{table}_old");
        var ops = bed.Env.Operations;
        var rules = await bed.Env.Store.GetRoutingRulesAsync();

        // Reads alone: the seeds' lines between the locks.
        var rdonly = new SwitchOptions { TabletTypes = ["RDONLY"], TimeoutSeconds = 30 };
        var dryReads = await ops.DryRunSwitchAsync(state, rdonly, false, default);
        Assert.True(dryReads.Allowed, dryReads.Message);
        Assert.Equal(
        [
            "Lock keyspace commerce", "Lock keyspace customer",
            $"Check that the streams of workflow {state.Spec.Workflow} are Running with lag at most 30s (they serve the switched reads)",
            $"Remove the mirror rules (MirrorTraffic) from tables [{table}] of keyspace commerce to keyspace customer, if any",
            $"Switch reads for tables [{table}] to keyspace customer for tablet types [RDONLY]", $"Routing rules for tables [{table}] will be updated",
            "Unlock keyspace customer", "Unlock keyspace commerce",
        ], dryReads.Lines);
        Assert.Equal(rules.ModRevision, (await bed.Env.Store.GetRoutingRulesAsync()).ModRevision);
        var reads = await ops.SwitchAsync(new SwitchRequest(state, rdonly, false, "reads"), default);
        Assert.True(reads.Ok, reads.Message);
        Assert.Equal(dryReads.Path, reads.Path);
        state = state with { Traffic = reads.Traffic };

        // Writes, with the REPLICA reads in the same flip after the guards; the dry run arms no guard.
        var all = new SwitchOptions { TimeoutSeconds = 30 };
        var dryWrites = await ops.DryRunSwitchAsync(state, all, false, default);
        Assert.True(dryWrites.Allowed, dryWrites.Message);
        Assert.True(At(dryWrites.Lines, "Arm write guards") < At(dryWrites.Lines, $"Switch reads for tables [{table}] to keyspace customer for tablet types [REPLICA], with the writes"),
            string.Join("\n", dryWrites.Lines));
        Assert.Equal("0", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce",
            $"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'vt_commerce' AND EVENT_OBJECT_TABLE = '{table}'"));
        var writes = await ops.SwitchAsync(new SwitchRequest(state, all, false, "writes"), default);
        Assert.True(writes.Ok, writes.Message);
        Assert.Equal(dryWrites.Path, writes.Path);
        state = state with { Traffic = writes.Traffic, Streams = writes.Streams, ReverseStreams = writes.ReverseStreams };

        // Complete: the source table would be renamed, and is still there after the dry run; then the same steps for real.
        var cleanup = new CleanupOptions { RenameTables = true };
        var dryComplete = await ops.DryRunCleanupAsync(CleanupCommand.Complete, new CleanupRequest(state, cleanup), default);
        Assert.Contains($"Rename the tables [{table}] in keyspace commerce to _<table>_old", dryComplete.Lines);
        Assert.Equal("1", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce",
            $"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = '{table}'"));
        var completed = await ops.Cleanup.CompleteAsync(new CleanupRequest(state, cleanup), default);
        Assert.Equal(dryComplete.Path, completed);
        Assert.Equal("1", await ClusterBed.ScalarAsync("dba", 100, "vt_commerce",
            $"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = '_{table}_old'"));
    }

    [Fact]
    public async Task A_dry_run_is_refused_where_its_command_would_be_and_cancel_lists_the_tables_it_would_drop()
    {
        var (bed, state, table) = await RecoveryIntegrationTests.RunningWorkflowAsync("dryref", "customer");
        await using var _ = bed;
        var ops = bed.Env.Operations;
        foreach (var s in state.Streams)
        {
            await bed.Env.Engine.StopStreamAsync(s.Keyspace, s.Shard, s.Id, "the Streamer is down");
        }

        var options = new SwitchOptions { TimeoutSeconds = 5 };
        var dry = await ops.DryRunSwitchAsync(state, options, false, default);
        var real = await ops.SwitchAsync(new SwitchRequest(state, options, false, "refused"), default);
        Assert.False(dry.Allowed);
        Assert.False(real.Ok);
        Assert.Contains("not all Running", dry.Message);
        Assert.Equal(real.Message, dry.Message);
        Assert.Equal(real.Path, dry.Path);
        Assert.Contains(dry.Lines, l => l.Contains("REFUSED", StringComparison.Ordinal));

        var dryCancel = await ops.DryRunCleanupAsync(CleanupCommand.Cancel, new CleanupRequest(state, new CleanupOptions()), default);
        Assert.Contains($"Drop the tables [{table}] in keyspace customer", dryCancel.Lines);
        Assert.Equal("1", await ClusterBed.ScalarAsync("dba", 200, "vt_customer",
            $"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_customer' AND TABLE_NAME = '{table}'"));
        var cancelled = await ops.Cleanup.CancelAsync(new CleanupRequest(state, new CleanupOptions()), default);
        Assert.Equal(dryCancel.Path, cancelled);
        Assert.Equal("0", await ClusterBed.ScalarAsync("dba", 200, "vt_customer",
            $"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_customer' AND TABLE_NAME = '{table}'"));
    }
}
