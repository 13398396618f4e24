using Durable.Testing;
using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>A shard's primary reached directly as the dba account (MySqlConnector, the independent reader): what the gateway did, seen on the servers themselves.</summary>
internal static class DirectTablet
{
    /// <param name="extra">More connection-string settings, e.g. "IgnorePrepare=false;" for server-side prepared statements.</param>
    public static async Task<MySqlConnection> OpenAsync(string keyspace, string shard, string extra = "")
    {
        var tablet = LocalCluster.Current.Primary(keyspace, shard);
        var (user, password) = LocalCluster.Current.Account("dba");
        var c = new MySqlConnection($"Server={tablet.Host};Port={tablet.Port};User ID={user};Password={password};Database={tablet.DbName};SslMode=None;Pooling=false;{extra}");
        await c.OpenAsync();
        return c;
    }

    public static async Task ExecAsync(MySqlConnection c, string sql) => await new MySqlCommand(sql, c).ExecuteNonQueryAsync();
}
