using Durable.Core.Faults;

namespace Durable.Core.Tests;

public class FaultPlanTests
{
    [Fact]
    public void EmptyPlanNeverFires()
    {
        var plan = FaultPlan.Parse(null);
        Assert.True(plan.IsEmpty);
        Assert.False(plan.ShouldFire("copy.after-commit"));
    }

    [Fact]
    public void NamedPointFiresOnFirstHitOnly()
    {
        var plan = FaultPlan.Parse("copy.after-commit, apply.before-commit");
        Assert.True(plan.ShouldFire("copy.after-commit"));
        Assert.False(plan.ShouldFire("copy.after-commit"));
        Assert.False(plan.ShouldFire("other"));
        Assert.True(plan.ShouldFire("apply.before-commit"));
    }

    [Fact]
    public void CountedPointFiresOnTheNthHit()
    {
        var plan = FaultPlan.Parse("apply.before-commit@3");
        Assert.False(plan.ShouldFire("apply.before-commit"));
        Assert.False(plan.ShouldFire("apply.before-commit"));
        Assert.True(plan.ShouldFire("apply.before-commit"));
        Assert.Contains("apply.before-commit", plan.Reached);
    }

    [Fact]
    public void StopEntriesPauseInsteadOfKilling()
    {
        var plan = FaultPlan.Parse("switchtraffic.after-guards:stop, copy@2:stop, apply.before-commit");
        Assert.True(plan.Pauses("switchtraffic.after-guards"));
        Assert.True(plan.ShouldFire("switchtraffic.after-guards"));
        Assert.False(plan.ShouldFire("copy"));
        Assert.True(plan.ShouldFire("copy"));
        Assert.True(plan.Pauses("copy"));
        Assert.False(plan.Pauses("apply.before-commit"));
    }

    [Theory]
    [InlineData("copy@0", "copy@0")]
    [InlineData("copy:halt", "copy:halt")]
    [InlineData("copy@x", "copy@x")]
    [InlineData("bad name", "bad name")]
    public void MalformedEntriesAreRejectedNamingTheEntry(string value, string named)
    {
        var ex = Assert.Throws<FormatException>(() => FaultPlan.Parse(value));
        Assert.Contains(named, ex.Message);
    }
}
