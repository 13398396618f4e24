using Durable.Testing;

namespace Durable.Gateway.Tests;

/// <summary>The mariadb command-line client and the project's own client through the gateway.</summary>
[Trait("Category", "Integration")]
public sealed class ClientsTests
{
    private static Task<ProcessRunner.Result> MariaDbAsync(GatewayUnderTest gateway, string? database, params string[] extra)
    {
        var args = new List<string> { "--no-defaults", "-h", "127.0.0.1", "-P", gateway.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-u", GatewayUnderTest.User, "--skip-ssl" };
        args.AddRange(extra);
        if (database is not null)
        {
            args.Add(database);
        }

        return ProcessRunner.RunAsync("mariadb", args, environment: new Dictionary<string, string> { ["MYSQL_PWD"] = GatewayUnderTest.Password }, timeout: TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task The_mariadb_client_shows_vitess_tablets_and_reads_a_replica()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        var tablets = await MariaDbAsync(gateway, null, "--table", "-e", "show vitess_tablets");
        Assert.True(tablets.ExitCode == 0, tablets.StdErr);
        Assert.Matches(@"\| Cell +\| Keyspace +\| Shard +\| TabletType +\| State +\| Alias +\| Hostname +\| PrimaryTermStartTime +\|", tablets.StdOut);
        Assert.Matches(@"\| zone1 \| commerce +\| 0 +\| PRIMARY +\| SERVING \| zone1-0000000100 \|", tablets.StdOut);

        var replica = await MariaDbAsync(gateway, "commerce@replica", "-N", "-e", "select @@read_only, @@port; select 'second'");
        Assert.True(replica.ExitCode == 0, replica.StdErr);
        var port = LocalCluster.Current.Tablets.Single(t => t.Keyspace == "commerce" && t.Type == "REPLICA").Port;
        Assert.Contains($"1\t{port}", replica.StdOut, StringComparison.Ordinal);
        Assert.Contains("second", replica.StdOut, StringComparison.Ordinal);

        var denied = await ProcessRunner.RunAsync("mariadb", ["--no-defaults", "-h", "127.0.0.1", "-P", gateway.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-u", GatewayUnderTest.User, "-pwrong", "--skip-ssl", "-e", "select 1"]);
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Contains("ERROR 1045 (28000): Access denied for user 'gwtest'", denied.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_projects_own_client_queries_and_prepares_through_the_gateway()
    {
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var table = await PrivateTable.CreateAsync();
        await using var connection = await Durable.MySql.MySqlConnection.OpenAsync(gateway.ClientOptions());
        await connection.ExecuteAsync($"INSERT INTO {table.Name} (v) VALUES ('own client')");
        await using (var statement = await connection.PrepareAsync($"SELECT v FROM {table.Name} WHERE id = ?"))
        {
            await using var reader = await statement.ExecuteReaderAsync([1L]);
            Assert.True(await reader.ReadAsync());
            Assert.Equal("own client", reader.GetValue(0).AsString());
        }

        Assert.Equal("commerce", await connection.QueryScalarAsync("SELECT DATABASE()"));
    }

    [Fact]
    public async Task A_cancelled_statement_through_the_gateway_ends_as_a_cancellation_not_a_lost_connection()
    {
        // The project's client cancels with KILL QUERY on a side connection; the gateway refuses KILL (its connection
        // ids are its own), so the client drops the connection instead: the caller must still see a cancellation.
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var connection = await Durable.MySql.MySqlConnection.OpenAsync(gateway.ClientOptions());
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connection.QueryScalarAsync("SELECT SLEEP(5)", cancel.Token));
        Assert.Contains("KILL QUERY could not be delivered", e.Message, StringComparison.Ordinal);
        Assert.False(connection.IsUsable);

        await using var again = await Durable.MySql.MySqlConnection.OpenAsync(gateway.ClientOptions());
        Assert.Equal("1", await again.QueryScalarAsync("SELECT 1"));
    }

    [Fact]
    public async Task A_kill_that_fails_after_the_statement_finished_leaves_the_connection_usable()
    {
        // The race the guard closes: cancellation fires as a statement ends, the statement finishes, and only then does
        // the gateway refuse the KILL. Dropping the connection at that point would break the caller's next statement.
        await using var gateway = await GatewayUnderTest.StartAsync();
        await using var connection = await Durable.MySql.MySqlConnection.OpenAsync(gateway.ClientOptions());
        using var cancel = new CancellationTokenSource();
        var guard = new Durable.MySql.CommandGuard(connection, cancel.Token, Timeout.InfiniteTimeSpan);
        await cancel.CancelAsync();   // the kill is on its way...
        await guard.DisposeAsync();   // ...while the statement finishes
        await guard.KillTask!;        // the gateway refused it
        Assert.True(connection.IsUsable);
        Assert.Equal("1", await connection.QueryScalarAsync("SELECT 1"));
    }
}
