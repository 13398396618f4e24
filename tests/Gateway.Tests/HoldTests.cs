using Durable.Routing;
using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>
/// The session's side of a cutover hold, with holds driven by hand (i20-topo's tests cover TrafficHolds against etcd):
/// autocommit statements on held tables wait and then run; replica reads never wait; a transaction already open on
/// the tables that meets the write guard while held is rolled back with a retryable error.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HoldTests
{
    [Fact]
    public async Task An_autocommit_write_on_a_held_table_waits_for_the_release_and_replica_reads_do_not()
    {
        await using var gateway = await GatewayUnderTest.StartAsync(manualHolds: true);
        await using var table = await PrivateTable.CreateAsync();
        await using var writer = new MySqlConnection(gateway.ConnectionString());
        await writer.OpenAsync();
        await using var reader = new MySqlConnection(gateway.ConnectionString("commerce@replica"));
        await reader.OpenAsync();

        gateway.ManualHolds!.Hold(new QualifiedTable("commerce", table.Name));
        var insert = new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('held')", writer).ExecuteNonQueryAsync();
        await Task.Delay(500);
        Assert.False(insert.IsCompleted);
        Assert.Equal("0", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));
        Assert.Equal(0L, Convert.ToInt64(await new MySqlCommand($"SELECT COUNT(*) FROM {table.Name}", reader).ExecuteScalarAsync()));

        gateway.ManualHolds.Release();
        Assert.Equal(1, await insert.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("1", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));
        Assert.Equal(1, gateway.ManualHolds.Waits);
    }

    [Fact]
    public async Task A_transaction_open_across_the_hold_that_meets_the_write_guard_is_rolled_back_with_a_retryable_error()
    {
        await using var gateway = await GatewayUnderTest.StartAsync(manualHolds: true);
        await using var table = await PrivateTable.CreateAsync();
        await table.ScalarAsync($"INSERT INTO {table.Name} (v) VALUES ('before')");
        // The write guard as the switch arms it: a trigger that SIGNALs (1644) with the guard's message.
        await table.ScalarAsync($"CREATE TRIGGER {table.Name}_guard BEFORE UPDATE ON {table.Name} FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Durable write guard: test table is switching'");
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();

        // Not held: the guard's error passes through as it is.
        var plain = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand($"UPDATE {table.Name} SET v = 'x'", connection).ExecuteNonQueryAsync());
        Assert.Equal(1644, plain.Number);

        await using (var tx = await connection.BeginTransactionAsync())
        {
            await new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('in flight')", connection, tx).ExecuteNonQueryAsync();
            gateway.ManualHolds!.Hold(new QualifiedTable("commerce", table.Name));
            var failed = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand($"UPDATE {table.Name} SET v = 'y'", connection, tx).ExecuteNonQueryAsync());
            Assert.Equal(1213, failed.Number);
            Assert.Equal("40001", failed.SqlState);
            Assert.Contains("rolled back", failed.Message, StringComparison.Ordinal);
            Assert.Contains("retry", failed.Message, StringComparison.Ordinal);
        }

        gateway.ManualHolds.Release();
        Assert.Equal("1", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));
        Assert.Equal(0, gateway.ManualHolds.Waits);
    }
}
