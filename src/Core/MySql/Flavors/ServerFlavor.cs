using System.Globalization;
using Durable.Core.Positions;

namespace Durable.MySql.Flavors;

/// <summary>
/// The server-specific SQL behind replication positions. <see cref="For"/> picks the flavor from the server version:
/// MariaDB is the supported, tested flavor; MySQL is experimental (built to the documented SQL, untested here).
/// </summary>
public abstract class ServerFlavor
{
    public static readonly ServerFlavor MariaDb = new MariaDbFlavor();
    public static readonly ServerFlavor MySql = new MySqlFlavor();

    public abstract GtidFlavor GtidFlavor { get; }

    public abstract string Name { get; }

    public static ServerFlavor For(MySqlConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return connection.IsMariaDb ? MariaDb : MySql;
    }

    /// <summary>The position of everything written to the server's binlog so far.</summary>
    public abstract Task<GtidPosition> CurrentPositionAsync(MySqlConnection connection, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a consistent-snapshot transaction on <paramref name="connection"/> and returns the binlog position the
    /// snapshot sees; reads on the connection until COMMIT/ROLLBACK see exactly the data at that position.
    /// </summary>
    public abstract Task<GtidPosition> StartConsistentSnapshotAsync(MySqlConnection connection, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits until the server has <paramref name="position"/> — written by itself (a primary) or applied from its
    /// source (a replica); false when the timeout passed first. Works whatever the server's role.
    /// </summary>
    public abstract Task<bool> WaitForPositionAsync(MySqlConnection connection, GtidPosition position, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Whether the server refuses writes from ordinary accounts (read_only / super_read_only).</summary>
    public abstract Task<bool> IsReadOnlyAsync(MySqlConnection connection, CancellationToken cancellationToken = default);

    public abstract Task SetReadOnlyAsync(MySqlConnection connection, bool readOnly, CancellationToken cancellationToken = default);

    protected static string Seconds(TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "A wait timeout cannot be negative.");
        }

        return timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
    }

    protected static async Task<string> ScalarAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken) =>
        await connection.QueryScalarAsync(sql, cancellationToken).ConfigureAwait(false) ?? string.Empty;
}

internal sealed class MariaDbFlavor : ServerFlavor
{
    public override GtidFlavor GtidFlavor => GtidFlavor.MariaDb;

    public override string Name => "MariaDB";

    public override async Task<GtidPosition> CurrentPositionAsync(MySqlConnection connection, CancellationToken cancellationToken = default) =>
        GtidPosition.Parse(await ScalarAsync(connection, "SELECT @@global.gtid_binlog_pos", cancellationToken).ConfigureAwait(false), GtidFlavor.MariaDb);

    public override async Task<GtidPosition> StartConsistentSnapshotAsync(MySqlConnection connection, CancellationToken cancellationToken = default)
    {
        // MariaDB reports the binlog coordinates of the snapshot itself (binlog_snapshot_file/position), with no
        // global lock; BINLOG_GTID_POS turns them into the GTID position.
        await connection.ExecuteAsync("START TRANSACTION WITH CONSISTENT SNAPSHOT", cancellationToken).ConfigureAwait(false);
        string? file = null;
        string? position = null;
        await using (var reader = await connection.QueryAsync("SHOW STATUS LIKE 'binlog_snapshot_%'", cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                switch (reader.GetString(0))
                {
                    case "Binlog_snapshot_file": file = reader.GetString(1); break;
                    case "Binlog_snapshot_position": position = reader.GetString(1); break;
                }
            }
        }

        if (string.IsNullOrEmpty(file) || string.IsNullOrEmpty(position))
        {
            throw new InvalidOperationException($"The server {connection.ServerVersion} reported no binlog snapshot coordinates; is log_bin enabled?");
        }

        var gtid = await ScalarAsync(connection,
            $"SELECT BINLOG_GTID_POS({connection.Quoter.String(file)}, {long.Parse(position, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)})",
            cancellationToken).ConfigureAwait(false);
        return GtidPosition.Parse(gtid, GtidFlavor.MariaDb);
    }

    /// <summary>
    /// Waits until the server has <paramref name="position"/>, whatever its role. MASTER_GTID_WAIT alone is not
    /// enough: it waits on gtid_slave_pos, which only the replication applier advances, so on a primary (or any
    /// server that is not replicating) it never sees the server's own writes and runs into its timeout. What a server
    /// has is gtid_binlog_pos (its own writes, and replicated ones with log_slave_updates) united per domain with
    /// gtid_slave_pos (replicated ones without log_slave_updates). While that is short of the target: a server with
    /// running replication threads is waited on with MASTER_GTID_WAIT (woken by the applier, no polling), in slices
    /// of at most a second so a role change during the wait is noticed; any other server is polled with a short,
    /// growing interval. The command timeout only has to outlast one slice.
    /// </summary>
    public override async Task<bool> WaitForPositionAsync(MySqlConnection connection, GtidPosition position, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(position);
        Seconds(timeout); // rejects a negative timeout before any round trip
        if (position.Flavor != GtidFlavor.MariaDb)
        {
            throw new ArgumentException($"The position {position} is a {position.Flavor} position; a MariaDB server needs a MariaDB GTID position (domain-server-sequence).", nameof(position));
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pollInterval = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            var (applied, replicating) = await AppliedPositionAsync(connection, cancellationToken).ConfigureAwait(false);
            if (applied.AtLeast(position))
            {
                return true;
            }

            var remaining = timeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }

            if (replicating)
            {
                var slice = remaining < MaxWaitSlice ? remaining : MaxWaitSlice;
                // MASTER_GTID_WAIT returns 0 when gtid_slave_pos reached the target, -1 on timeout; either way the
                // loop re-reads the applied position, which is the answer.
                await ScalarAsync(connection, $"SELECT MASTER_GTID_WAIT({connection.Quoter.String(position.ToString())}, {Seconds(slice)})", cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Task.Delay(remaining < pollInterval ? remaining : pollInterval, cancellationToken).ConfigureAwait(false);
                pollInterval = TimeSpan.FromTicks(Math.Min(pollInterval.Ticks * 2, MaxPollInterval.Ticks));
            }
        }
    }

