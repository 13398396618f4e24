using System.Text.Json;
using System.Text.Json.Serialization;
using CoreKeyRange = Durable.Core.KeyRanges.KeyRange;
using Durable.Core.Positions;
using Durable.Core.Vindexes;

namespace Durable.Replication;

/// <summary>The life of a stream. Frozen is final: a frozen stream (the forward stream after a switch) never runs again.</summary>
public enum StreamState
{
    Init,
    Copying,
    Running,
    Stopped,
    Error,
    Frozen,
}

/// <summary>What the apply loop does with a DDL statement on a streamed table (Vitess on_ddl).</summary>
public enum OnDdl
{
    /// <summary>Skip it; the target keeps its schema.</summary>
    Ignore,

    /// <summary>Stop the stream just before it, so an operator can apply the change and restart.</summary>
    Stop,

    /// <summary>Run it on the target; a failure moves the stream to Error.</summary>
    Exec,

    /// <summary>Run it on the target and carry on when it fails.</summary>
    ExecIgnore,
}

public static class StreamStates
{
    /// <summary>The transitions the state machine allows; anything else is a bug or an operator mistake and is refused.</summary>
    private static readonly Dictionary<StreamState, StreamState[]> Allowed = new()
    {
        [StreamState.Init] = [StreamState.Copying, StreamState.Running, StreamState.Stopped, StreamState.Error],
        [StreamState.Copying] = [StreamState.Copying, StreamState.Running, StreamState.Stopped, StreamState.Error],
        [StreamState.Running] = [StreamState.Running, StreamState.Stopped, StreamState.Error, StreamState.Frozen],
        [StreamState.Stopped] = [StreamState.Stopped, StreamState.Running, StreamState.Copying, StreamState.Error, StreamState.Frozen],
        [StreamState.Error] = [StreamState.Error, StreamState.Running, StreamState.Copying, StreamState.Stopped],
        [StreamState.Frozen] = [StreamState.Frozen],
    };

    public static bool CanMove(StreamState from, StreamState to) => Allowed[from].Contains(to);

    public static void CheckMove(long streamId, StreamState from, StreamState to)
    {
        if (!CanMove(from, to))
        {
            throw new InvalidStreamStateException(
                $"Stream {streamId} cannot go from {from} to {to}; from {from} it may go to {string.Join(", ", Allowed[from])}.");
        }
    }

    public static StreamState Parse(string text) =>
        Enum.TryParse<StreamState>(text, ignoreCase: true, out var s) && Enum.IsDefined(s)
            ? s
            : throw new ArgumentException($"Unknown stream state '{text}'; valid: {string.Join(", ", Enum.GetNames<StreamState>())}.");

    public static OnDdl ParseOnDdl(string text) => text.Trim().ToUpperInvariant() switch
    {
        "IGNORE" or "" => OnDdl.Ignore,
        "STOP" => OnDdl.Stop,
        "EXEC" => OnDdl.Exec,
        "EXEC_IGNORE" => OnDdl.ExecIgnore,
        _ => throw new ArgumentException($"Unknown on_ddl '{text}'; valid: IGNORE, STOP, EXEC, EXEC_IGNORE."),
    };

    public static string Name(OnDdl onDdl) => onDdl switch
    {
        OnDdl.Stop => "STOP",
        OnDdl.Exec => "EXEC",
        OnDdl.ExecIgnore => "EXEC_IGNORE",
        _ => "IGNORE",
    };
}

/// <summary>
/// Rows of a table go to this stream only when the primary vindex of the target keyspace maps them into the key range
/// (the target shard's range); Vitess writes the same thing as <c>in_keyrange(col, 'hash', '-80')</c>.
/// </summary>
public sealed record KeyRangeFilter(
    [property: JsonPropertyName("vindex_type")] string VindexType,
    [property: JsonPropertyName("columns")] IReadOnlyList<string> Columns,
    [property: JsonPropertyName("key_range")] string KeyRange)
{
    public void Validate(string table)
    {
        if (!VindexFactory.IsKnown(VindexType))
        {
            throw new ArgumentException($"Table '{table}': unknown vindex type '{VindexType}'; known: {string.Join(", ", VindexFactory.KnownTypes)}.");
        }

        if (Columns.Count != 1)
        {
            throw new ArgumentException($"Table '{table}': the key-range filter needs exactly one vindex column, got {Columns.Count}.");
        }

        if (!CoreKeyRange.TryParseShard(KeyRange, out _, out var error))
        {
            throw new ArgumentException($"Table '{table}': key range '{KeyRange}' is invalid: {error}");
        }
    }
}

/// <summary>One table a stream carries; the target table has the same name.</summary>
public sealed record TableRule(
    [property: JsonPropertyName("table")] string Table,
    [property: JsonPropertyName("key_range_filter")] KeyRangeFilter? KeyRangeFilter = null);

/// <summary>The stream's filter: which tables, and for a sharded target, which rows.</summary>
public sealed record StreamFilter([property: JsonPropertyName("rules")] IReadOnlyList<TableRule> Rules)
{
    public string ToJson() => JsonSerializer.Serialize(this);

