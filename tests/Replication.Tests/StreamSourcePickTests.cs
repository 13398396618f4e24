using Durable.Topology;

namespace Durable.Replication.Tests;

/// <summary>
/// A stream avoids source tablets that failed it, but never so far that it stalls: with one candidate (tablet_types
/// PRIMARY) an excluded primary is tried again, whichever way the resolver says "no tablet".
/// </summary>
public sealed class StreamSourcePickTests
{
    private static readonly TabletEndpoint Primary = new("zone1-0000000100", "commerce", "0", "PRIMARY", "127.0.0.1", 17100, "vt_commerce");
    private static readonly TabletEndpoint Replica = new("zone1-0000000101", "commerce", "0", "REPLICA", "127.0.0.1", 17101, "vt_commerce");

    [Fact]
    public async Task The_only_primary_is_tried_again_when_the_topology_resolver_finds_none_outside_the_excluded()
    {
        var resolver = new TopologyLikeResolver([Primary]);
        var excluded = new List<string> { Primary.Alias };
        var picked = await StreamRunner.PickSourceAsync(resolver, "commerce", "0", "PRIMARY", excluded, CancellationToken.None);
        Assert.Equal(Primary.Alias, picked.Alias);
        Assert.Empty(excluded);
    }

    [Fact]
    public async Task The_only_primary_is_tried_again_when_a_static_resolver_finds_none_outside_the_excluded()
    {
        var excluded = new List<string> { Primary.Alias };
        var picked = await StreamRunner.PickSourceAsync(new StaticTabletResolver([Primary]), "commerce", "0", "PRIMARY", excluded, CancellationToken.None);
        Assert.Equal(Primary.Alias, picked.Alias);
        Assert.Empty(excluded);
    }

    [Fact]
    public async Task Another_candidate_is_preferred_while_one_exists()
    {
        var excluded = new List<string> { Replica.Alias };
        var picked = await StreamRunner.PickSourceAsync(new TopologyLikeResolver([Replica, Primary]), "commerce", "0", "REPLICA,PRIMARY", excluded, CancellationToken.None);
        Assert.Equal(Primary.Alias, picked.Alias);
        Assert.Equal([Replica.Alias], excluded);
    }

    [Fact]
    public async Task No_tablet_at_all_still_fails_with_the_resolvers_error()
    {
        var excluded = new List<string> { Primary.Alias };
        await Assert.ThrowsAsync<NoHealthyTabletException>(() =>
            StreamRunner.PickSourceAsync(new TopologyLikeResolver([]), "commerce", "0", "PRIMARY", excluded, CancellationToken.None));
    }

    /// <summary>Answers as TopologyTabletResolver does: the first tablet of a wanted type outside the excluded, else NoHealthyTabletException.</summary>
    private sealed class TopologyLikeResolver(IReadOnlyList<TabletEndpoint> tablets) : ITabletResolver
    {
        public Task<TabletEndpoint> SourceAsync(string keyspace, string shard, string tabletTypes, IReadOnlyCollection<string> exclude, CancellationToken ct)
        {
            var types = tabletTypes.Split(',');
            foreach (var type in types)
            {
                if (tablets.FirstOrDefault(t => t.Type == type && !exclude.Contains(t.Alias)) is { } match)
                {
                    return Task.FromResult(match);
                }
            }

            throw new NoHealthyTabletException($"No {tabletTypes} tablet of {keyspace}/{shard}.");
        }

        public Task<TabletEndpoint> PrimaryAsync(string keyspace, string shard, CancellationToken ct) => throw new NotSupportedException("not used by PickSourceAsync");

        public Task<IReadOnlyList<TabletEndpoint>> ReplicasAsync(string keyspace, string shard, CancellationToken ct) => throw new NotSupportedException("not used by PickSourceAsync");

        public Task<IReadOnlyList<TabletEndpoint>> PrimariesAsync(CancellationToken ct) => throw new NotSupportedException("not used by PickSourceAsync");
    }
}
