using System.Text;
using Durable.Testing;
using Durable.Topology.Etcd;

namespace Durable.Topology.Tests;

[Trait("Category", "Integration")]
public class EtcdClientIntegrationTests
{
    [Fact]
    public async Task Put_get_range_with_paging_and_revisions_and_delete()
    {
        await using var t = TestTopology.Create();
        var first = await t.Etcd.PutAsync($"{t.Root}/k/a", "1");
        for (var i = 0; i < 7; i++)
        {
            await t.Etcd.PutAsync($"{t.Root}/k/{(char)('b' + i)}", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await t.Etcd.PutAsync($"{t.Root}/k/a", "changed");
        await t.Etcd.PutAsync($"{t.Root}/kz", "outside the prefix");

        var (all, revision) = await t.Etcd.GetPrefixAsync($"{t.Root}/k/", pageSize: 3);
        Assert.Equal(8, all.Count);
        Assert.Equal("changed", all[0].ValueString);
        Assert.Equal(2, all[0].Version);
        Assert.True(revision > first);

        var page = await t.Etcd.RangeAsync(Encoding.UTF8.GetBytes($"{t.Root}/k/"), EtcdConnection.PrefixEnd(Encoding.UTF8.GetBytes($"{t.Root}/k/")), limit: 3);
        Assert.True(page.More);
        Assert.Equal(8, page.Count);
        Assert.Equal(3, page.Kvs.Count);

        var old = await t.Etcd.RangeAsync(Encoding.UTF8.GetBytes($"{t.Root}/k/a"), revision: first);
        Assert.Equal("1", old.Kvs[0].ValueString);

        Assert.Equal(8, await t.Etcd.DeleteAsync($"{t.Root}/k/", prefix: true));
        Assert.Null(await t.Etcd.GetAsync($"{t.Root}/k/a"));
        Assert.NotNull(await t.Etcd.GetAsync($"{t.Root}/kz"));
    }

    [Fact]
    public async Task Txn_compares_version_mod_revision_create_revision_and_value()
    {
        await using var t = TestTopology.Create();
        var key = $"{t.Root}/txn";
        var created = await t.Etcd.TxnAsync([EtcdCompare.Absent(key)], [EtcdOp.Put(key, "v1")]);
        Assert.True(created.Succeeded);
        Assert.False((await t.Etcd.TxnAsync([EtcdCompare.Absent(key)], [EtcdOp.Put(key, "again")])).Succeeded);

        var kv = (await t.Etcd.GetAsync(key))!;
        Assert.True((await t.Etcd.TxnAsync([EtcdCompare.ModRevisionIs(key, kv.ModRevision)], [EtcdOp.Put(key, "v2")])).Succeeded);
        var stale = await t.Etcd.TxnAsync([EtcdCompare.ModRevisionIs(key, kv.ModRevision)], [EtcdOp.Put(key, "lost")], [EtcdOp.Get(key)]);
        Assert.False(stale.Succeeded);
        Assert.Equal("v2", stale.Ranges[0].Kvs[0].ValueString);

        Assert.True((await t.Etcd.TxnAsync([EtcdCompare.VersionIs(key, 2), EtcdCompare.ValueIs(key, "v2")], [EtcdOp.Put(key, "v3")])).Succeeded);
        Assert.False((await t.Etcd.TxnAsync([EtcdCompare.ValueIs(key, "v2")], [EtcdOp.Put(key, "nope")])).Succeeded);
        Assert.True((await t.Etcd.TxnAsync([EtcdCompare.CreateRevisionIs(key, kv.CreateRevision)], [EtcdOp.Delete(key)])).Succeeded);
        Assert.Null(await t.Etcd.GetAsync(key));
    }

    [Fact]
    public async Task Leases_keep_keys_alive_and_revoking_deletes_them()
    {
        await using var t = TestTopology.Create();
        var (lease, ttl) = await t.Etcd.LeaseGrantAsync(TimeSpan.FromSeconds(5));
        Assert.True(ttl >= 5);
        await t.Etcd.PutAsync($"{t.Root}/leased", "x", lease);
        Assert.Equal(lease, (await t.Etcd.GetAsync($"{t.Root}/leased"))!.Lease);
        Assert.True(await t.Etcd.LeaseKeepAliveOnceAsync(lease) > 0);
        Assert.True(await t.Etcd.LeaseTimeToLiveAsync(lease) > 0);
        await t.Etcd.LeaseRevokeAsync(lease);
        Assert.Null(await t.Etcd.GetAsync($"{t.Root}/leased"));
        Assert.Equal(0, await t.Etcd.LeaseKeepAliveOnceAsync(lease));
        await t.Etcd.LeaseRevokeAsync(lease); // revoking an expired lease is not an error
    }

    [Fact]
    public async Task Unreachable_etcd_is_a_clear_error_naming_the_endpoints_and_a_dead_endpoint_fails_over()
    {
        var dead = "http://127.0.0.1:1";
        using var nowhere = new EtcdConnection(dead);
        var error = await Assert.ThrowsAsync<EtcdUnavailableException>(() => nowhere.GetAsync("/x"));
        Assert.Contains("etcd is unreachable", error.Message);
        Assert.Contains("127.0.0.1:1", error.Message);

        await using var t = TestTopology.Create();
        using var failover = new EtcdConnection($"{dead},{LocalCluster.Current.EtcdEndpoints}");
        await failover.PutAsync($"{t.Root}/failover", "ok");
        Assert.Equal("ok", (await failover.GetAsync($"{t.Root}/failover"))!.ValueString);
    }

    [Fact]
    public async Task Watch_delivers_puts_and_deletes_in_order_from_a_revision()
    {
        await using var t = TestTopology.Create();
        var start = await t.Etcd.PutAsync($"{t.Root}/w/a", "1");
        await t.Etcd.PutAsync($"{t.Root}/w/b", "2");
        await t.Etcd.DeleteAsync($"{t.Root}/w/a");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<string>();
        await foreach (var batch in t.Etcd.WatchAsync($"{t.Root}/w/", prefix: true, startRevision: start, ct: cts.Token))
        {
            seen.AddRange(batch.Events.Select(e => $"{e.Type}:{e.Kv.KeyString[(t.Root.Length + 3)..]}:{e.Kv.ValueString}"));
            if (seen.Count >= 3)
            {
                break;
            }
        }

        Assert.Equal(["Put:a:1", "Put:b:2", "Delete:a:"], seen);
    }
}
