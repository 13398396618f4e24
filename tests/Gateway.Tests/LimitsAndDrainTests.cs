using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>The connection limit, readiness, and the drain on stop.</summary>
[Trait("Category", "Integration")]
public sealed class LimitsAndDrainTests
{
    [Fact]
    public async Task Over_the_connection_limit_a_client_gets_too_many_connections()
    {
        await using var gateway = await GatewayUnderTest.StartAsync(s => s.MaxConnections = 1);
        await using var first = new MySqlConnection(gateway.ConnectionString());
        await first.OpenAsync();
        var refused = Assert.Throws<MySqlException>(() =>
        {
            using var second = new MySqlConnection(gateway.ConnectionString());
            second.Open();
        });
        Assert.Equal(1040, refused.Number);
        Assert.Contains("Too many connections", refused.Message, StringComparison.Ordinal);
        await first.CloseAsync();
        await Task.Delay(200);
        await using var third = new MySqlConnection(gateway.ConnectionString());
        await third.OpenAsync();
    }

    [Fact]
    public async Task Readyz_is_200_once_loaded_and_a_drain_lets_an_open_transaction_commit_while_idle_sessions_close()
    {
        await using var gateway = await GatewayUnderTest.StartAsync(s => s.DrainSeconds = 10);
        await using var table = await PrivateTable.CreateAsync();
        using var http = new HttpClient();
        var ready = await http.GetAsync($"http://127.0.0.1:{gateway.HttpPort}/readyz");
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{gateway.HttpPort}/healthz")).StatusCode);

        await using var inTransaction = new MySqlConnection(gateway.ConnectionString());
        await inTransaction.OpenAsync();
        await using var idle = new MySqlConnection(gateway.ConnectionString());
        await idle.OpenAsync();
        var tx = await inTransaction.BeginTransactionAsync();
        await new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('during drain')", inTransaction, tx).ExecuteNonQueryAsync();

        var stopping = gateway.App.StopAsync();
        await Task.Delay(500);
        Assert.False(stopping.IsCompleted);
        await Assert.ThrowsAnyAsync<Exception>(() => new MySqlCommand("SELECT 1", idle).ExecuteScalarAsync());
        await new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('still in the transaction')", inTransaction, tx).ExecuteNonQueryAsync();
        await tx.CommitAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("2", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));
    }
}
