using System.Diagnostics;
using Durable.Topology.Etcd;

namespace Durable.Topology.Tests;

public sealed record Counter(int Value, IReadOnlyList<string> Writers);

[Trait("Category", "Integration")]
public class LockLeaseRaceIntegrationTests
{
    [Fact]
    public async Task Two_writers_racing_read_modify_write_never_lose_an_update()
    {
        await using var t = TestTopology.Create();
        var key = $"{t.Root}/global/counter";
        using var etcd2 = new EtcdConnection(t.Endpoints);
        var store2 = new TopologyStore(etcd2, new TopologyOptions { Root = t.Root });

        async Task Writer(TopologyStore store, string name)
        {
            for (var i = 0; i < 25; i++)
            {
                await store.MutateAsync<Counter>(key, c => new Counter((c?.Value ?? 0) + 1, [.. c?.Writers ?? [], $"{name}{i}"]));
            }
        }

        await Task.WhenAll(Writer(t.Store, "a"), Writer(store2, "b"));
        var final = (await t.Store.ReadAsync<Counter>(key))!.Value;
        Assert.Equal(50, final.Value);
        Assert.Equal(50, final.Writers.Distinct().Count());
    }

    [Fact]
    public async Task Two_writers_from_the_same_read_one_wins_the_other_gets_a_conflict()
    {
        await using var t = TestTopology.Create();
        var key = $"{t.Root}/global/record";
        await t.Store.CreateAsync(key, new Counter(0, []));
        var read = (await t.Store.ReadAsync<Counter>(key))!;
        var results = await Task.WhenAll(
            Attempt(() => t.Store.UpdateAsync(key, new Counter(1, ["a"]), read.ModRevision)),
            Attempt(() => t.Store.UpdateAsync(key, new Counter(1, ["b"]), read.ModRevision)));
        Assert.Single(results, r => r is null);
        var conflict = Assert.Single(results, r => r is not null);
        Assert.IsType<TopologyConflictException>(conflict);
        Assert.Contains("changed by someone else", conflict!.Message);
        var winner = (await t.Store.ReadAsync<Counter>(key))!.Value.Writers.Single();
        Assert.Contains(winner, new[] { "a", "b" });
        await Assert.ThrowsAsync<TopologyConflictException>(() => t.Store.CreateAsync(key, new Counter(9, [])));
    }

