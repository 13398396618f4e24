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

    /// <summary>Waits until the server has applied <paramref name="position"/>; false when the timeout passed first.</summary>
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

    public override async Task<bool> WaitForPositionAsync(MySqlConnection connection, GtidPosition position, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(position);
        // MASTER_GTID_WAIT returns 0 when reached, -1 on timeout. The command timeout must outlast the wait.
        var result = await ScalarAsync(connection, $"SELECT MASTER_GTID_WAIT({connection.Quoter.String(position.ToString())}, {Seconds(timeout)})", cancellationToken).ConfigureAwait(false);
        return result == "0";
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
