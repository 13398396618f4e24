using Durable.MySql;
using Durable.Testing;

namespace Durable.Gateway.Tests;

/// <summary>A table of its own in a keyspace's database, created and dropped with the dba account directly on the primary.</summary>
internal sealed class PrivateTable : IAsyncDisposable
{
    private readonly MySqlConnectionOptions _dba;

    private PrivateTable(MySqlConnectionOptions dba, string name)
    {
        _dba = dba;
        Name = name;
    }

    public string Name { get; }

    public static async Task<PrivateTable> CreateAsync(string keyspace = "commerce", string columns = "id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64)")
    {
        var tablet = LocalCluster.Current.Primary(keyspace);
        var (user, password) = LocalCluster.Current.Account("dba");
        var dba = new MySqlConnectionOptions { Host = tablet.Host, Port = tablet.Port, User = user, Password = password, Database = tablet.DbName, SslMode = SslMode.Disabled };
        var name = $"gw_{Guid.NewGuid():N}"[..20];
        await using var connection = await MySqlConnection.OpenAsync(dba);
        await connection.ExecuteAsync($"CREATE TABLE {name} ({columns})");
        return new PrivateTable(dba, name);
    }

    /// <summary>Runs a statement on the primary directly (not through the gateway).</summary>
    public async Task<string?> ScalarAsync(string sql)
    {
        await using var connection = await MySqlConnection.OpenAsync(_dba);
        return await connection.QueryScalarAsync(sql);
    }

    public async ValueTask DisposeAsync()
    {
        await using var connection = await MySqlConnection.OpenAsync(_dba);
        await connection.ExecuteAsync($"DROP TABLE IF EXISTS {Name}");
    }
}