    [Fact]
    public async Task A_keyspace_lock_excludes_others_guards_writes_and_a_lost_lock_cannot_write()
    {
        await using var t = TestTopology.Create();
        await t.Admin.CreateKeyspaceAsync("commerce");
        var held = await t.Store.LockKeyspaceAsync("commerce", "test-a", "switch traffic", TimeSpan.FromSeconds(10));
        Assert.Equal("test-a", (await t.Store.GetLockAsync("commerce"))!.Holder);

        var busy = await Assert.ThrowsAsync<TopologyLockTimeoutException>(() =>
            t.Store.LockKeyspaceAsync("commerce", "test-b", "other", wait: TimeSpan.FromSeconds(1)));
        Assert.Contains("locked by 'test-a' (switch traffic)", busy.Message);

        var rules = new RoutingRules([new RoutingRule("t", ["commerce.t"])]);
        await t.Store.SaveRoutingRulesAsync(rules, 0, held);
        Assert.Single((await t.Store.GetRoutingRulesAsync()).Value.Rules);

        // The lease behind the lock ends (as if the holder paused past its TTL): its writes must now fail.
        await t.Etcd.LeaseRevokeAsync(held.Record.LeaseId);
        var current = await t.Store.GetRoutingRulesAsync();
        var lost = await Assert.ThrowsAsync<TopologyLockLostException>(() => t.Store.SaveRoutingRulesAsync(RoutingRules.Empty, current.ModRevision, held));
        Assert.Contains("lock on keyspace 'commerce' held by 'test-a' has expired", lost.Message);
        Assert.Single((await t.Store.GetRoutingRulesAsync()).Value.Rules);

        // Someone else can take it now, and the old holder still cannot write under the new holder's lock.
        await using var second = await t.Store.LockKeyspaceAsync("commerce", "test-b", "after", wait: TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<TopologyLockLostException>(() => t.Store.SaveRoutingRulesAsync(RoutingRules.Empty, current.ModRevision, held));
        await held.DisposeAsync();
        await second.UnlockAsync();
        Assert.Null(await t.Store.GetLockAsync("commerce"));
    }

    [Fact]
    public async Task Concurrent_routing_rule_and_vschema_changes_all_survive()
    {
        await using var t = TestTopology.Create();
        await t.Admin.CreateKeyspaceAsync("commerce");
        await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            t.Store.UpdateRoutingRulesAsync(r => r.With([new RoutingRule($"t{i}", [$"commerce.t{i}"])]))));
        var rules = (await t.Store.GetRoutingRulesAsync()).Value;
        Assert.Equal(6, rules.Rules.Count);
        await t.Store.UpdateRoutingRulesAsync(r => r.Without(x => x.FromTable == "t0"));
        Assert.Equal(5, (await t.Store.GetRoutingRulesAsync()).Value.Rules.Count);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(i => t.Store.UpdateVSchemaAsync("commerce", json =>
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(json ?? "{\"tables\":{}}")!.AsObject();
            node["tables"]!.AsObject()[$"table{i}"] = new System.Text.Json.Nodes.JsonObject();
            return node.ToJsonString();
        })));
        var vschema = VSchemaDocument.Parse(await t.Admin.GetVSchemaAsync("commerce"));
        Assert.Equal(4, vschema.Tables.Count);

        var before = await t.SnapshotAsync();
        await Assert.ThrowsAsync<TopologyValidationException>(() => t.Store.UpdateVSchemaAsync("commerce", _ => "{\"vindexes\":{\"v\":{\"type\":\"nope\"}}}"));
        Assert.Equal(before, await t.SnapshotAsync());
    }

    [Fact]
    public async Task Named_locks_are_exclusive_per_name()
    {
        await using var t = TestTopology.Create();
        await using var vdiff = await t.Store.LockNameAsync("customer/commerce2customer", "vdiff-1", "vdiff");
        var busy = await Assert.ThrowsAsync<TopologyLockTimeoutException>(() =>
            t.Store.LockNameAsync("customer/commerce2customer", "vdiff-2", "vdiff", wait: TimeSpan.FromMilliseconds(300)));
        Assert.Contains("Lock 'customer/commerce2customer' is locked by 'vdiff-1'", busy.Message);
        await using var other = await t.Store.LockNameAsync("customer/other", "vdiff-2", "vdiff", wait: TimeSpan.FromSeconds(2));
        Assert.Contains("bad name", (await Assert.ThrowsAsync<TopologyValidationException>(() => t.Store.LockNameAsync("bad name", "x", "y"))).Message);
    }

    [Fact]
    public async Task A_lock_held_by_a_killed_process_expires_and_can_then_be_taken()
    {
        await using var t = TestTopology.Create();
        const int ttlSeconds = 4;
        var holder = StartLockHolder(t, "commerce", ttlSeconds);
        try
        {
            var line = await holder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.StartsWith("LOCKED", line);
            var record = await t.Store.GetLockAsync("commerce");
            Assert.Contains($"pid {holder.Id}", record!.Holder);

            // Alive, the holder renews its lease: the lock outlasts its TTL.
            await Task.Delay(TimeSpan.FromSeconds(ttlSeconds + 2));
            Assert.NotNull(await t.Store.GetLockAsync("commerce"));

            holder.Kill(entireProcessTree: true);
            await holder.WaitForExitAsync();
            var sinceKill = Stopwatch.StartNew();
            await using var taken = await t.Store.LockKeyspaceAsync("commerce", "successor", "after the kill", wait: TimeSpan.FromSeconds(30));
            Assert.InRange(sinceKill.Elapsed.TotalSeconds, 0.5, ttlSeconds + 5);
            Assert.Equal("successor", (await t.Store.GetLockAsync("commerce"))!.Holder);
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill(entireProcessTree: true);
            }

            holder.Dispose();
        }
    }

    [Fact]
    public async Task Leased_server_ids_are_distinct_avoid_tablet_ids_and_come_back_when_released()
    {
        await using var t = TestTopology.Create(options: new TopologyOptions { ServerIdMin = 5000, ServerIdMax = 5001 });
        var first = await t.Store.LeaseServerIdAsync("stream-a");
        var second = await t.Store.LeaseServerIdAsync("stream-b");
        Assert.NotEqual(first.ServerId, second.ServerId);
        Assert.InRange(first.ServerId, 5000u, 5001u);
        var full = await Assert.ThrowsAsync<TopologyException>(() => t.Store.LeaseServerIdAsync("stream-c"));
        Assert.Contains("No free server id in 5000..5001", full.Message);

        var freed = first.ServerId;
        await first.DisposeAsync();
        var third = await t.Store.LeaseServerIdAsync("stream-c");
        Assert.Equal(freed, third.ServerId);
        await second.DisposeAsync();
        await third.DisposeAsync();

        // A tablet whose server id falls in the range makes the range unusable, loudly.
        await t.Admin.CreateKeyspaceAsync("commerce");
        await t.Admin.AddTabletAsync(new AddTabletRequest("zone1-5001", "commerce", "0", "PRIMARY", "h", 3306, "u", "secret:P"));
        var clash = await Assert.ThrowsAsync<TopologyValidationException>(() => t.Store.LeaseServerIdAsync("stream-d"));
        Assert.Contains("contains tablet server ids 5001", clash.Message);
    }

    private static Process StartLockHolder(TestTopology t, string keyspace, int ttlSeconds)
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testDir.Name;
        var configuration = testDir.Parent!.Name;
        var dll = Path.GetFullPath(Path.Combine(testDir.FullName, "..", "..", "..", "LockHolder", "bin", configuration, framework, "Durable.Topology.LockHolder.dll"));
        Assert.True(File.Exists(dll), $"The lock holder program was not built at {dll}.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { dll, t.Endpoints, t.Root, keyspace, ttlSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    private static async Task<Exception?> Attempt(Func<Task> write)
    {
        try
        {
            await write();
            return null;
        }
        catch (TopologyException e)
        {
            return e;
        }
    }
}