    public static StreamFilter Parse(string json)
    {
        var filter = JsonSerializer.Deserialize<StreamFilter>(json) ?? throw new ArgumentException("The stream filter is empty.");
        filter.Validate();
        return filter;
    }

    public void Validate()
    {
        if (Rules is null || Rules.Count == 0)
        {
            throw new ArgumentException("A stream filter needs at least one table rule.");
        }

        foreach (var rule in Rules)
        {
            if (string.IsNullOrWhiteSpace(rule.Table) || rule.Table.Length > 64)
            {
                throw new ArgumentException($"Table name '{rule.Table}' is invalid: 1 to 64 characters.");
            }

            rule.KeyRangeFilter?.Validate(rule.Table);
        }

        var duplicate = Rules.GroupBy(r => r.Table, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Table '{duplicate.Key}' appears {duplicate.Count()} times in the stream filter.");
        }
    }

    public TableRule? Find(string table) => Rules.FirstOrDefault(r => string.Equals(r.Table, table, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Per-stream options set at create time.</summary>
public sealed record StreamOptions
{
    /// <summary>Drop secondary indexes before the copy and re-add them (exactly as defined) when the table is copied.</summary>
    [JsonPropertyName("defer_secondary_keys")]
    public bool DeferSecondaryKeys { get; init; }

    /// <summary>Go to Stopped instead of Running when the copy is done.</summary>
    [JsonPropertyName("stop_after_copy")]
    public bool StopAfterCopy { get; init; }

    /// <summary>The time zone DATETIME values are written in at the source; they are converted to UTC on the way in.</summary>
    [JsonPropertyName("source_time_zone")]
    public string? SourceTimeZone { get; init; }

    /// <summary>An upper bound on applied rows per second (0 = none).</summary>
    [JsonPropertyName("max_rows_per_second")]
    public long MaxRowsPerSecond { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this);

    public static StreamOptions Parse(string? json) =>
        string.IsNullOrWhiteSpace(json) ? new StreamOptions() : JsonSerializer.Deserialize<StreamOptions>(json) ?? new StreamOptions();
}

/// <summary>One row of the sidecar's stream table: the truth about a stream.</summary>
public sealed record StreamRecord(
    long Id,
    string Workflow,
    string SourceKeyspace,
    string SourceShard,
    string TargetKeyspace,
    string TargetShard,
    string TargetDb,
    StreamFilter Filter,
    GtidPosition? Position,
    GtidPosition? StopPosition,
    StreamState State,
    long OwnerEpoch,
    string Message,
    string TabletTypes,
    string Cells,
    OnDdl OnDdl,
    StreamOptions Options,
    long TimeUpdated,
    long TransactionTimestamp,
    long TimeHeartbeat,
    long RowsCopied)
{
    /// <summary>
    /// Replication lag in seconds. A heartbeat newer than the last applied transaction means the stream had applied
    /// everything the source had at that moment, so the lag is the heartbeat's age; otherwise it is the age of the
    /// last applied source transaction.
    /// </summary>
    public long LagSeconds(DateTimeOffset now) =>
        Math.Max(0, now.ToUnixTimeSeconds() - (TimeHeartbeat >= TimeUpdated ? TimeHeartbeat : TransactionTimestamp));
}

/// <summary>Everything needed to create one stream.</summary>
public sealed record StreamSpec
{
    public required string Workflow { get; init; }

    public required string SourceKeyspace { get; init; }

    public required string SourceShard { get; init; }

    public required string TargetKeyspace { get; init; }

    public required string TargetShard { get; init; }

    public required string TargetDb { get; init; }

    public required StreamFilter Filter { get; init; }

    /// <summary>Start position; null for a stream that copies first (the copy sets it).</summary>
    public GtidPosition? Position { get; init; }

    public GtidPosition? StopPosition { get; init; }

    public string TabletTypes { get; init; } = "PRIMARY";

    public string Cells { get; init; } = string.Empty;

    public OnDdl OnDdl { get; init; } = OnDdl.Ignore;

    public StreamOptions Options { get; init; } = new();

    public void Validate()
    {
        foreach (var (what, value) in new[] { ("workflow", Workflow), ("source keyspace", SourceKeyspace), ("source shard", SourceShard), ("target keyspace", TargetKeyspace), ("target shard", TargetShard), ("target database", TargetDb) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > 255)
            {
                throw new ArgumentException($"The {what} '{value}' is invalid: 1 to 255 characters.");
            }
        }

        Filter.Validate();
    }
}

public class ReplicationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A failure retrying cannot fix (schema mismatch, purged binlog, refused table): the stream goes to Error.</summary>
public sealed class TerminalReplicationException(string message, Exception? inner = null) : ReplicationException(message, inner);

/// <summary>The stream is owned by someone else now (its epoch moved) or its position is not what this owner expected.</summary>
public sealed class FencedOutException(string message) : ReplicationException(message);

public sealed class InvalidStreamStateException(string message) : ReplicationException(message);

/// <summary>Refusal to create a stream, with every reason found.</summary>
public sealed class StreamRefusedException(IReadOnlyList<string> reasons)
    : ReplicationException("The stream cannot be created: " + string.Join(" ", reasons))
{
    public IReadOnlyList<string> Reasons { get; } = reasons;
}
