using System.Globalization;
using Durable.MySql;
using Durable.Replication;

namespace Durable.Workflows;

/// <summary>
/// The clock the refused-writes window is measured on: the first primary (in shard order) of the side writes leave.
/// One server's clock for both ends, so the window is honest when a crash hands the end of a switch to another process
/// on another machine (whose clock may differ from the first one's by more than the window itself).
/// </summary>
internal static class WindowClock
{
    /// <summary>The server's current time in unix seconds, to the microsecond.</summary>
    public static async Task<double> NowAsync(MySqlConnection c, CancellationToken ct) =>
        double.Parse(await c.QueryScalarAsync("SELECT UNIX_TIMESTAMP(NOW(6))", ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the server returned no time"), CultureInfo.InvariantCulture);

    /// <summary>The time on the first primary of <paramref name="keyspace"/>.</summary>
    public static async Task<double> NowAsync(ReplicationEngine engine, KeyspaceShards shards, string keyspace, CancellationToken ct)
    {
        var first = (await shards.NamesAsync(keyspace, ct).ConfigureAwait(false))[0];
        var primary = await engine.Connector.Resolver.PrimaryAsync(keyspace, first, ct).ConfigureAwait(false);
        await using var c = await engine.Connector.OpenAsync(primary, ct: ct).ConfigureAwait(false);
        return await NowAsync(c, ct).ConfigureAwait(false);
    }

    /// <summary>The window from <paramref name="openedAt"/> to <paramref name="closedAt"/> in milliseconds (never negative).</summary>
    public static double Milliseconds(double openedAt, double closedAt) => Math.Max(0, Math.Round((closedAt - openedAt) * 1000, 1));
}
