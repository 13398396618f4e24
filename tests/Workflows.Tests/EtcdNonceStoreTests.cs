using Durable.Testing;
using Durable.Topology;
using Durable.Topology.Etcd;

namespace Durable.Workflows.Tests;

/// <summary>
/// The nonce store on the cluster's etcd: a nonce is spent once, on one pending command; the same check again (a
/// redelivered MoveTables_VerifyApproval) gets the same answer, any other use is a replay.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdNonceStoreTests
{
    [Fact]
    public async Task A_nonce_is_spent_on_one_command_and_the_same_check_again_is_the_same_decision()
    {
        var root = "/durable-test/nonces_" + Guid.NewGuid().ToString("N")[..10];
        using var etcd = new EtcdConnection(LocalCluster.Current.EtcdEndpoints);
        var store = new EtcdNonceStore(new WorkflowRegistry(new TopologyStore(etcd, new TopologyOptions { Root = root })));
        try
        {
            var expires = DateTimeOffset.UtcNow.AddMinutes(5);
            Assert.True(await store.TryUseAsync("movetables:customer.w", "n1", expires, "s1@2026-01-01T00:00:00", default));
            Assert.True(await store.TryUseAsync("movetables:customer.w", "n1", expires, "s1@2026-01-01T00:00:00", default));
            Assert.False(await store.TryUseAsync("movetables:customer.w", "n1", expires, "s2@2026-01-01T00:01:00", default));
            // An empty identity never matches: a nonce spent without one cannot be spent again.
            Assert.True(await store.TryUseAsync("movetables:customer.w", "n2", expires, "", default));
            Assert.False(await store.TryUseAsync("movetables:customer.w", "n2", expires, "", default));
            // Nonces are per workflow.
            Assert.True(await store.TryUseAsync("movetables:customer.other", "n1", expires, "s9@x", default));
        }
        finally
        {
            await etcd.DeleteAsync(root + "/", prefix: true);
        }
    }
}
