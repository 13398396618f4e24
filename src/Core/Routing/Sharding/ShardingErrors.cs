namespace Durable.Routing.Sharding;

/// <summary>The refusals of statements on sharded keyspaces (1235 unless said), each naming what and why.</summary>
internal static class ShardingErrors
{
    private const string Doc = "see docs/gateway-sharding.md";

    public static GatewaySqlException NoVindex(string keyspace, string table, string known) =>
        new(GatewaySqlException.NotSupported, "42000",
            $"table {table} of sharded keyspace '{keyspace}' has no primary vindex in the keyspace's VSchema, so the gateway cannot tell which shard holds its rows; tables with one: {(known.Length == 0 ? "(none)" : known)}; {Doc}");

    public static GatewaySqlException Unmappable(string table, string column, string written, string vindexType, string why) =>
        new(GatewaySqlException.Unknown, "HY000",
            $"value {written} of {table}.{column} (vindex {vindexType}) cannot be placed on a shard: {why}");

    public static GatewaySqlException Refused(string what, string why) =>
        new(GatewaySqlException.NotSupported, "42000", $"{what} is not supported on a sharded keyspace through the gateway: {why}; {Doc}");
}