    private static readonly TimeSpan MaxWaitSlice = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// What the server has applied (gtid_binlog_pos united per domain with gtid_slave_pos) and whether replication
    /// SQL threads are running (Slaves_running, readable without replication privileges), in one round trip.
    /// </summary>
    internal static async Task<(GtidPosition Applied, bool Replicating)> AppliedPositionAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        const string Sql = "SELECT @@global.gtid_binlog_pos, @@global.gtid_slave_pos, " +
                           "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVES_RUNNING')";
        await using var reader = await connection.QueryAsync(Sql, cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"The server {connection.ServerVersion} returned no row for its GTID positions.");
        }

        var binlog = GtidPosition.Parse(reader.GetString(0) ?? string.Empty, GtidFlavor.MariaDb);
        var replica = GtidPosition.Parse(reader.GetString(1) ?? string.Empty, GtidFlavor.MariaDb);
        var running = long.TryParse(reader.GetString(2), NumberStyles.None, CultureInfo.InvariantCulture, out var threads) && threads > 0;
        return (binlog.Union(replica), running);
    }

    public override async Task<bool> IsReadOnlyAsync(MySqlConnection connection, CancellationToken cancellationToken = default) =>
        await ScalarAsync(connection, "SELECT @@global.read_only", cancellationToken).ConfigureAwait(false) == "1";

    public override Task SetReadOnlyAsync(MySqlConnection connection, bool readOnly, CancellationToken cancellationToken = default) =>
        connection.ExecuteAsync(readOnly ? "SET GLOBAL read_only = ON" : "SET GLOBAL read_only = OFF", cancellationToken);
}

/// <summary>MySQL 8 (experimental: no MySQL server is available to test against).</summary>
internal sealed class MySqlFlavor : ServerFlavor
{
    public override GtidFlavor GtidFlavor => GtidFlavor.MySql;

    public override string Name => "MySQL";

    public override async Task<GtidPosition> CurrentPositionAsync(MySqlConnection connection, CancellationToken cancellationToken = default) =>
        GtidPosition.Parse(await ScalarAsync(connection, "SELECT @@global.gtid_executed", cancellationToken).ConfigureAwait(false), GtidFlavor.MySql);

    public override async Task<GtidPosition> StartConsistentSnapshotAsync(MySqlConnection connection, CancellationToken cancellationToken = default)
    {
        // MySQL has no snapshot coordinates: hold a global read lock while the snapshot starts and gtid_executed is read.
        await connection.ExecuteAsync("FLUSH TABLES WITH READ LOCK", cancellationToken).ConfigureAwait(false);
        try
        {
            await connection.ExecuteAsync("START TRANSACTION WITH CONSISTENT SNAPSHOT", cancellationToken).ConfigureAwait(false);
            return GtidPosition.Parse(await ScalarAsync(connection, "SELECT @@global.gtid_executed", cancellationToken).ConfigureAwait(false), GtidFlavor.MySql);
        }
        finally
        {
            await connection.ExecuteAsync("UNLOCK TABLES", cancellationToken).ConfigureAwait(false);
        }
    }

    public override async Task<bool> WaitForPositionAsync(MySqlConnection connection, GtidPosition position, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(position);
        // WAIT_FOR_EXECUTED_GTID_SET returns 0 when reached, 1 on timeout.
        var result = await ScalarAsync(connection, $"SELECT WAIT_FOR_EXECUTED_GTID_SET({connection.Quoter.String(position.ToString())}, {Seconds(timeout)})", cancellationToken).ConfigureAwait(false);
        return result == "0";
    }

    public override async Task<bool> IsReadOnlyAsync(MySqlConnection connection, CancellationToken cancellationToken = default) =>
        await ScalarAsync(connection, "SELECT @@global.read_only OR @@global.super_read_only", cancellationToken).ConfigureAwait(false) == "1";

    public override Task SetReadOnlyAsync(MySqlConnection connection, bool readOnly, CancellationToken cancellationToken = default) =>
        connection.ExecuteAsync(readOnly ? "SET GLOBAL super_read_only = ON" : "SET GLOBAL read_only = OFF", cancellationToken);
}
