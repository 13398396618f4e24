using System.Diagnostics;
using Durable.Core.Positions;
using Durable.MySql.Flavors;
using Durable.Testing;

namespace Durable.MySql.Tests;

/// <summary>
/// ServerFlavor.WaitForPositionAsync for every role: a primary's own writes (MASTER_GTID_WAIT alone never returns
/// for them), a replica catching up through its SQL thread (polled) or its IO thread (MASTER_GTID_WAIT), and the
/// timeout path of each.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WaitForPositionTests
{
    [Fact]
    public async Task A_primary_reaches_its_own_writes_and_times_out_on_a_future_position()
    {
        await using var primary = await TestServer.OpenDbaAsync();
        var flavor = ServerFlavor.For(primary);
        var db = TestServer.UniqueName("waitpos");
        await primary.ExecuteAsync($"CREATE DATABASE {db}");
        try
        {
            await primary.ExecuteAsync($"CREATE TABLE {db}.t (id INT PRIMARY KEY)");
            await primary.ExecuteAsync($"INSERT INTO {db}.t VALUES (1)");
            var written = await flavor.CurrentPositionAsync(primary);

            // Already there: answered at once (MASTER_GTID_WAIT would have run into the timeout).
            var clock = Stopwatch.StartNew();
            Assert.True(await flavor.WaitForPositionAsync(primary, written, TimeSpan.FromSeconds(20)));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");

            // The next transaction, written while the wait runs.
            var domain = written.Domains.First();
            var next = written.Add(Gtid.MariaDb(domain.Domain, domain.ServerId, domain.Sequence + 1));
            await using var waiter = await TestServer.OpenDbaAsync();
            var waiting = flavor.WaitForPositionAsync(waiter, next, TimeSpan.FromSeconds(30));
            await Task.Delay(300);
            await primary.ExecuteAsync($"INSERT INTO {db}.t VALUES (2)");
            Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(40)));

            // A position far ahead: false after the timeout, not before and not much later.
            var future = written.Add(Gtid.MariaDb(domain.Domain, domain.ServerId, domain.Sequence + 1_000_000));
            clock.Restart();
            Assert.False(await flavor.WaitForPositionAsync(primary, future, TimeSpan.FromMilliseconds(400)));
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(390), TimeSpan.FromSeconds(10));
            Assert.Equal("1", await primary.QueryScalarAsync("SELECT 1"));
        }
        finally
        {
            await primary.ExecuteAsync($"DROP DATABASE IF EXISTS {db}");
        }
    }

    [Fact]
    public async Task A_replica_is_waited_for_until_it_catches_up_through_either_thread()
    {
        await using var source = await PrivateMariaDbServer.StartAsync(serverId: 1);
        await using var replica = await PrivateMariaDbServer.StartAsync(serverId: 2, extraArguments: ["--skip-log-bin", "--skip-log-slave-updates", "--relay-log=relay", "--skip-slave-start"]);
        await using var s = await MySqlConnection.OpenAsync(source.Options);
        await using var r = await MySqlConnection.OpenAsync(replica.Options);
        var flavor = ServerFlavor.For(r);
        // The replica starts after the source's own start-up transactions (its accounts, which the replica has too).
        var initial = await flavor.CurrentPositionAsync(s);
        await s.ExecuteAsync("CREATE DATABASE w");
        await s.ExecuteAsync("CREATE TABLE w.t (id INT PRIMARY KEY)");
        await r.ExecuteAsync("SET GLOBAL gtid_slave_pos = " + r.Quoter.String(initial.ToString()));
        await r.ExecuteAsync(
            $"CHANGE MASTER TO master_host = '127.0.0.1', master_port = {source.Port}, master_user = {r.Quoter.String(PrivateMariaDbServer.AdminUser)}, " +
            $"master_password = {r.Quoter.String(source.AdminPassword)}, master_use_gtid = slave_pos");
        await r.ExecuteAsync("START SLAVE");
        Assert.True(await flavor.WaitForPositionAsync(r, await flavor.CurrentPositionAsync(s), TimeSpan.FromSeconds(30)));

        // SQL thread stopped: nothing is applied, the wait times out; started again, the replica catches up.
        await r.ExecuteAsync("STOP SLAVE SQL_THREAD");
        await s.ExecuteAsync("INSERT INTO w.t VALUES (1)");
        var first = await flavor.CurrentPositionAsync(s);
        var clock = Stopwatch.StartNew();
        Assert.False(await flavor.WaitForPositionAsync(r, first, TimeSpan.FromMilliseconds(500)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(490), TimeSpan.FromSeconds(10));
        var waiting = flavor.WaitForPositionAsync(r, first, TimeSpan.FromSeconds(30));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        await using (var admin = await MySqlConnection.OpenAsync(replica.Options))
        {
            await admin.ExecuteAsync("START SLAVE SQL_THREAD");
        }

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(40)));
        Assert.Equal("1", await r.QueryScalarAsync("SELECT COUNT(*) FROM w.t"));

        // IO thread stopped, SQL thread running: the wait sits in MASTER_GTID_WAIT until the transaction arrives.
        await r.ExecuteAsync("STOP SLAVE IO_THREAD");
        await s.ExecuteAsync("INSERT INTO w.t VALUES (2)");
        var second = await flavor.CurrentPositionAsync(s);
        clock.Restart();
        Assert.False(await flavor.WaitForPositionAsync(r, second, TimeSpan.FromMilliseconds(1500)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(1490), TimeSpan.FromSeconds(10));
        waiting = flavor.WaitForPositionAsync(r, second, TimeSpan.FromSeconds(30));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        await using (var admin = await MySqlConnection.OpenAsync(replica.Options))
        {
            await admin.ExecuteAsync("START SLAVE IO_THREAD");
        }

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(40)));
        Assert.Equal("2", await r.QueryScalarAsync("SELECT COUNT(*) FROM w.t"));
        await r.ExecuteAsync("STOP SLAVE");
    }

    [Fact]
    public async Task Bad_arguments_are_rejected_naming_the_value()
    {
        await using var primary = await TestServer.OpenDbaAsync();
        var flavor = ServerFlavor.For(primary);
        var position = await flavor.CurrentPositionAsync(primary);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => flavor.WaitForPositionAsync(primary, position, TimeSpan.FromSeconds(-1)));
        var mysql = GtidPosition.Parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", GtidFlavor.MySql);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => flavor.WaitForPositionAsync(primary, mysql, TimeSpan.FromSeconds(1)));
        Assert.Contains("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", ex.Message, StringComparison.Ordinal);
    }
}
