using Durable.MySql;

namespace Durable.Topology;

/// <summary>
/// The full tablet probe: logs in to the tablet with its user and resolved password reference, and for a replica or
/// rdonly tablet reads its replication state (MariaDB <c>SHOW ALL SLAVES STATUS</c>, MySQL <c>SHOW REPLICA STATUS</c>):
/// both threads running, and <c>Seconds_Behind_Master</c> as the lag. A tablet that is not replicating from anything
/// counts as "replication not running". Errors are reported as the tablet being unreachable, with the server's
/// message (which never contains the password).
/// </summary>
public sealed class MySqlReplicationProbe(IReadOnlyDictionary<string, string>? secrets = null, TimeSpan? connectTimeout = null) : ITabletHealthProbe
{
    public async Task<TabletHealth> ProbeAsync(TabletRecord tablet, CancellationToken ct)
    {
        var password = CredentialReference.Resolve(tablet.PasswordRef, secrets);
        MySqlConnection connection;
        try
        {
            connection = await MySqlConnection.OpenAsync(
                new MySqlConnectionOptions
                {
                    Host = tablet.Host,
                    Port = tablet.Port,
                    User = tablet.User,
                    Password = password,
                    ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(5),
                    CommandTimeout = TimeSpan.FromSeconds(10),
                },
                ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return TabletHealth.Unreachable($"{tablet.Host}:{tablet.Port}: {e.Message}");
        }

        await using (connection.ConfigureAwait(false))
        {
            if (tablet.TabletType == TabletType.Primary)
            {
                return new TabletHealth(true);
            }

            var sql = connection.IsMariaDb ? "SHOW ALL SLAVES STATUS" : "SHOW REPLICA STATUS";
            var channels = 0;
            var running = true;
            double? lag = null;
            var problems = new List<string>();
            var reader = await connection.QueryAsync(sql, ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    channels++;
                    var io = Column(reader, "Slave_IO_Running", "Replica_IO_Running");
                    var applier = Column(reader, "Slave_SQL_Running", "Replica_SQL_Running");
                    if (io != "Yes" || applier != "Yes")
                    {
                        running = false;
                        problems.Add($"IO thread {io ?? "?"}, SQL thread {applier ?? "?"}" + Errors(reader));
                    }

                    var seconds = Column(reader, "Seconds_Behind_Master", "Seconds_Behind_Source");
                    if (seconds is not null && double.TryParse(seconds, System.Globalization.CultureInfo.InvariantCulture, out var value))
                    {
                        lag = Math.Max(lag ?? 0, value);
                    }
                }
            }

            if (channels == 0)
            {
                return new TabletHealth(true, false, null, "it is not configured as a replica");
            }

            return new TabletHealth(true, running, running ? lag : null, problems.Count == 0 ? null : string.Join("; ", problems));
        }
    }

    private static string? Column(MySqlDataReader reader, string mariaDbName, string mySqlName)
    {
        foreach (var name in new[] { mariaDbName, mySqlName })
        {
            for (var i = 0; i < reader.FieldCount; i++)
            {
                if (string.Equals(reader.Columns[i].Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    return reader.GetString(i);
                }
            }
        }

        return null;
    }

    private static string Errors(MySqlDataReader reader)
    {
        var io = Column(reader, "Last_IO_Error", "Last_IO_Error");
        var applier = Column(reader, "Last_SQL_Error", "Last_SQL_Error");
        var text = string.Join("; ", new[] { io, applier }.Where(e => !string.IsNullOrEmpty(e)));
        return text.Length == 0 ? "" : $": {text}";
    }
}
