using Durable.Core.Positions;
using Durable.MySql;
using Durable.MySql.Binlog;
using Durable.Replication;
using Xunit.Abstractions;

namespace Durable.Workflows.Tests;

/// <summary>
/// What MariaDB keeps of the guards' statements in the binlog, read through the project's own binlog reader (issue 18,
/// point 7): the marker the streams recognise must survive the server's rewriting of CREATE TRIGGER.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GuardDdlBinlogTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_guards_create_and_drop_reach_the_binlog_with_their_marker_and_are_recognised()
    {
        await using var bed = new ClusterBed("gdbinlog");
        var table = "gb_" + bed.Suffix;
        bed.DropLater(100, "vt_commerce", table);
        await ClusterBed.ExecAsync("dba", 100, "vt_commerce", $"CREATE TABLE `{table}` (id INT PRIMARY KEY)");
        var start = GtidPosition.Parse((await ClusterBed.ScalarAsync("dba", 100, "vt_commerce", "SELECT @@global.gtid_binlog_pos"))!, GtidFlavor.MariaDb);
        var workflow = "gb_" + bed.Suffix;
        await using (var engine = await MySqlConnection.OpenAsync(ClusterBed.Account("filtered", 100, "vt_commerce")))
        {
            await bed.Env.Operations.Guards.InstallAsync(engine, "vt_commerce", "customer", workflow, "commerce", GuardSide.Source, [table], TimeSpan.FromSeconds(5), default);
            await WriteGuards.RemoveAsync(engine, "vt_commerce", "customer", workflow, GuardSide.Source, [table], TimeSpan.FromSeconds(5), default);
            // A comment before TRIGGER, as a control: the server drops it when it rewrites the statement with its DEFINER.
            await engine.ExecuteAsync($"CREATE /* durable:guard customer {workflow} Source 00 */ TRIGGER `user_{bed.Suffix}` BEFORE INSERT ON `{table}` FOR EACH ROW SET @x = 1");
        }

        // Others write to the shared source too: read until this table's seven statements have passed.
        var logged = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var binlog = await BinlogStream.StartAsync(ClusterBed.Account("dba", 100, null),
            new BinlogStreamOptions { ServerId = (uint)Random.Shared.Next(2_000_000, 3_000_000), Start = start, HeartbeatPeriod = TimeSpan.FromMilliseconds(500) }, timeout.Token);
        while (logged.Count < 7)
        {
            if (await binlog.ReadEventAsync(timeout.Token) is QueryEvent q && q.Sql.Contains(bed.Suffix, StringComparison.Ordinal) && q.Sql.Contains("TRIGGER", StringComparison.Ordinal))
            {
                logged.Add(q.Sql);
                output.WriteLine($"[{q.Schema}] {q.Sql}");
            }
        }

        var guards = logged.Take(6).ToList();
        Assert.All(guards[..3], s => Assert.StartsWith("CREATE DEFINER=`durable_filtered`@`%` TRIGGER /* durable:guard customer " + workflow + " Source ", s));
        Assert.All(guards[3..], s => Assert.StartsWith("DROP TRIGGER /* durable:guard customer " + workflow + " Source ", s));
        Assert.All(guards, s => Assert.True(GuardDdl.TryParse(s, out var g) && g.Table == table && g.Workflow == workflow, s));

        var control = logged[6];
        Assert.StartsWith("CREATE DEFINER=`durable_filtered`@`%` TRIGGER `user_", control);
        Assert.DoesNotContain("durable:guard", control);
        Assert.False(GuardDdl.IsGuardDdl(control));
    }
}
