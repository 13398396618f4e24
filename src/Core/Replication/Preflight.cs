using Durable.MySql;
using Durable.MySql.Sql;

namespace Durable.Replication;

public sealed record PreflightOptions
{
    /// <summary>Allow foreign keys to tables the workflow does not move (Vitess would refuse them too, by default).</summary>
    public bool AllowForeignKeysToUnmovedTables { get; init; }

    /// <summary>Allow target tables that already hold rows (only for a re-created stream over a kept copy).</summary>
    public bool AllowNonEmptyTargetTables { get; init; }
}

/// <summary>
/// The refusals checked before a stream is created, each with a message naming the table or setting and what would be
/// valid: no primary key, target rows present, system-versioned tables, foreign keys to tables not moved, key column
/// types the engine cannot range-copy faithfully, and binlog settings that make replication unfaithful.
/// </summary>
public sealed class Preflight(TabletConnector connector)
{
    private static readonly HashSet<string> KeyTypesRefused = new(StringComparer.OrdinalIgnoreCase)
    {
        "float", "double", "real", "enum", "set", "json", "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection",
    };

    private static readonly HashSet<string> KnownTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double", "bit", "year", "date", "time", "datetime", "timestamp",
        "char", "varchar", "binary", "varbinary", "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob",
        "enum", "set", "json", "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection",
        "uuid", "inet4", "inet6",
    };

    public async Task<IReadOnlyList<string>> CheckAsync(StreamSpec spec, PreflightOptions? options = null, CancellationToken ct = default)
    {
        options ??= new PreflightOptions();
        spec.Validate();
        var reasons = new List<string>();
        var source = await connector.Resolver.SourceAsync(spec.SourceKeyspace, spec.SourceShard, spec.TabletTypes, [], ct).ConfigureAwait(false);
        await using (var c = await connector.OpenAsync(source, ct: ct).ConfigureAwait(false))
        {
            await CheckBinlogAsync(c, source, reasons, ct).ConfigureAwait(false);
            var moved = spec.Filter.Rules.Select(r => r.Table).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var rule in spec.Filter.Rules)
            {
                await CheckSourceTableAsync(c, source.DbName, rule.Table, moved, options, reasons, ct).ConfigureAwait(false);
            }
        }

        var target = await connector.Resolver.PrimaryAsync(spec.TargetKeyspace, spec.TargetShard, ct).ConfigureAwait(false);
        await using var t = await connector.OpenAsync(target, ct: ct).ConfigureAwait(false);
        if (spec.Options.SourceTimeZone is { } zone &&
            await t.QueryScalarAsync($"SELECT CONVERT_TZ('2000-01-01 00:00:00', {t.Quoter.String(zone)}, '+00:00')", ct).ConfigureAwait(false) is null)
        {
            // CONVERT_TZ answers NULL for a zone it does not know: every DATETIME would be written as NULL.
            reasons.Add($"Source time zone '{zone}' is unknown to the target tablet {target.Alias}: its DATETIME values could not be converted to UTC. " +
                        "Load the target's time zone tables (mariadb-tzinfo-to-sql) or give an offset such as '+02:00'.");
        }

        if (!options.AllowNonEmptyTargetTables)
        {
            foreach (var rule in spec.Filter.Rules)
            {
                if (await TableSchema.TryLoadAsync(t, spec.TargetDb, rule.Table, ct).ConfigureAwait(false) is not null &&
                    await t.QueryScalarAsync($"SELECT 1 FROM {SqlQuoter.QualifiedName(spec.TargetDb, rule.Table)} LIMIT 1", ct).ConfigureAwait(false) is not null)
                {
                    reasons.Add($"Target table {spec.TargetDb}.{rule.Table} on {target.Alias} already holds rows; a copy needs an empty (or absent) target table.");
                }
            }
        }

        return reasons;
    }

    /// <summary>Throws <see cref="StreamRefusedException"/> with every reason when the checks fail.</summary>
    public async Task EnsureAsync(StreamSpec spec, PreflightOptions? options = null, CancellationToken ct = default)
    {
        var reasons = await CheckAsync(spec, options, ct).ConfigureAwait(false);
        if (reasons.Count > 0)
        {
            throw new StreamRefusedException(reasons);
        }
    }

    private static async Task CheckBinlogAsync(MySqlConnection c, TabletEndpoint source, List<string> reasons, CancellationToken ct)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var names = c.IsMariaDb
            ? new[] { "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "gtid_strict_mode" }
            : ["log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "gtid_mode"];
        foreach (var name in names)
        {
            settings[name] = await c.QueryScalarAsync($"SELECT @@global.{name}", ct).ConfigureAwait(false);
        }

        void Expect(string name, params string[] valid)
        {
            if (!valid.Contains(settings[name], StringComparer.OrdinalIgnoreCase))
            {
                reasons.Add($"Source {source.Alias} has {name}={settings[name] ?? "NULL"}; replication needs {string.Join(" or ", valid)}.");
            }
        }

        Expect("log_bin", "1", "ON");
        Expect("binlog_format", "ROW");
        Expect("binlog_row_image", "FULL");
        Expect("binlog_row_metadata", "FULL");
        if (c.IsMariaDb)
        {
            Expect("gtid_strict_mode", "1", "ON");
        }
        else
        {
            Expect("gtid_mode", "ON");
        }
    }

    private static async Task CheckSourceTableAsync(MySqlConnection c, string db, string table, HashSet<string> moved, PreflightOptions options, List<string> reasons, CancellationToken ct)
    {
        var q = c.Quoter;
        var type = await c.QueryScalarAsync($"SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {q.String(db)} AND TABLE_NAME = {q.String(table)}", ct).ConfigureAwait(false);
        if (type is null)
        {
            reasons.Add($"Table {db}.{table} does not exist on the source.");
            return;
        }

        if (type.Contains("VERSIONED", StringComparison.OrdinalIgnoreCase))
        {
            reasons.Add($"Table {db}.{table} is system-versioned; its history rows cannot be carried by row events. Remove system versioning or leave the table out.");
        }
        else if (!string.Equals(type, "BASE TABLE", StringComparison.OrdinalIgnoreCase))
        {
            reasons.Add($"{db}.{table} is a {type}, not a base table; only base tables can be moved.");
        }

        var schema = await TableSchema.LoadAsync(c, db, table, ct).ConfigureAwait(false);
        if (schema.PrimaryKey.Count == 0)
        {
            reasons.Add($"Table {db}.{table} has no primary key; rows are copied in key ranges and applied by key, so it needs one.");
        }

        foreach (var k in schema.PrimaryKey.Select(i => schema.Columns[i]).Where(col => KeyTypesRefused.Contains(col.DataType)))
        {
            reasons.Add($"Primary key column {table}.{k.Name} is {k.DataType}; key ranges over {k.DataType} cannot be compared faithfully. Key columns may be integers, DECIMAL, strings, binary strings or temporal types.");
        }

        foreach (var col in schema.Columns.Where(col => !KnownTypes.Contains(col.DataType)))
        {
            reasons.Add($"Column {table}.{col.Name} has type {col.DataType}, which the engine cannot carry faithfully; supported: {string.Join(", ", KnownTypes.Order())}.");
        }

        if (!options.AllowForeignKeysToUnmovedTables)
        {
            var sql = "SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS " +
                      $"WHERE CONSTRAINT_SCHEMA = {q.String(db)} AND (TABLE_NAME = {q.String(table)} OR REFERENCED_TABLE_NAME = {q.String(table)})";
            await using var r = await c.QueryAsync(sql, ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var (name, child, parent) = (r.GetString(0), r.GetString(1)!, r.GetString(2)!);
                var other = string.Equals(child, table, StringComparison.OrdinalIgnoreCase) ? parent : child;
                if (!moved.Contains(other))
                {
                    reasons.Add($"Foreign key {name} links {child} to {parent}, and {other} is not moved; move it too or pass --allow-foreign-keys.");
                }
            }
        }
    }

    /// <summary>Creates the target database and any missing target table as the source defines it.</summary>
    public async Task CreateTargetTablesAsync(StreamSpec spec, CancellationToken ct = default)
    {
        var source = await connector.Resolver.SourceAsync(spec.SourceKeyspace, spec.SourceShard, spec.TabletTypes, [], ct).ConfigureAwait(false);
        var target = await connector.Resolver.PrimaryAsync(spec.TargetKeyspace, spec.TargetShard, ct).ConfigureAwait(false);
        await using var s = await connector.OpenAsync(source, ct: ct).ConfigureAwait(false);
        await using var t = await connector.OpenAsync(target, ct: ct).ConfigureAwait(false);
        await t.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {SqlQuoter.Identifier(spec.TargetDb)}", ct).ConfigureAwait(false);
        await t.ExecuteAsync("USE " + SqlQuoter.Identifier(spec.TargetDb), ct).ConfigureAwait(false);
        // Foreign keys between moved tables may point at a table created later; the session setting allows that.
        await t.ExecuteAsync("SET SESSION foreign_key_checks = 0", ct).ConfigureAwait(false);
        foreach (var rule in spec.Filter.Rules)
        {
            if (await TableSchema.TryLoadAsync(t, spec.TargetDb, rule.Table, ct).ConfigureAwait(false) is not null)
            {
                continue;
            }

            string? create = null;
            await using (var r = await s.QueryAsync("SHOW CREATE TABLE " + SqlQuoter.QualifiedName(source.DbName, rule.Table), ct).ConfigureAwait(false))
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    create = r.GetString(1);
                }
            }

            await t.ExecuteAsync(create ?? throw new ReplicationException($"SHOW CREATE TABLE {source.DbName}.{rule.Table} returned nothing."), ct).ConfigureAwait(false);
        }
    }
}
