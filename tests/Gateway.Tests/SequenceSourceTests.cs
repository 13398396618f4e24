using System.Collections.Concurrent;
using Durable.Routing;
using Durable.Testing;
using Microsoft.Extensions.DependencyInjection;
using Dba = Durable.MySql;

namespace Durable.Gateway.Tests;

/// <summary>
/// The gateways' sequence source (src/Gateway/Sequences) against a real sequence table on the commerce primary, each
/// gateway's own registered <see cref="ISequenceSource"/> reaching it through its own backend picker and pool: values
/// unique across two gateways under 8 concurrent callers, increasing within one gateway, blocks of max(cache, count)
/// reserved with one UPDATE each, and clear errors naming a missing or empty sequence table.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SequenceSourceTests
{
    private const long Cache = 50;

    private static Dba.MySqlConnectionOptions DbaOptions()
    {
        var tablet = LocalCluster.Current.Primary("commerce");
        var (user, password) = LocalCluster.Current.Account("dba");
        return new Dba.MySqlConnectionOptions { Host = tablet.Host, Port = tablet.Port, User = user, Password = password, Database = tablet.DbName, SslMode = Dba.SslMode.Disabled };
    }

    private static async Task<string?> DbaAsync(string sql)
    {
        await using var c = await Dba.MySqlConnection.OpenAsync(DbaOptions());
        return sql.StartsWith("SELECT", StringComparison.Ordinal) ? await c.QueryScalarAsync(sql) : (await c.ExecuteAsync(sql)).AffectedRows.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A sequence table of the test's own in vt_commerce (Vitess's shape), dropped at the end.</summary>
    private sealed class PrivateSequence : IAsyncDisposable
    {
        public string Name { get; } = $"gwseq_{Guid.NewGuid():N}"[..22];

        public static async Task<PrivateSequence> CreateAsync(bool withRow = true)
        {
            var s = new PrivateSequence();
            await DbaAsync($"CREATE TABLE {s.Name} (id INT NOT NULL, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'");
            if (withRow)
            {
                await DbaAsync($"INSERT INTO {s.Name} (id, next_id, cache) VALUES (0, 1, {Cache})");
            }

            return s;
        }

        public async Task<long> NextIdAsync() => long.Parse((await DbaAsync($"SELECT next_id FROM {Name} WHERE id = 0"))!, System.Globalization.CultureInfo.InvariantCulture);

        public async ValueTask DisposeAsync() => await DbaAsync($"DROP TABLE IF EXISTS {Name}");
    }

    private static ISequenceSource SourceOf(GatewayUnderTest gateway) => gateway.App.Services.GetRequiredService<ISequenceSource>();

    [Fact]
    public async Task Eight_concurrent_callers_on_two_gateways_get_unique_values_increasing_per_caller()
    {
        await using var sequence = await PrivateSequence.CreateAsync();
        await using var a = await GatewayUnderTest.StartAsync();
        await using var b = await GatewayUnderTest.StartAsync();
        Assert.IsType<Sequences.GatewaySequenceSource>(SourceOf(a));
        Assert.NotSame(SourceOf(a), SourceOf(b));
        Assert.Same(SourceOf(a), a.App.Services.GetRequiredService<GatewayServices>().Sequences); // what the sessions' insert path uses

        const int calls = 200;
        var all = new ConcurrentBag<long>();
        var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            var source = SourceOf(i % 2 == 0 ? a : b);
            var random = new Random(i);
            var mine = new List<(long First, int Count)>();
            for (var n = 0; n < calls; n++)
            {
                var count = random.Next(1, 4);
                mine.Add((await source.NextAsync("commerce", sequence.Name, count, default), count));
            }

            return mine;
        })).ToList();
        var perCaller = await Task.WhenAll(tasks);

        foreach (var mine in perCaller)
        {
            // Each caller's values increase (one gateway hands out a sequence's values in order).
            Assert.True(mine.Zip(mine.Skip(1)).All(p => p.Second.First >= p.First.First + p.First.Count), "a caller's values went backwards");
            foreach (var (first, count) in mine)
            {
                for (var v = first; v < first + count; v++)
                {
                    all.Add(v);
                }
            }
        }

        var values = all.ToList();
        Assert.Equal(values.Count, values.Distinct().Count());
        Assert.True(values.Min() >= 1);
        // Every value came from a reserved block: the row is past all of them, and blocks were not reserved per value.
        var nextId = await sequence.NextIdAsync();
        Assert.True(nextId > values.Max(), $"next_id {nextId} is not above the largest value handed out {values.Max()}");
        Assert.True(nextId - 1 <= values.Count + (2 * Cache) + (8 * 3 * Cache), $"next_id {nextId}: far more values reserved than {values.Count} handed out");
        Assert.True(nextId - 1 >= values.Count);
    }

    [Fact]
    public async Task One_gateway_hands_out_increasing_values_while_another_reserves_in_between_and_a_large_count_gets_its_own_block()
    {
        await using var sequence = await PrivateSequence.CreateAsync();
        await using var a = await GatewayUnderTest.StartAsync();
        await using var b = await GatewayUnderTest.StartAsync();
        var fromA = new List<long>();
        var fromB = new List<long>();
        for (var n = 0; n < 3 * Cache; n++)
        {
            fromA.Add(await SourceOf(a).NextAsync("commerce", sequence.Name, 1, default));
            fromB.Add(await SourceOf(b).NextAsync("commerce", sequence.Name, 1, default));
        }

        Assert.Equal(fromA.Order(), fromA);
        Assert.Equal(fromA.Count, fromA.Distinct().Count());
        Assert.Equal(fromB.Order(), fromB);
        Assert.Empty(fromA.Intersect(fromB));
        // Blocks of cache values: the first block of A is [1, 51), B's first is the next one.
        Assert.Equal(1, fromA[0]);
        Assert.Equal(1 + Cache, fromB[0]);

        var before = await sequence.NextIdAsync();
        var large = await SourceOf(a).NextAsync("commerce", sequence.Name, (int)(3 * Cache), default);
        Assert.Equal(before + (3 * Cache), await sequence.NextIdAsync()); // one block of exactly count values
        Assert.Equal(before, large);
        var after = await SourceOf(b).NextAsync("commerce", sequence.Name, 1, default);
        Assert.True(after < large || after >= large + (3 * Cache), $"{after} falls inside the large block [{large}, {large + (3 * Cache)})");
    }

    [Fact]
    public async Task A_missing_or_empty_sequence_table_is_a_clear_error_naming_it()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        var missing = $"gwseq_missing_{Guid.NewGuid():N}"[..24];
        var e = await Assert.ThrowsAsync<GatewaySqlException>(async () => await SourceOf(gateway).NextAsync("commerce", missing, 1, default));
        Assert.Equal(GatewaySqlException.NoSuchTable, e.Code);
        Assert.Contains($"Sequence table commerce.{missing} does not exist", e.Message);

        await using var empty = await PrivateSequence.CreateAsync(withRow: false);
        var e2 = await Assert.ThrowsAsync<GatewaySqlException>(async () => await SourceOf(gateway).NextAsync("commerce", empty.Name, 1, default));
        Assert.Contains($"Sequence table commerce.{empty.Name} cannot hand out values: it has no row with id 0", e2.Message);

        // Fixed, it serves: the error was not cached.
        await DbaAsync($"INSERT INTO {empty.Name} (id, next_id, cache) VALUES (0, 7, 10)");
        Assert.Equal(7, await SourceOf(gateway).NextAsync("commerce", empty.Name, 1, default));
        Assert.Equal(17, await empty.NextIdAsync());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await SourceOf(gateway).NextAsync("commerce", empty.Name, 0, default));
    }
}
