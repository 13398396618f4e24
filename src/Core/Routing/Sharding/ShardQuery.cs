namespace Durable.Routing.Sharding;

/// <summary>One statement text to run on one shard of a sharded keyspace.</summary>
public sealed record ShardQuery(string Shard, string Sql);
