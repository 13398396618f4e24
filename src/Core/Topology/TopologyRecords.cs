using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Durable.Topology;

/// <summary>The tablet types Durable reads from and writes to, as Vitess names them.</summary>
public enum TabletType
{
    Primary,
    Replica,
    Rdonly,
}

public static partial class TabletTypes
{
    public static string Name(TabletType type) => type.ToString().ToUpperInvariant();

    /// <summary>Parses PRIMARY/REPLICA/RDONLY in any case (MASTER is accepted as the old name of PRIMARY).</summary>
    public static TabletType Parse(string text) => text.Trim().ToUpperInvariant() switch
    {
        "PRIMARY" or "MASTER" => TabletType.Primary,
        "REPLICA" => TabletType.Replica,
        "RDONLY" or "BATCH" => TabletType.Rdonly,
        _ => throw new ArgumentException($"Unknown tablet type '{text}'; expected PRIMARY, REPLICA or RDONLY."),
    };

    [GeneratedRegex("^[a-zA-Z0-9_]+$")]
    internal static partial Regex NamePattern();

    /// <summary>Keyspace, cell and mount names become etcd key segments and SQL identifiers: keep them plain.</summary>
    public static void ValidateName(string what, string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !NamePattern().IsMatch(name))
        {
            throw new TopologyValidationException(
                $"Invalid {what} name '{name}': use 1-64 letters, digits or underscores.");
        }
    }
}

/// <summary>A cell: a failure domain whose tablets are listed under its own root.</summary>
public sealed record CellInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("root")] string Root);

/// <summary>A keyspace: a logical database, unsharded (one shard "0") or sharded by key range.</summary>
public sealed record KeyspaceRecord(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("sharded")] bool Sharded,
    [property: JsonPropertyName("sidecar_db_name")] string SidecarDbName = "_vt");

/// <summary>Per tablet type, the tables a shard must not serve (set while traffic moves between keyspaces).</summary>
public sealed record TabletControl(
    [property: JsonPropertyName("tablet_type")] string TabletType,
    [property: JsonPropertyName("cells")] IReadOnlyList<string> Cells,
    [property: JsonPropertyName("denied_tables")] IReadOnlyList<string> DeniedTables,
    [property: JsonPropertyName("frozen")] bool Frozen = false);

public sealed record ShardRecord(
    [property: JsonPropertyName("keyspace")] string Keyspace,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("key_range")] string KeyRange,
    [property: JsonPropertyName("primary_alias")] string? PrimaryAlias,
    [property: JsonPropertyName("is_primary_serving")] bool IsPrimaryServing,
    [property: JsonPropertyName("tablet_controls")] IReadOnlyList<TabletControl> TabletControls);

