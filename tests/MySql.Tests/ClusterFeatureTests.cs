using System.Text;
using Durable.Core.Positions;
using Durable.MySql.Auth;
using Durable.MySql.Binlog;
using Durable.MySql.Flavors;

namespace Durable.MySql.Tests;

[Trait("Category", "Integration")]
public sealed class ClusterFeatureTests
{
    [Fact]
    public async Task Flavor_reads_positions_snapshots_waits_and_read_only_state()
    {
        await using var primary = await TestServer.OpenDbaAsync();
        var flavor = ServerFlavor.For(primary);
        Assert.Same(ServerFlavor.MariaDb, flavor);
        var db = TestServer.UniqueName("flavor");
        await primary.ExecuteAsync($"CREATE DATABASE {db}");
        try
        {
            await primary.ExecuteAsync($"CREATE TABLE {db}.t (id INT PRIMARY KEY)");
            var before = await flavor.CurrentPositionAsync(primary);
            await primary.ExecuteAsync($"INSERT INTO {db}.t VALUES (1)");
            var after = await flavor.CurrentPositionAsync(primary);
            Assert.True(after.AtLeast(before));
            Assert.False(before.AtLeast(after));

            // The snapshot sees exactly the rows of its position.
            await using var snapshot = await TestServer.OpenDbaAsync();
            var snapshotPosition = await flavor.StartConsistentSnapshotAsync(snapshot);
            await primary.ExecuteAsync($"INSERT INTO {db}.t VALUES (2)");
            // Other tests may write to the shared primary meanwhile: the snapshot is at or after our insert.
            Assert.True(snapshotPosition.AtLeast(after), $"snapshot {snapshotPosition} before {after}");
            Assert.Equal("1", await snapshot.QueryScalarAsync($"SELECT COUNT(*) FROM {db}.t"));
            await snapshot.ExecuteAsync("COMMIT");
            Assert.Equal("2", await snapshot.QueryScalarAsync($"SELECT COUNT(*) FROM {db}.t"));

            // A replica reaches the primary's position; a position far in the future times out.
            var target = await flavor.CurrentPositionAsync(primary);
            await using var replica = await TestServer.OpenDbaAsync(uid: 101);
            Assert.True(await flavor.WaitForPositionAsync(replica, target, TimeSpan.FromSeconds(30)));
            Assert.Equal("2", await replica.QueryScalarAsync($"SELECT COUNT(*) FROM {db}.t"));
            var future = target.Add(Gtid.MariaDb(target.Domains.First().Domain, 100, target.Domains.First().Sequence + 1_000_000));
            Assert.False(await flavor.WaitForPositionAsync(replica, future, TimeSpan.FromMilliseconds(300)));

            Assert.True(await flavor.IsReadOnlyAsync(replica));
            Assert.False(await flavor.IsReadOnlyAsync(primary));
        }
        finally
        {
            await primary.ExecuteAsync($"DROP DATABASE IF EXISTS {db}");
        }
    }

    [Fact]
    public async Task Pool_reuses_resets_and_drops_broken_connections()
    {
        await using var pool = new MySqlConnectionPool(TestServer.Dba(), maxSize: 2) { PingAfterIdle = TimeSpan.Zero };
        uint firstId;
        await using (var lease = await pool.RentAsync())
        {
            firstId = lease.Connection.ConnectionId;
            await lease.Connection.ExecuteAsync("SET @leak = 'secret'");
        }

        Assert.Equal(1, pool.IdleCount);
        await using (var lease = await pool.RentAsync())
        {
            Assert.Equal(firstId, lease.Connection.ConnectionId);
            Assert.Null(await lease.Connection.QueryScalarAsync("SELECT @leak"));

            // Kill it from outside: the pool must notice (ping) and hand out a new one next time.
            await using var admin = await TestServer.OpenDbaAsync();
            await admin.ExecuteAsync($"KILL {firstId}");
        }

        await using (var lease = await pool.RentAsync())
        {
            Assert.NotEqual(firstId, lease.Connection.ConnectionId);
            Assert.Equal("1", await lease.Connection.QueryScalarAsync("SELECT 1"));
        }

        // Both slots taken: a third renter waits, then gets a slot once one is returned.
        var a = await pool.RentAsync();
        var b = await pool.RentAsync();
        var waiting = pool.RentAsync();
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted);
        await a.DisposeAsync();
        await using (var c = await waiting.WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal("1", await c.Connection.QueryScalarAsync("SELECT 1"));
        }

