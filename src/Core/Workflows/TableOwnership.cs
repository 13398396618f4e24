using System.Text.Json.Serialization;

namespace Durable.Workflows;

/// <summary>One table on one shard of a keyspace.</summary>
public sealed record ShardTable(
    [property: JsonPropertyName("shard")] string Shard,
    [property: JsonPropertyName("table")] string Table);

/// <summary>
/// Which target tables a workflow owns: every table it moves, on every target shard, except the ones that were there
/// before create and that it adopted (empty and defined as the workflow would create them). Recorded once, before create
/// creates any table, so a later delivery of create (which finds the tables the first one created) cannot mistake its
/// own tables for adopted ones, nor the other way round. Cancel drops or renames only owned tables.
/// </summary>
public sealed record TableOwnership(
    [property: JsonPropertyName("instance_id")] string InstanceId,
    [property: JsonPropertyName("adopted")] IReadOnlyList<ShardTable> Adopted,
    [property: JsonPropertyName("recorded_at")] DateTimeOffset RecordedAt)
{
    public bool Owns(string shard, string table) => !Adopted.Contains(new ShardTable(shard, table));

    /// <summary>"customer on 0, corder on -80": for messages.</summary>
    public static string Describe(IEnumerable<ShardTable> tables) => string.Join(", ", tables.Select(t => $"{t.Table} on shard {t.Shard}"));
}
