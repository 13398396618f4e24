using System.Runtime.CompilerServices;

namespace Durable.Workflows.Tests;

/// <summary>
/// The switch's steps are walked by one path (<see cref="SwitchPath"/>) for the real command and its dry run: the
/// dry run's lines follow the switch's order, reads that move with writes move in the writes' flip (not before the
/// checks, as the old separate plan printed), and the path's decisions (refusals, rollbacks, the commit point) are
/// the ones the real switcher is held to.
/// </summary>
public sealed class SwitchPathTests
{
    private static WorkflowState Running(TrafficState? traffic = null, int hooks = 0) => new()
    {
        Spec = new MoveTablesCreate
        {
            Workflow = "w", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer"],
            CutoverHooks = [.. Enumerable.Range(0, hooks).Select(i => new CutoverHook { Url = $"http://hook{i}.example/" })],
        },
        Tables = ["customer"],
        Phase = Phases.Running,
        Copy = [new TableProgress("customer", 5, 5, true)],
        Traffic = traffic ?? new TrafficState(),
        Streams = [new StreamRef("customer", "0", 1, "0")],
        ReverseStreams = traffic?.Primary == true ? [new StreamRef("commerce", "0", 1, "0")] : [],
    };

    private static async Task<(SwitchResult Result, IReadOnlyList<string> Lines)> DryAsync(WorkflowState state, SwitchOptions options, bool reverse = false)
    {
        var scope = SwitchScope.Of(state, options, reverse);
        var dry = new SwitchDryRun(state, options, reverse, scope, TimeSpan.FromSeconds(1));
        var result = await SwitchPath.RunAsync(dry, scope, options, default);
        return (result, dry.Lines);
    }

    [Fact]
    public async Task A_read_switch_dry_run_prints_the_seeds_lines_after_the_check_of_the_streams_that_serve_the_reads()
    {
        var (result, lines) = await DryAsync(Running(), new SwitchOptions { TabletTypes = ["rdonly"] });
        Assert.True(result.Ok);
        Assert.Equal(
        [
            "Check that the streams of workflow w are Running with lag at most 30s (they serve the switched reads)",
            "Remove the mirror rules (MirrorTraffic) from tables [customer] of keyspace commerce to keyspace customer, if any",
            "Switch reads for tables [customer] to keyspace customer for tablet types [RDONLY]",
            "Routing rules for tables [customer] will be updated",
        ], lines);
        Assert.Equal([nameof(ISwitcher.CheckReadStreamsAsync), nameof(ISwitcher.RemoveMirrorRulesAsync), nameof(ISwitcher.SwitchReadsAsync)], result.Path); // no gateway hold for reads

        // Reads moved back to where writes are need no stream: no check line.
        var (back, backLines) = await DryAsync(Running(new TrafficState { Rdonly = true }), new SwitchOptions { TabletTypes = ["rdonly"] }, reverse: true);
        Assert.True(back.Ok);
        Assert.Equal(["Switch reads for tables [customer] to keyspace commerce for tablet types [RDONLY]", "Routing rules for tables [customer] will be updated"], backLines);
    }