/// <summary>
/// One MySQL/MariaDB server. <see cref="PasswordRef"/> says where the password is (<c>secret:NAME</c> or
/// <c>env:NAME</c>); the topology never holds a password.
/// </summary>
public sealed record TabletRecord(
    [property: JsonPropertyName("alias")] string Alias,
    [property: JsonPropertyName("cell")] string Cell,
    [property: JsonPropertyName("uid")] long Uid,
    [property: JsonPropertyName("keyspace")] string Keyspace,
    [property: JsonPropertyName("shard")] string Shard,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("db_name")] string DbName,
    [property: JsonPropertyName("user")] string User,
    [property: JsonPropertyName("password_ref")] string PasswordRef,
    [property: JsonPropertyName("server_id")] long? ServerId = null)
{
    [JsonIgnore]
    public TabletType TabletType => TabletTypes.Parse(Type);

    /// <summary>The alias as Vitess prints it: cell, dash, uid zero-padded to 10 digits (zone1-0000000100).</summary>
    public static string MakeAlias(string cell, long uid) => $"{cell}-{uid:D10}";

    /// <summary>Accepts zone1-100 or zone1-0000000100 and returns the canonical form.</summary>
    public static string CanonicalAlias(string alias)
    {
        var (cell, uid) = ParseAlias(alias);
        return MakeAlias(cell, uid);
    }

    /// <summary>Splits <c>cell-uid</c>; the cell may itself contain dashes, the uid is after the last one.</summary>
    public static (string Cell, long Uid) ParseAlias(string alias)
    {
        var dash = alias.LastIndexOf('-');
        if (dash <= 0 || !long.TryParse(alias[(dash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var uid))
        {
            throw new TopologyValidationException($"Invalid tablet alias '{alias}': expected <cell>-<uid>, e.g. zone1-100.");
        }

        return (alias[..dash], uid);
    }
}

/// <summary>
/// An external source mounted for Migrate (and MoveTables). <see cref="MountTypes.Vitess"/>: another cluster's topology
/// (<see cref="TopoServer"/>, <see cref="TopoRoot"/>), whose keyspaces, shards and tablets are read there at every step.
/// <see cref="MountTypes.Unmanaged"/>: one plain MySQL/MariaDB server no topology knows, served as the one-shard
/// (<c>0</c>) keyspace <see cref="Keyspace"/> with a single PRIMARY tablet at <see cref="Host"/>:<see cref="Port"/>.
/// <see cref="User"/>/<see cref="PasswordRef"/>, when given, are the account for the mounted tablets (a reference, as on
/// tablet records, resolved by the reading host through its own secrets); they replace the mounted tablets' own
/// references, which point at the other cluster's secrets.
/// </summary>
public sealed record MountRecord(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("topo_type")] string TopoType,
    [property: JsonPropertyName("topo_server")] string TopoServer,
    [property: JsonPropertyName("topo_root")] string TopoRoot,
    [property: JsonPropertyName("type")] string? Type = null,
    [property: JsonPropertyName("user")] string? User = null,
    [property: JsonPropertyName("password_ref")] string? PasswordRef = null,
    [property: JsonPropertyName("keyspace")] string? Keyspace = null,
    [property: JsonPropertyName("host")] string? Host = null,
    [property: JsonPropertyName("port")] int? Port = null,
    [property: JsonPropertyName("db_name")] string? DbName = null)
{
    /// <summary>vitess (a mounted topology) unless stored as unmanaged; records written before the type existed are vitess.</summary>
    [JsonIgnore]
    public string MountType => string.IsNullOrEmpty(Type) ? MountTypes.Vitess : Type;

    [JsonIgnore]
    public bool IsUnmanaged => MountType == MountTypes.Unmanaged;
}

public static class MountTypes
{
    public const string Vitess = "vitess";
    public const string Unmanaged = "unmanaged";
}

/// <summary>Who holds a keyspace lock, why, and until when (the lease behind it ends it if the holder dies).</summary>
public sealed record LockRecord(
    [property: JsonPropertyName("holder")] string Holder,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("acquired_at")] DateTimeOffset AcquiredAt,
    [property: JsonPropertyName("ttl_seconds")] long TtlSeconds,
    [property: JsonPropertyName("lease_id")] long LeaseId);

/// <summary>A record read from etcd with the revision a compare-and-swap update must name.</summary>
public sealed record Versioned<T>(T Value, long ModRevision);

public static class TopologyJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        WriteIndented = false,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json, string key) =>
        JsonSerializer.Deserialize<T>(json, Options)
        ?? throw new TopologyException($"Topology record {key} is empty or null.");
}

/// <summary>Base of the errors the topology reports; the message always names the object and the problem.</summary>
public class TopologyException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Input that would make the topology invalid; nothing was written.</summary>
public sealed class TopologyValidationException(string message) : TopologyException(message);

/// <summary>Someone else changed the record since it was read; nothing was written. Re-read and retry.</summary>
public sealed class TopologyConflictException(string message) : TopologyException(message);

public sealed class TopologyNotFoundException(string message) : TopologyException(message);

/// <summary>The keyspace lock this write depended on has expired or been taken by another holder.</summary>
public sealed class TopologyLockLostException(string message) : TopologyException(message);

/// <summary>The lock could not be taken in time; the message names the current holder and reason.</summary>
public sealed class TopologyLockTimeoutException(string message) : TopologyException(message);
