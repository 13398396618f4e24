using Durable.MySql.Protocol;

namespace Durable.MySql.Tests;

[Trait("Category", "Integration")]
public sealed class ConnectionTests
{
    [Fact]
    public async Task Connects_with_native_password_and_reads_rows()
    {
        await using var c = await TestServer.OpenDbaAsync();
        Assert.Contains("MariaDB", c.ServerVersion, StringComparison.Ordinal);
        Assert.True(c.ConnectionId > 0);
        await using var reader = await c.QueryAsync("SELECT 1 AS a, NULL AS b, 'x''y' AS c, -9223372036854775808 AS d");
        Assert.True(await reader.ReadAsync());
        Assert.Equal(1, reader.GetInt32(0));
        Assert.True(reader.IsDBNull(1));
        Assert.Equal("x'y", reader.GetString(2));
        Assert.Equal(long.MinValue, reader.GetInt64(3));
        Assert.Equal("c", reader.Columns[2].Name);
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task Server_errors_carry_number_sqlstate_and_message()
    {
        await using var c = await TestServer.OpenDbaAsync();
        var ex = await Assert.ThrowsAsync<MySqlException>(() => c.ExecuteAsync("SELECT * FROM no_such_db_x.no_such_table"));
        Assert.Equal(1146, ex.ErrorNumber);
        Assert.Equal("42S02", ex.SqlState);
        Assert.Contains("no_such_table", ex.Message, StringComparison.Ordinal);
        // The connection stays usable after a server error.
        Assert.Equal("2", await c.QueryScalarAsync("SELECT 1+1"));
    }

    [Fact]
    public async Task Wrong_password_is_access_denied()
    {
        var options = TestServer.Dba() with { Password = "definitely-wrong" };
        var ex = await Assert.ThrowsAsync<MySqlException>(() => MySqlConnection.OpenAsync(options));
        Assert.Equal(MySqlErrorCode.AccessDenied, ex.ErrorNumber);
        Assert.Equal("28000", ex.SqlState);
    }

    [Fact]
    public async Task Ping_reset_and_ok_packet_fields()
    {
        await using var c = await TestServer.OpenDbaAsync();
        await c.PingAsync();
        await c.ExecuteAsync("SET @x = 5");
        await c.ResetAsync();
        Assert.Null(await c.QueryScalarAsync("SELECT @x"));
        var db = TestServer.UniqueName("conn");
        await c.ExecuteAsync($"CREATE DATABASE {db}");
        try
        {
            await c.ExecuteAsync($"CREATE TABLE {db}.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
            var ok = await c.ExecuteAsync($"INSERT INTO {db}.t (v) VALUES (1),(2),(3)");
            Assert.Equal(3UL, ok.AffectedRows);
            Assert.Equal(1UL, ok.LastInsertId);
        }
        finally
        {
            await c.ExecuteAsync($"DROP DATABASE {db}");
        }
    }

    [Fact]
    public async Task Streams_many_rows_and_a_disposed_reader_frees_the_connection()
    {
        await using var c = await TestServer.OpenDbaAsync();
        var reader = await c.QueryAsync("SELECT seq, REPEAT('x', 100) FROM mysql.seq_1_to_200000");
        long sum = 0;
        var n = 0;
        while (await reader.ReadAsync())
        {
            sum += reader.GetInt64(0);
            if (++n == 1000)
            {
                break;
            }
        }

        await reader.DisposeAsync();
        Assert.Equal(500500, sum);
        Assert.Equal("7", await c.QueryScalarAsync("SELECT 7"));
    }

    [Fact]
    public async Task Sends_and_receives_payloads_over_16_MiB()
    {
        await using var c = await TestServer.OpenDbaAsync();
        var big = new string('a', 20 * 1024 * 1024) + "z";
        await using var reader = await c.QueryAsync($"SELECT LENGTH('{big}'), REPEAT('b', 17 * 1024 * 1024)");
        Assert.True(await reader.ReadAsync());
        Assert.Equal(big.Length, reader.GetInt32(0));
        var value = reader.GetValue(1);
        Assert.Equal(17 * 1024 * 1024, value.Span.Length);
        Assert.True(value.Span.IndexOfAnyExcept((byte)'b') < 0);
    }

    [Fact]
    public async Task Cancellation_kills_the_running_query_and_keeps_the_connection()
    {
        await using var c = await TestServer.OpenDbaAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var started = DateTime.UtcNow;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => c.ExecuteAsync("SELECT SLEEP(30)", cts.Token));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.True(c.IsUsable);
        Assert.Equal("1", await c.QueryScalarAsync("SELECT 1"));
        Assert.Equal("2", await c.QueryScalarAsync("SELECT 2"));
    }

    [Fact]
    public async Task Command_timeout_kills_the_query_with_a_timeout_error()
    {
        var options = TestServer.Dba() with { CommandTimeout = TimeSpan.FromMilliseconds(300) };
        await using var c = await MySqlConnection.OpenAsync(options);
        var ex = await Assert.ThrowsAsync<MySqlException>(() => c.ExecuteAsync("SELECT SLEEP(30)"));
        Assert.Equal(MySqlErrorCode.CommandTimeout, ex.ErrorNumber);
        Assert.Equal("3", await c.QueryScalarAsync("SELECT 3"));
    }

    [Fact]
    public async Task Connect_to_a_closed_port_fails_clearly()
    {
        var options = TestServer.Dba() with { Port = 1, ConnectTimeout = TimeSpan.FromSeconds(3) };
        var ex = await Assert.ThrowsAsync<MySqlException>(() => MySqlConnection.OpenAsync(options));
        Assert.True(ex.ErrorNumber is MySqlErrorCode.ConnectionFailed or MySqlErrorCode.ConnectTimeout, ex.ToString());
    }

    [Fact]
    public async Task No_backslash_escapes_mode_is_followed_by_the_quoter()
    {
        await using var c = await TestServer.OpenDbaAsync();
        const string tricky = "a'b\\c\"d\0e\nf";
        Assert.Equal(tricky, await c.QueryScalarAsync("SELECT " + c.Quoter.String(tricky)));
        await c.ExecuteAsync("SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')");
        Assert.True((c.Status & ServerStatus.NoBackslashEscapes) != 0);
        Assert.True(c.Quoter.UsesNoBackslashEscapes);
        Assert.Equal(tricky, await c.QueryScalarAsync("SELECT " + c.Quoter.String(tricky)));
    }
}
