namespace Durable.Workflows.Tests;

/// <summary>
/// The VDiff gate's rule (<see cref="VDiffGateRule"/>), the one place it lives: with a schedule a clean VDiff of the
/// current direction newer than the last write switch is needed; without one only a VDiff that found differences holds;
/// operator-run and scheduled VDiffs count alike.
/// </summary>
public sealed class VDiffGateRuleTests
{
    private static readonly DateTime Switched = new(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc);

    private static WorkflowState State(bool schedule, bool writesSwitched = false, bool reverse = true) => new()
    {
        Spec = new MoveTablesCreate { Workflow = "commerce2customer", TargetKeyspace = "customer", SourceKeyspace = "commerce", Tables = ["customer"] },
        Phase = Phases.Running,
        Traffic = writesSwitched ? new TrafficState { Primary = true, Replica = true, Rdonly = true } : new TrafficState(),
        ReverseStreams = writesSwitched && reverse ? [new StreamRef("commerce", "0", 1, "0")] : [],
        VDiff = new VDiffGate { IntervalSeconds = schedule ? 3600 : null, ValidSince = Switched },
    };

    private static VDiffSummary Run(string uuid, bool clean, int minutesAfterSwitch = 5, string workflow = "commerce2customer", string keyspace = "customer") => new()
    {
        Uuid = uuid, Workflow = workflow, Keyspace = keyspace, State = VDiffStates.Completed, HasMismatch = !clean, RowsCompared = 100,
        ExtraRowsSource = clean ? 0 : 5, StartedAt = Switched.AddMinutes(minutesAfterSwitch), At = Switched.AddMinutes(minutesAfterSwitch + 1),
        Tables = [new VDiffTableCounts("customer", 0, clean ? 0 : 5, 0)],
    };

    [Fact]
    public void Without_a_schedule_a_workflow_that_never_ran_a_vdiff_is_not_held()
    {
        var verdict = VDiffGateRule.Evaluate(State(schedule: false), []);
        Assert.Equal(VDiffGateRule.Clear, verdict.State);
        Assert.Null(verdict.Uuid);
    }

    [Fact]
    public void Without_a_schedule_an_operator_vdiff_with_differences_holds_naming_its_uuid_counts_and_the_release()
    {
        var verdict = VDiffGateRule.Evaluate(State(schedule: false), [null, Run("u-dirty", clean: false)]);
        Assert.True(verdict.IsHeld);
        Assert.Equal("u-dirty", verdict.Uuid);
        var counts = Assert.Single(verdict.Counts);
        Assert.Equal(("customer", 5L), (counts.Table, counts.ExtraRowsSource));
        var message = verdict.Describe(WorkflowActions.SwitchTraffic);
        Assert.Contains("SwitchTraffic is held by VDiff", message);
        Assert.Contains("u-dirty", message);
        Assert.Contains("customer: 0 mismatched, 5 extra on the source, 0 extra on the target", message);
        Assert.Contains("--ignore-vdiff", message);
        Assert.Contains("durablectl VDiff --target-keyspace customer --workflow commerce2customer create", message);
    }

    [Fact]
    public void The_latest_completed_vdiff_decides_so_a_newer_clean_one_releases_and_a_newer_dirty_one_holds_again()
    {
        Assert.Equal(VDiffGateRule.Clear, VDiffGateRule.Evaluate(State(false), [Run("old", false, 1), Run("new", true, 2)]).State);
        Assert.Equal(VDiffGateRule.Held, VDiffGateRule.Evaluate(State(false), [Run("old", true, 1), Run("new", false, 2)]).State);
        // A run that did not complete (stopped, error, running) neither holds nor releases.
        var stopped = Run("stopped", true, 3) with { State = VDiffStates.Stopped };
        Assert.Equal("dirty", VDiffGateRule.Evaluate(State(false), [Run("dirty", false, 1), stopped]).Uuid);
    }

    [Fact]
    public void With_a_schedule_no_clean_vdiff_since_the_last_switch_holds()
    {
        var none = VDiffGateRule.Evaluate(State(schedule: true), []);
        Assert.True(none.IsHeld);
        Assert.Contains("a VDiff schedule is on and no VDiff of customer.commerce2customer has completed", none.Reason);

        // A clean VDiff from before the last write switch does not count.
        Assert.True(VDiffGateRule.Evaluate(State(true), [Run("before", true, -5)]).IsHeld);
        Assert.Equal(VDiffGateRule.Clear, VDiffGateRule.Evaluate(State(true), [Run("after", true, 5)]).State);
    }

    [Fact]
    public void After_a_write_switch_the_reverse_workflow_is_the_one_that_counts()
    {
        var state = State(schedule: true, writesSwitched: true);
        Assert.True(VDiffGateRule.Evaluate(state, [Run("forward", true)]).IsHeld);
        var verdict = VDiffGateRule.Evaluate(state, [Run("forward", true), Run("rev", true, 6, "commerce2customer_reverse", "commerce")]);
        Assert.Equal((VDiffGateRule.Clear, "rev"), (verdict.State, verdict.Uuid));

        // Without reverse replication nothing can be verified: the gate does not apply.
        Assert.Equal(VDiffGateRule.NotApplicable, VDiffGateRule.Evaluate(State(true, writesSwitched: true, reverse: false), []).State);
    }

    [Fact]
    public void Turning_the_schedule_off_keeps_verification_for_complete_a_vdiff_with_differences_still_holds()
    {
        var state = State(schedule: false, writesSwitched: true);
        var verdict = VDiffGateRule.Evaluate(state, [Run("rev", false, 6, "commerce2customer_reverse", "commerce")]);
        Assert.True(verdict.IsHeld);
        Assert.Contains("Complete is held by VDiff", verdict.Describe(WorkflowActions.Complete));
    }

    [Fact]
    public void Only_switchtraffic_and_complete_are_gated() =>
        Assert.Equal([WorkflowActions.SwitchTraffic, WorkflowActions.Complete], WorkflowActions.All.Where(VDiffGateRule.Gates));
}
