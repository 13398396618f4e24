using Durable.Topology;

namespace Durable.GatewayTopology.Tests;

/// <summary>
/// The switch's side of the hold protocol as the tests drive it: a hold announced and ended under a keyspace lock with
/// the store's own operations (the real switch does the same through WorkflowRegistry.CommitUnderLeaseAsync).
/// </summary>
public sealed class HoldingSwitch(PrivateTopology t, KeyspaceLock lockOnTarget) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => lockOnTarget.DisposeAsync();

    public TrafficHoldStore Holds { get; } = new(t.Store);

    public static async Task<HoldingSwitch> LockAsync(PrivateTopology t, string keyspace) =>
        new(t, await t.Store.LockKeyspaceAsync(keyspace, "test switch", "hold test", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)));

    public static TrafficHoldRecord Hold(string id, string source = "commerce", string target = "customer", params string[] tables) =>
        new(id, "gwhold", source, target, tables.Length == 0 ? ["corder"] : tables, TrafficHoldStates.Holding, DateTimeOffset.UtcNow, "test");

    public Task<long> AnnounceAsync(TrafficHoldRecord hold) =>
        t.Store.CommitAsync([], Holds.AnnounceOps(hold), lockOnTarget, "announce a hold");

    public Task<long> EndAsync(TrafficHoldRecord hold, string state, long rulesRevision) =>
        t.Store.CommitAsync([], Holds.EndOps(hold, state, rulesRevision), lockOnTarget, "end a hold");

    /// <summary>Replaces the routing rules under the lock; returns the revision they were written at.</summary>
    public async Task<long> RulesAsync(string json) =>
        (await t.Store.UpdateRoutingRulesAsync(_ => RoutingRules.Parse(json), lockOnTarget)).ModRevision;
}
