using Durable.Testing;
using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>Session state through the gateway: pinning, carried SETs, keyspace targets, the previous statement's answers.</summary>
[Trait("Category", "Integration")]
public sealed class SessionTests
{
    private static async Task<object?> ScalarAsync(MySqlConnection connection, string sql) => await new MySqlCommand(sql, connection).ExecuteScalarAsync();

    [Fact]
    public async Task User_variables_temporary_tables_and_named_locks_pin_the_backend_connection()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var connection = new MySqlConnection(gateway.ConnectionString(extra: "AllowUserVariables=true;"));
        await connection.OpenAsync();
        await ScalarAsync(connection, "SET @gw_marker = 42");
        await ScalarAsync(connection, "CREATE TEMPORARY TABLE gw_temp (id INT)");
        await ScalarAsync(connection, "INSERT INTO gw_temp VALUES (7)");
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync(connection, "SELECT GET_LOCK('gw_lock_test', 1)")));
        // A statement on another keyspace takes another backend connection; the pinned one stays the session's.
        await ScalarAsync(connection, "USE customer");
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync(connection, "SELECT 1")));
        await ScalarAsync(connection, "USE commerce");
        Assert.Equal(42L, Convert.ToInt64(await ScalarAsync(connection, "SELECT @gw_marker")));
        Assert.Equal(7, Convert.ToInt32(await ScalarAsync(connection, "SELECT id FROM gw_temp")));
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync(connection, "SELECT IS_USED_LOCK('gw_lock_test') = CONNECTION_ID()")));
    }

    [Fact]
    public async Task Session_sets_are_carried_to_every_backend_connection_and_use_changes_the_keyspace()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        await ScalarAsync(connection, "SET SESSION sql_mode = 'ANSI_QUOTES'");
        Assert.Equal("commerce", await ScalarAsync(connection, "SELECT DATABASE()"));
        await ScalarAsync(connection, "USE customer");
        Assert.Equal("customer", await ScalarAsync(connection, "SELECT DATABASE()"));
        Assert.Equal(LocalCluster.Current.Primary("customer").Port, Convert.ToInt32(await ScalarAsync(connection, "SELECT @@port")));
        Assert.Equal("ANSI_QUOTES", await ScalarAsync(connection, "SELECT @@SESSION.sql_mode"));
        await connection.ChangeDatabaseAsync("commerce@replica");
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync(connection, "SELECT @@read_only")));
        Assert.Equal("ANSI_QUOTES", await ScalarAsync(connection, "SELECT @@SESSION.sql_mode"));
    }

    [Fact]
    public async Task Show_warnings_and_found_rows_answer_for_the_previous_statement()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        await ScalarAsync(connection, "SELECT CAST('12abc' AS SIGNED)");
        await using (var reader = await new MySqlCommand("SHOW WARNINGS", connection).ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Contains("12abc", reader.GetString(2), StringComparison.Ordinal);
        }

        await using (var reader = await new MySqlCommand("SELECT SQL_CALC_FOUND_ROWS seq FROM seq_1_to_10 LIMIT 3", connection).ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
            }
        }

        Assert.Equal(10L, Convert.ToInt64(await ScalarAsync(connection, "SELECT FOUND_ROWS()")));
    }

    [Fact]
    public async Task A_transaction_is_pinned_and_spans_one_keyspace()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var table = await PrivateTable.CreateAsync();
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        await ScalarAsync(connection, "BEGIN");
        await ScalarAsync(connection, $"INSERT INTO {table.Name} (v) VALUES ('in tx')");
        var id = Convert.ToInt64(await ScalarAsync(connection, "SELECT CONNECTION_ID()"));
        Assert.Equal(id, Convert.ToInt64(await ScalarAsync(connection, "SELECT CONNECTION_ID()")));
        Assert.Equal("0", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));
        var other = await Assert.ThrowsAsync<MySqlException>(() => ScalarAsync(connection, "SELECT * FROM customer.customer"));
        Assert.Equal(1235, other.Number);
        Assert.Contains("COMMIT or ROLLBACK first", other.Message, StringComparison.Ordinal);
        await ScalarAsync(connection, "COMMIT");
        Assert.Equal("1", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));

        // autocommit=0: every statement is inside a transaction until COMMIT.
        await ScalarAsync(connection, "SET autocommit = 0");
        await ScalarAsync(connection, $"INSERT INTO {table.Name} (v) VALUES ('autocommit off')");
        Assert.Equal("1", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));
        await ScalarAsync(connection, "ROLLBACK");
        Assert.Equal("1", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name}"));
    }
}
