using System.Text.Json;
using Durable.Functions.Orchestrations;

namespace Durable.Workflows.Tests;

public sealed class PublishedStatusTests
{
    [Fact]
    public void A_long_audit_trail_is_cut_from_the_oldest_end_to_fit_the_task_hubs_status_limit_and_counted()
    {
        var steps = string.Concat(Enumerable.Repeat("guards armed 12 ms, drained 9 ms, streams at final position 260 ms, ", 8));
        var state = new WorkflowState { Spec = new MoveTablesCreate { Workflow = "wf", TargetKeyspace = "customer", SourceKeyspace = "commerce" } };
        for (var i = 0; i < 120; i++)
        {
            state = state.Record(new AuditEntry(DateTime.UnixEpoch.AddMinutes(i), "alice", "SwitchTraffic", "done", $"switch {i}: {steps}"),
                new CommandResult($"r{i}", "SwitchTraffic", "done", $"switch {i}: {steps}"));
        }

        Assert.True(JsonSerializer.Serialize(state).Length > 32_000, "the test's trail must exceed the limit");
        var published = PublishedStatus.Fit(state);
        Assert.True(JsonSerializer.Serialize(published).Length <= PublishedStatus.MaxChars);
        Assert.Equal(120, published.Audit.Count + published.AuditOmitted);
        Assert.StartsWith("switch 119:", published.Audit[^1].Detail);
        Assert.Equal("r119", published.Commands[^1].RequestId);

        var small = new WorkflowState();
        Assert.Same(small, PublishedStatus.Fit(small));
    }
}
