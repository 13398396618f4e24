namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// One database on the shared primary holding every oracle table, created once for the test class and dropped after.
/// The writes stay out of the binlog: the tables are only read here, and a 17 MiB row would otherwise travel to the
/// replicas and to every stream reading the primary.
/// </summary>
public sealed class OracleDatabase : IAsyncLifetime
{
    public string Name { get; } = TestServer.UniqueName("oracle");

    /// <summary>The own client's options for the database (the connector's connection string is built from them).</summary>
    public MySqlConnectionOptions Options => TestServer.Dba(database: Name);

    public async Task InitializeAsync()
    {
        await using var c = await TestServer.OpenDbaAsync();
        await c.ExecuteAsync("SET SESSION sql_log_bin = 0, sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");
        await c.ExecuteAsync($"CREATE DATABASE {Name}");
        await c.ExecuteAsync($"USE {Name}");
        foreach (var table in OracleTables.All)
        {
            await c.ExecuteAsync(table.CreateTable);
            foreach (var insert in table.Inserts)
            {
                await c.ExecuteAsync(insert);
            }
        }
    }

    public async Task DisposeAsync()
    {
        await using var c = await TestServer.OpenDbaAsync();
        await c.ExecuteAsync("SET SESSION sql_log_bin = 0");
        await c.ExecuteAsync($"DROP DATABASE IF EXISTS {Name}");
    }
}
