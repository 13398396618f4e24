using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.Replication;

/// <summary>
/// The sidecar schema on a target primary (default <c>_vt</c>): stream rows, per-table copy state and a log of state
/// changes. <see cref="EnsureAsync"/> creates it or migrates it to the newest version; every step is idempotent
/// (IF NOT EXISTS) and the whole run holds a named server lock, so concurrent engines on one server do it once.
/// </summary>
public sealed class Sidecar
{
    public const string DefaultName = "_vt";

    /// <summary>Migration steps in order; version N is reached after step N-1. Append, never edit.</summary>
    private static readonly string[] Steps =
    [
        """
        CREATE TABLE IF NOT EXISTS {db}.vreplication (
          id BIGINT NOT NULL AUTO_INCREMENT,
          workflow VARCHAR(255) NOT NULL,
          source_keyspace VARCHAR(255) NOT NULL,
          source_shard VARCHAR(255) NOT NULL,
          target_keyspace VARCHAR(255) NOT NULL,
          target_shard VARCHAR(255) NOT NULL,
          target_db VARCHAR(255) NOT NULL,
          filter MEDIUMTEXT NOT NULL,
          pos VARCHAR(10000) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
          stop_pos VARCHAR(10000) CHARACTER SET ascii COLLATE ascii_bin NULL,
          state VARCHAR(20) NOT NULL,
          owner_epoch BIGINT NOT NULL DEFAULT 0,
          message TEXT NULL,
          tablet_types VARCHAR(100) NOT NULL DEFAULT 'PRIMARY',
          cells VARCHAR(1000) NOT NULL DEFAULT '',
          on_ddl VARCHAR(20) NOT NULL DEFAULT 'IGNORE',
          options TEXT NULL,
          time_updated BIGINT NOT NULL DEFAULT 0,
          transaction_timestamp BIGINT NOT NULL DEFAULT 0,
          time_heartbeat BIGINT NOT NULL DEFAULT 0,
          time_throttled BIGINT NOT NULL DEFAULT 0,
          rows_copied BIGINT NOT NULL DEFAULT 0,
          PRIMARY KEY (id),
          UNIQUE KEY stream_identity (workflow, source_keyspace, source_shard, target_keyspace, target_shard)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
        """
        CREATE TABLE IF NOT EXISTS {db}.copy_state (
          vrepl_id BIGINT NOT NULL,
          table_name VARCHAR(64) NOT NULL,
          lastpk MEDIUMTEXT NULL,
          done TINYINT NOT NULL DEFAULT 0,
          rows_copied BIGINT NOT NULL DEFAULT 0,
          deferred_keys MEDIUMTEXT NULL,
          PRIMARY KEY (vrepl_id, table_name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
        """
        CREATE TABLE IF NOT EXISTS {db}.vreplication_log (
          id BIGINT NOT NULL AUTO_INCREMENT,
          vrepl_id BIGINT NOT NULL,
          type VARCHAR(64) NOT NULL,
          state VARCHAR(20) NOT NULL,
          message TEXT NULL,
          created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          PRIMARY KEY (id),
          KEY by_stream (vrepl_id, id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
    ];

    public Sidecar(string name = DefaultName)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Sidecar database name '{name}' is invalid: use 1 to 64 letters, digits and '_'.", nameof(name));
        }

        Name = name;
    }

    public string Name { get; }

    public static int LatestVersion => Steps.Length;

    /// <summary>The quoted name of a sidecar table, e.g. <c>`_vt`.`vreplication`</c>.</summary>
    public string Table(string table) => SqlQuoter.QualifiedName(Name, table);

    /// <summary>Creates or migrates the sidecar; returns the version it is at afterwards.</summary>
    public async Task<int> EnsureAsync(MySqlConnection connection, CancellationToken ct = default)
    {
        var lockName = connection.Quoter.String("durable_sidecar_" + Name);
        var got = await connection.QueryScalarAsync($"SELECT GET_LOCK({lockName}, 60)", ct).ConfigureAwait(false);
        if (got != "1")
        {
            throw new ReplicationException($"Could not take the sidecar migration lock on {connection.Options.Host}:{connection.Options.Port} within 60 s.");
        }

        try
        {
            var db = SqlQuoter.Identifier(Name);
            // The sidecar is bookkeeping that replicas must have too (so a promoted replica carries the streams on).
            await connection.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {db} DEFAULT CHARACTER SET utf8mb4", ct).ConfigureAwait(false);
            await connection.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {db}.schema_version (name VARCHAR(64) NOT NULL PRIMARY KEY, version INT NOT NULL) ENGINE=InnoDB", ct).ConfigureAwait(false);
            var current = int.Parse(await connection.QueryScalarAsync($"SELECT IFNULL(MAX(version), 0) FROM {db}.schema_version WHERE name = 'sidecar'", ct).ConfigureAwait(false) ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            if (current > Steps.Length)
            {
                throw new ReplicationException($"The sidecar {Name} is at version {current}, newer than this engine's {Steps.Length}; upgrade the engine.");
            }

            for (var v = current; v < Steps.Length; v++)
            {
                await connection.ExecuteAsync(Steps[v].Replace("{db}", db, StringComparison.Ordinal), ct).ConfigureAwait(false);
                await connection.ExecuteAsync($"REPLACE INTO {db}.schema_version (name, version) VALUES ('sidecar', {v + 1})", ct).ConfigureAwait(false);
            }

            return Steps.Length;
        }
        finally
        {
            await connection.QueryScalarAsync($"SELECT RELEASE_LOCK({lockName})", CancellationToken.None).ConfigureAwait(false);
        }
    }
}