    [Fact]
    public async Task Reads_that_move_with_writes_move_in_the_writes_flip_after_the_guards()
    {
        var (result, lines) = await DryAsync(Running(), new SwitchOptions());
        Assert.True(result.Ok);
        var order = new[]
        {
            "Check that the lag of workflow w", "Check that reverse replication workflow w_reverse can be created", "Wait until the streams of workflow w follow",
            "Remove the mirror rules (MirrorTraffic)", "Record the switch in the workflow's journal", "Remove the frozen streams of an earlier reverse workflow w_reverse",
            "Tell the gateways to hold new statements on tables [customer] and wait up to 2s", "Arm write guards", "Drain in-flight writes",
            "Read the final position", "Wait up to", "Stop the streams of workflow w", "Create reverse replication workflow w_reverse",
            "Switch reads for tables [customer] to keyspace customer for tablet types [", "Switch writes", "Commit the switch",
            "Lift write guards on tables [customer] in keyspace customer", "End the gateways' hold", "Start the streams of workflow w_reverse", "Freeze the streams of workflow w",
        };
        var positions = order.Select(o => lines.ToList().FindIndex(l => l.StartsWith(o, StringComparison.Ordinal))).ToList();
        Assert.DoesNotContain(-1, positions);
        Assert.Equal(positions.Order(), positions);
        Assert.Equal(order.Length, lines.Count);
        Assert.Single(lines, l => l.StartsWith("Switch reads", StringComparison.Ordinal) && l.EndsWith("], with the writes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_reverse_replication_or_hooks_those_steps_are_not_taken_and_with_hooks_they_are()
    {
        var (plain, plainLines) = await DryAsync(Running(), new SwitchOptions { TabletTypes = ["PRIMARY"], EnableReverseReplication = false });
        Assert.DoesNotContain(nameof(ISwitcher.CheckReverseWorkflowAsync), plain.Path!);
        Assert.DoesNotContain(nameof(ISwitcher.CreateReverseStreamsAsync), plain.Path!);
        Assert.DoesNotContain(nameof(ISwitcher.CallHooksAsync), plain.Path!);
        Assert.DoesNotContain(plainLines, l => l.Contains("w_reverse", StringComparison.Ordinal));

        var (hooked, hookedLines) = await DryAsync(Running(hooks: 2), new SwitchOptions { TabletTypes = ["PRIMARY"] });
        Assert.Contains(nameof(ISwitcher.CallHooksAsync), hooked.Path!);
        Assert.Contains("Call 2 cutover hook(s) with the new routing; a failure rolls the switch back", hookedLines);
    }

    [Fact]
    public async Task The_path_taken_is_the_steps_the_switcher_was_asked_to_take()
    {
        var state = Running(hooks: 1);
        var options = new SwitchOptions();
        var scope = SwitchScope.Of(state, options, reverse: false);
        var scripted = new ScriptedSwitcher();
        var result = await SwitchPath.RunAsync(scripted, scope, options, default);
        Assert.True(result.Ok);
        Assert.Equal(scripted.Calls, result.Path);
        var hold = result.Path!.ToList().IndexOf(nameof(ISwitcher.HoldTrafficAsync));
        Assert.True(hold > result.Path!.ToList().IndexOf(nameof(ISwitcher.RecordIntentAsync)));
        Assert.Equal(nameof(ISwitcher.ArmGuardsAsync), result.Path![hold + 1]);
        var (dry, _) = await DryAsync(state, options);
        Assert.Equal(dry.Path, result.Path);
    }

    [Fact]
    public async Task A_refusal_changes_nothing_a_late_stream_or_failed_hook_rolls_back_and_after_the_commit_it_only_goes_forward()
    {
        var state = Running(hooks: 1);
        var options = new SwitchOptions();
        var scope = SwitchScope.Of(state, options, reverse: false);

        var refused = new ScriptedSwitcher { Refuse = nameof(ISwitcher.CheckStreamsAsync) };
        var r1 = await SwitchPath.RunAsync(refused, scope, options, default);
        Assert.False(r1.Ok);
        Assert.Equal([nameof(ISwitcher.CheckStreamsAsync)], refused.Calls);
        Assert.Contains("no write was refused and nothing was changed", r1.Message);

        var late = new ScriptedSwitcher { Refuse = nameof(ISwitcher.WaitForStreamsAsync) };
        var r2 = await SwitchPath.RunAsync(late, scope, options, default);
        Assert.False(r2.Ok);
        Assert.Equal(nameof(ISwitcher.RollbackAsync), late.Calls[^1]);
        Assert.DoesNotContain(nameof(ISwitcher.StopInboundAsync), late.Calls);

        var hook = new ScriptedSwitcher { Refuse = nameof(ISwitcher.CallHooksAsync) };
        var r3 = await SwitchPath.RunAsync(hook, scope, options, default);
        Assert.Contains("cutover hook failed", r3.Message);
        Assert.Equal(nameof(ISwitcher.RollbackAsync), hook.Calls[^1]);

        var crashBefore = new ScriptedSwitcher { Throw = nameof(ISwitcher.DrainAsync) };
        var r4 = await SwitchPath.RunAsync(crashBefore, scope, options, default);
        Assert.False(r4.Ok);
        Assert.Equal(nameof(ISwitcher.RollbackAsync), crashBefore.Calls[^1]);

        var crashAfter = new ScriptedSwitcher { Throw = nameof(ISwitcher.FinishAsync) };
        await Assert.ThrowsAsync<InvalidOperationException>(() => SwitchPath.RunAsync(crashAfter, scope, options, default));
        Assert.DoesNotContain(nameof(ISwitcher.RollbackAsync), crashAfter.Calls);

        var leaseLost = new ScriptedSwitcher { Throw = nameof(ISwitcher.ArmGuardsAsync), Lost = true };
        await Assert.ThrowsAsync<SwitchLeaseLostException>(() => SwitchPath.RunAsync(leaseLost, scope, options, default));
        Assert.DoesNotContain(nameof(ISwitcher.RollbackAsync), leaseLost.Calls);
    }

    [Fact]
    public async Task Initialize_target_sequences_runs_after_the_inbound_streams_stop_and_before_the_rules_flip_on_a_forward_write_switch_only()
    {
        var options = new SwitchOptions { InitializeTargetSequences = true };
        var (forward, lines) = await DryAsync(Running(), options);
        Assert.True(forward.Ok);
        var path = forward.Path!.ToList();
        var step = path.IndexOf(nameof(ISwitcher.InitializeSequencesAsync));
        Assert.True(step > path.IndexOf(nameof(ISwitcher.StopInboundAsync)) && step < path.IndexOf(nameof(ISwitcher.SwitchWritesAsync)), string.Join(" ", path));
        Assert.Single(lines, l => l.StartsWith("Set each sequence named in the VSchema of keyspace customer", StringComparison.Ordinal));

        // Without the flag, and on ReverseTraffic (writes go back to the source's AUTO_INCREMENT), the step is not taken.
        var (plain, _) = await DryAsync(Running(), new SwitchOptions());
        Assert.DoesNotContain(nameof(ISwitcher.InitializeSequencesAsync), plain.Path!);
        var (back, _) = await DryAsync(Running(new TrafficState { Replica = true, Rdonly = true, Primary = true }), options, reverse: true);
        Assert.True(back.Ok, back.Message);
        Assert.Contains(nameof(ISwitcher.SwitchWritesAsync), back.Path!);
        Assert.DoesNotContain(nameof(ISwitcher.InitializeSequencesAsync), back.Path!);

        // The real switcher takes the same step at the same place.
        var scripted = new ScriptedSwitcher();
        await SwitchPath.RunAsync(scripted, SwitchScope.Of(Running(), options, false), options, default);
        Assert.Equal(path, scripted.Calls);
    }

    [Fact]
    public async Task Nothing_to_switch_takes_no_step()
    {
        var switched = Running(new TrafficState { Replica = true, Rdonly = true, Primary = true });
        var (result, lines) = await DryAsync(switched, new SwitchOptions());
        Assert.True(result.Ok);
        Assert.Empty(result.Path!);
        Assert.Equal(["Nothing to switch: the traffic already is where the command would take it"], lines);
    }

    /// <summary>Records each step it is asked to take; refuses or throws at the named one.</summary>
    private sealed class ScriptedSwitcher : ISwitcher
    {
        public List<string> Calls { get; } = [];

        public string? Refuse { get; init; }

        public string? Throw { get; init; }

        public bool Lost { get; init; }

        public bool Committed { get; private set; }

        private Task<string?> Step([CallerMemberName] string name = "")
        {
            Calls.Add(name);
            if (name == Throw)
            {
                throw Lost ? new SwitchLeaseLostException("lost") : new InvalidOperationException("boom at " + name);
            }

            return Task.FromResult(name == Refuse ? $"refused at {name}" : null);
        }

        public Task<string?> CheckReadStreamsAsync(CancellationToken ct) => Step();

        public Task SwitchReadsAsync(CancellationToken ct) => Step();

        public Task<string?> CheckStreamsAsync(CancellationToken ct) => Step();

        public Task<string?> CheckReverseWorkflowAsync(CancellationToken ct) => Step();

        public Task<string?> CatchUpAsync(CancellationToken ct) => Step();

        public Task RecordIntentAsync(CancellationToken ct) => Step();

        public Task PrepareReverseWorkflowAsync(CancellationToken ct) => Step();

        public Task HoldTrafficAsync(CancellationToken ct) => Step();

        public Task ArmGuardsAsync(CancellationToken ct) => Step();

        public Task DrainAsync(CancellationToken ct) => Step();

        public Task<string?> WaitForStreamsAsync(CancellationToken ct) => Step();

        public Task RemoveMirrorRulesAsync(CancellationToken ct) => Step();

        public Task StopInboundAsync(CancellationToken ct) => Step();

        public Task InitializeSequencesAsync(CancellationToken ct) => Step();

        public Task CreateReverseStreamsAsync(CancellationToken ct) => Step();

        public Task SwitchWritesAsync(CancellationToken ct) => Step();

        public Task<string?> CallHooksAsync(CancellationToken ct) => Step();

        public async Task CommitAsync(CancellationToken ct)
        {
            await Step();
            Committed = true;
        }

        public async Task<SwitchResult> FinishAsync(CancellationToken ct)
        {
            await Step();
            return Done("writes switched", true);
        }

        public async Task<SwitchResult> RollbackAsync(string? reason, Exception? cause, CancellationToken ct)
        {
            await Step();
            return Refused(reason ?? cause!.Message);
        }

        public SwitchResult Refused(string reason) => new(false, reason, new TrafficState(), [], []);

        public SwitchResult Done(string message, bool changed) => new(true, message, new TrafficState(), [], []);
    }
}
