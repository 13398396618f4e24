using MySqlConnector;

namespace Durable.Gateway.Tests;

/// <summary>MySqlConnector through the gateway: login, queries, result sets, prepared statements, transactions, errors.</summary>
[Trait("Category", "Integration")]
public sealed class ClientProtocolTests
{
    [Fact]
    public async Task MySqlConnector_queries_prepares_and_commits_through_the_gateway()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var table = await PrivateTable.CreateAsync();
        await using var connection = new MySqlConnection(gateway.ConnectionString(extra: "IgnorePrepare=false;"));
        await connection.OpenAsync();
        Assert.Contains("Durable-gateway", connection.ServerVersion, StringComparison.Ordinal);

        await using (var insert = new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES (@v)", connection))
        {
            insert.Parameters.AddWithValue("@v", "first");
            await insert.PrepareAsync();
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
            insert.Parameters["@v"].Value = "second";
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
            Assert.Equal(2L, insert.LastInsertedId);
        }

        await using (var select = new MySqlCommand($"SELECT id, v FROM {table.Name} WHERE id >= @id ORDER BY id", connection))
        {
            select.Parameters.AddWithValue("@id", 1);
            await select.PrepareAsync();
            await using var reader = await select.ExecuteReaderAsync();
            var values = new List<string>();
            while (await reader.ReadAsync())
            {
                values.Add(reader.GetString(1));
            }

            Assert.Equal(["first", "second"], values);
        }

        // A rolled-back transaction leaves nothing; a committed one is on the primary.
        await using (var tx = await connection.BeginTransactionAsync())
        {
            await new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('rolled back')", connection, tx).ExecuteNonQueryAsync();
            await tx.RollbackAsync();
        }

        await using (var tx = await connection.BeginTransactionAsync())
        {
            await new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('committed')", connection, tx).ExecuteNonQueryAsync();
            await tx.CommitAsync();
        }

        Assert.Equal("0", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name} WHERE v = 'rolled back'"));
        Assert.Equal("1", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name} WHERE v = 'committed'"));
        Assert.Equal(3L, Convert.ToInt64(await new MySqlCommand("SELECT LAST_INSERT_ID()", connection).ExecuteScalarAsync()) - 1);
    }

    [Fact]
    public async Task An_update_answers_matched_rows_to_a_client_that_asked_for_found_rows_and_changed_rows_to_one_that_did_not()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var table = await PrivateTable.CreateAsync();
        await using (var seed = new MySqlConnection(gateway.ConnectionString()))
        {
            await seed.OpenAsync();
            await new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('same')", seed).ExecuteNonQueryAsync();
        }

        // MySqlConnector asks for CLIENT_FOUND_ROWS unless UseAffectedRows is on; EF Core's concurrency checks read this
        // count, so an UPDATE that sets a value to itself must count as 1 for it, and as 0 for a client that did not ask.
        // Both sessions at once, so each takes a backend connection of its own kind from the pool.
        await using var found = new MySqlConnection(gateway.ConnectionString(extra: "UseAffectedRows=false;"));
        await using var changed = new MySqlConnection(gateway.ConnectionString(extra: "UseAffectedRows=true;"));
        await found.OpenAsync();
        await changed.OpenAsync();
        for (var round = 0; round < 2; round++)
        {
            Assert.Equal(1, await new MySqlCommand($"UPDATE {table.Name} SET v = 'same' WHERE v = 'same'", found).ExecuteNonQueryAsync());
            Assert.Equal(0, await new MySqlCommand($"UPDATE {table.Name} SET v = 'same' WHERE v = 'same'", changed).ExecuteNonQueryAsync());
        }
    }

    [Fact]
    public async Task A_transaction_begun_read_only_is_read_only_on_the_backend()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var table = await PrivateTable.CreateAsync();
        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        // The gateway defers BEGIN to the transaction's first statement; it must send the client's own text then.
        await new MySqlCommand("START TRANSACTION READ ONLY", connection).ExecuteNonQueryAsync();
        var refused = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand($"INSERT INTO {table.Name} (v) VALUES ('ro')", connection).ExecuteNonQueryAsync());
        Assert.Equal(1792, refused.Number); // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        await new MySqlCommand("ROLLBACK", connection).ExecuteNonQueryAsync();
        Assert.Equal("0", await table.ScalarAsync($"SELECT COUNT(*) FROM {table.Name} WHERE v = 'ro'"));
    }

    private static async Task<long> QuestionsAsync(MySqlConnection connection)
    {
        await using var reader = await new MySqlCommand("SHOW SESSION STATUS LIKE 'Questions'", connection).ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return long.Parse(reader.GetString(1), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Multi_statements_return_every_result_set()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var connection = new MySqlConnection(gateway.ConnectionString(extra: "AllowUserVariables=true;"));
        await connection.OpenAsync();
        await using var reader = await new MySqlCommand("SELECT 1 AS a; SELECT 'two' AS b, 3 AS c", connection).ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(1, reader.GetInt32(0));
        Assert.True(await reader.NextResultAsync());
        Assert.True(await reader.ReadAsync());
        Assert.Equal("two", reader.GetString(0));
        Assert.False(await reader.NextResultAsync());
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_error_and_the_session_goes_on()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();

        var wrongPassword = Assert.Throws<MySqlException>(() =>
        {
            using var c = new MySqlConnection(gateway.ConnectionString().Replace(GatewayUnderTest.Password, "wrong", StringComparison.Ordinal));
            c.Open();
        });
        Assert.Equal(1045, wrongPassword.Number);
        Assert.Contains($"Access denied for user '{GatewayUnderTest.User}'", wrongPassword.Message, StringComparison.Ordinal);

        var unknownKeyspace = Assert.Throws<MySqlException>(() =>
        {
            using var c = new MySqlConnection(gateway.ConnectionString("nosuchkeyspace"));
            c.Open();
        });
        Assert.Equal(1049, unknownKeyspace.Number);
        Assert.Contains("nosuchkeyspace", unknownKeyspace.Message, StringComparison.Ordinal);

        await using var connection = new MySqlConnection(gateway.ConnectionString());
        await connection.OpenAsync();
        // The session's backend connection counts the statements it received (Questions): the refused ones add none.
        var before = await QuestionsAsync(connection);
        var grammar = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand("BOGUS statement", connection).ExecuteNonQueryAsync());
        Assert.Equal(1064, grammar.Number);
        var cross = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand("SELECT * FROM commerce.product JOIN customer.customer", connection).ExecuteNonQueryAsync());
        Assert.Equal(1235, cross.Number);
        Assert.Contains("customer", cross.Message, StringComparison.Ordinal);
        Assert.Equal(before + 1, await QuestionsAsync(connection));
        // A backend error passes through with its code: the app account may not create tables.
        var denied = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand("CREATE TABLE gw_denied (id INT)", connection).ExecuteNonQueryAsync());
        Assert.Equal(1142, denied.Number);
        Assert.Equal(1L, Convert.ToInt64(await new MySqlCommand("SELECT 1", connection).ExecuteScalarAsync()));
    }
}
