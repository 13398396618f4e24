using Durable.Topology;

namespace Durable.Workflows.Tests;

/// <summary>
/// <see cref="WorkflowRegistry.SaveJournalWithRulesAsync"/> on real etcd (the test's own topology root): the flipped
/// rules and the journal's step land in one transaction, another workflow's rules written in between are kept, and a
/// holder that lost its lease writes neither.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SwitchJournalRulesIntegrationTests
{
    private const string Source = "commerce";
    private const string Target = "customer";

    [Fact]
    public async Task The_rules_and_the_journal_step_are_one_transaction_that_keeps_a_concurrent_rules_change_and_needs_the_lease()
    {
        await using var bed = new ClusterBed("jrules");
        var registry = bed.Env.Registry;
        var store = bed.Env.Store;
        var workflow = "w_" + bed.Suffix;
        string[] tables = ["t_" + bed.Suffix];
        var journal = new SwitchJournal("flip", false, new TrafficState(), new TrafficState { Primary = true }, SwitchSteps.RulesFlipped,
            new Dictionary<string, string>(), new Dictionary<string, string> { ["0"] = "0-100-7" }, DateTimeOffset.UtcNow);
        var toPrimary = TrafficRules.Change(new MoveTablesCreate { SourceKeyspace = Source, TargetKeyspace = Target, Workflow = workflow }, tables, journal.ToTraffic)!;

        await using (var lease = await SwitchLease.AcquireAsync(store, [Source, Target], "holder", "test", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), default))
        {
            // Another workflow writes its rule between this read of the rules and the transaction: the change is applied
            // again on top of it, and both rules are there.
            var other = "other_" + bed.Suffix;
            var calls = 0;
            await registry.SaveJournalWithRulesAsync(Target, workflow, journal, rules =>
            {
                if (++calls == 1)
                {
                    // The change is a plain function (it runs between the read and the transaction): the interloper's
                    // write is waited for here, the only way to land it exactly in that gap.
                    store.UpdateRoutingRulesAsync(r => RoutingRulesPlan.Apply(r, Source, Target, [other], new TrafficState { Primary = true })).GetAwaiter().GetResult();
                }

                return toPrimary(rules);
            }, lease, default);
            Assert.Equal(2, calls);

            var rules = await store.GetRoutingRulesAsync();
            Assert.Equal($"{Target}.{tables[0]}", RoutingRulesPlan.Resolve(rules.Value, tables[0]));
            Assert.Equal($"{Target}.{other}", RoutingRulesPlan.Resolve(rules.Value, other));
            var saved = await registry.GetJournalAsync(Target, workflow, default);
            Assert.Equal((SwitchSteps.RulesFlipped, "0-100-7"), (saved!.Step, saved.OutboundPositions["0"]));
            var journalKv = await bed.Env.Etcd.GetAsync(registry.JournalKey(Target, workflow));
            Assert.Equal(rules.ModRevision, journalKv!.ModRevision); // written by the same transaction
        }

        // A holder whose lock was taken from it (here: deleted) writes neither the rules nor the journal.
        await using (var lost = await SwitchLease.AcquireAsync(store, [Source, Target], "paused", "test", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), default))
        {
            var before = await store.GetRoutingRulesAsync();
            await bed.Env.Etcd.DeleteAsync(lost.Locks[0].Key);
            var back = TrafficRules.Change(new MoveTablesCreate { SourceKeyspace = Source, TargetKeyspace = Target, Workflow = workflow }, tables, new TrafficState())!;
            await Assert.ThrowsAsync<SwitchLeaseLostException>(() =>
                registry.SaveJournalWithRulesAsync(Target, workflow, journal with { Step = SwitchSteps.Committed }, back, lost, default));
            Assert.Equal(before.ModRevision, (await store.GetRoutingRulesAsync()).ModRevision);
            Assert.Equal(SwitchSteps.RulesFlipped, (await registry.GetJournalAsync(Target, workflow, default))!.Step);
        }
    }
}