        await b.DisposeAsync();
    }

    [Fact]
    public async Task Second_stream_with_the_same_server_id_ends_the_first_with_a_clear_error()
    {
        await using var c = await TestServer.OpenDbaAsync();
        var position = GtidPosition.Parse(await c.QueryScalarAsync("SELECT @@global.gtid_binlog_pos") ?? string.Empty, GtidFlavor.MariaDb);
        var serverId = (uint)Random.Shared.Next(2_000_000, 3_000_000);
        var options = new BinlogStreamOptions { ServerId = serverId, Start = position, HeartbeatPeriod = TimeSpan.FromMilliseconds(500) };
        await using var first = await BinlogStream.StartAsync(TestServer.Dba(), options);
        // Read the start-up events so the first dump is running.
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            while (await first.ReadEventAsync(cts.Token) is not HeartbeatEvent and not GtidListEvent)
            {
            }
        }

        await using var second = await BinlogStream.StartAsync(TestServer.Dba(), options);
        Assert.IsType<RotateEvent>(await second.ReadEventAsync());
        var ex = await Assert.ThrowsAnyAsync<MySqlException>(async () =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                await first.ReadEventAsync(cts.Token);
            }
        });
        Assert.Contains(serverId.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.Contains("same server id", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Ed25519_user_can_log_in()
    {
        await using var dba = await TestServer.OpenDbaAsync();
        var installed = await dba.QueryScalarAsync("SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519' AND PLUGIN_STATUS = 'ACTIVE'");
        if (installed == "0")
        {
            try
            {
                await dba.ExecuteAsync("INSTALL SONAME 'auth_ed25519'");
            }
            catch (MySqlException ex) when (ex.ErrorNumber == 1968)
            {
                // Installed concurrently by another test run: fine.
            }
        }

        // Replicas do not have the plugin (INSTALL SONAME is not replicated), so a replicated CREATE USER ... VIA ed25519
        // would stop their SQL threads: the user is created and dropped with binary logging off for this session.
        await dba.ExecuteAsync("SET SESSION sql_log_bin = 0");
        var user = TestServer.UniqueName("ed");
        const string password = "ed-pw-ünïcode-😀";
        await dba.ExecuteAsync($"CREATE USER {user}@'%' IDENTIFIED VIA ed25519 USING PASSWORD({dba.Quoter.String(password)})");
        try
        {
            // The server stores the Ed25519 public key derived from the password: ours must derive the same.
            var stored = await dba.QueryScalarAsync($"SELECT JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv WHERE User = {dba.Quoter.String(user)}");
            Assert.Equal(stored, Convert.ToBase64String(Ed25519Signer.PublicKey(Encoding.UTF8.GetBytes(password))).TrimEnd('='));

            var options = TestServer.Dba() with { User = user, Password = password };
            await using var c = await MySqlConnection.OpenAsync(options);
            Assert.Equal(AuthPlugins.Ed25519, c.AuthPlugin);
            Assert.Equal(user + "@%", await c.QueryScalarAsync("SELECT CURRENT_USER()"));

            var ex = await Assert.ThrowsAsync<MySqlException>(() => MySqlConnection.OpenAsync(options with { Password = "wrong" }));
            Assert.Equal(MySqlErrorCode.AccessDenied, ex.ErrorNumber);
        }
        finally
        {
            await dba.ExecuteAsync($"DROP USER IF EXISTS {user}@'%'");
        }
    }

    [Fact]
    public async Task Every_account_of_the_cluster_can_log_in()
    {
        foreach (var role in new[] { "dba", "app", "repl", "filtered" })
        {
            var (user, password) = Durable.Testing.LocalCluster.Current.Account(role);
            await using var c = await MySqlConnection.OpenAsync(TestServer.Dba() with { User = user, Password = password });
            Assert.Equal(AuthPlugins.NativePassword, c.AuthPlugin);
            Assert.Equal("1", await c.QueryScalarAsync("SELECT 1"));
        }
    }

    [Fact]
    public async Task Insert_builder_statements_stay_within_the_budget_and_round_trip()
    {
        await using var c = await TestServer.OpenDbaAsync();
        var db = TestServer.UniqueName("ins");
        await c.ExecuteAsync($"CREATE DATABASE {db}");
        try
        {
            await c.ExecuteAsync($"CREATE TABLE {db}.src (id INT PRIMARY KEY, name VARCHAR(100), data VARBINARY(100), amount DECIMAL(10,2), at DATETIME(6))");
            await c.ExecuteAsync($"CREATE TABLE {db}.dst LIKE {db}.src");
            await c.ExecuteAsync($"INSERT INTO {db}.src SELECT seq, CONCAT('n''\\\\', seq, '😀'), UNHEX(CONCAT('00', HEX(seq))), seq / 3, '2024-01-01 00:00:00.5' FROM {db}.seq_1_to_2000");
            await using var reader = await c.QueryAsync($"SELECT id, name, data, amount, at FROM {db}.src ORDER BY id");
            var statements = new List<byte[]>();
            const int budget = 8 * 1024;
            var builder = new Sql.InsertStatementBuilder(Sql.InsertVerb.Insert, db, "dst", ["id", "name", "data", "amount", "at"], budget, c.Quoter,
                reader.Columns.Select(Sql.InsertStatementBuilder.StyleFor).ToArray());
            var values = new MySqlValue[5];
            while (await reader.ReadAsync())
            {
                for (var i = 0; i < 5; i++)
                {
                    values[i] = reader.GetValue(i);
                }

                if (builder.AddRow(values) is { } full)
                {
                    statements.Add(full);
                }
            }

            statements.Add(builder.Finish()!);
            await reader.DisposeAsync();
            Assert.True(statements.Count > 5);
            Assert.All(statements, s => Assert.True(s.Length <= budget, $"statement of {s.Length} bytes"));
            foreach (var s in statements)
            {
                await c.ExecuteAsync(s);
            }

            Assert.Equal("0", await c.QueryScalarAsync(
                $"SELECT COUNT(*) FROM {db}.src s LEFT JOIN {db}.dst d USING (id) WHERE NOT (s.name <=> d.name AND s.data <=> d.data AND s.amount <=> d.amount AND s.at <=> d.at)"));
            Assert.Equal("2000", await c.QueryScalarAsync($"SELECT COUNT(*) FROM {db}.dst"));
        }
        finally
        {
            await c.ExecuteAsync($"DROP DATABASE IF EXISTS {db}");
        }
    }
}
