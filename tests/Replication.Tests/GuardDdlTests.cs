using Durable.MySql.Binlog;

namespace Durable.Replication.Tests;

/// <summary>
/// Recognising the write guards' own DDL in binlog text (issue 18, point 7): the statements as MariaDB logs them
/// (CREATE rewritten with a DEFINER, DROP verbatim) are the product's; anything a user could write without our marker,
/// or with a marker that does not fit the trigger it names, is not.
/// </summary>
public sealed class GuardDdlTests
{
    private const string Body = "IF SUBSTRING_INDEX(USER(), '@', 1) NOT IN ('durable_filtered') THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Durable write guard: customer.customer was moved'; END IF";

    /// <summary>What MariaDB 10.11 writes to the binlog for a CREATE TRIGGER: DEFINER added, comments before TRIGGER gone.</summary>
    private static string AsLogged(string create) => "CREATE DEFINER=`durable_filtered`@`%` " + create["CREATE ".Length..];

    [Theory]
    [InlineData("customer")]
    [InlineData("o'brien")]
    [InlineData("we*/ird` */ name")]
    public void Guard_statements_are_recognised_as_the_server_logs_them(string table)
    {
        foreach (var (evt, suffix) in GuardDdl.Events)
        {
            var create = GuardDdl.Create("customer", "commerce2customer", "Source", "vt_commerce", table, evt, suffix, Body);
            Assert.True(GuardDdl.IsGuardDdl(create), create);
            Assert.True(GuardDdl.IsGuardDdl(AsLogged(create)), AsLogged(create));
            Assert.True(GuardDdl.TryParse(AsLogged(create), out var parsed));
            Assert.Equal(new GuardStatement(true, "customer", "commerce2customer", "Source", table), parsed);

            var drop = GuardDdl.Drop("customer", "commerce2customer", "Target", "vt_customer", table, suffix);
            Assert.True(GuardDdl.TryParse(drop, out parsed), drop);
            Assert.Equal(new GuardStatement(false, "customer", "commerce2customer", "Target", table), parsed);
        }
    }

    [Fact]
    public void The_marker_stands_after_trigger_where_the_server_keeps_it_and_cannot_be_closed_by_a_table_name()
    {
        var create = GuardDdl.Create("customer", "wf", "Target", "vt_customer", "a*/b", "INSERT", "i", Body);
        Assert.StartsWith("CREATE TRIGGER /* durable:guard customer wf Target 612a2f62 */ IF NOT EXISTS `vt_customer`.`_durable_guard_", create);
        Assert.StartsWith("DROP TRIGGER /* durable:guard customer wf Target ", GuardDdl.Drop("customer", "wf", "Target", "vt_customer", "t", "d"));
        Assert.Throws<ArgumentException>(() => GuardDdl.Marker("customer", "w*/f", "Target", "t"));
    }

    [Fact]
    public void A_users_trigger_ddl_is_not_the_products()
    {
        var name = GuardDdl.TriggerName("customer", "wf", "Source", "t", "i");
        var create = GuardDdl.Create("customer", "wf", "Source", "vt_commerce", "t", "INSERT", "i", Body);
        string[] users =
        [
            // a user's own trigger
            "CREATE DEFINER=`root`@`localhost` TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET @x = 1",
            "DROP TRIGGER IF EXISTS trg",
            // named like a guard, without the marker
            $"CREATE DEFINER=`root`@`localhost` TRIGGER `vt_commerce`.`{name}` BEFORE INSERT ON `vt_commerce`.`t` FOR EACH ROW SET @x = 1",
            $"DROP TRIGGER IF EXISTS `vt_commerce`.`{name}`",
            // the marker of one table on another table's trigger, or on another event
            create.Replace("ON `vt_commerce`.`t`", "ON `vt_commerce`.`u`", StringComparison.Ordinal),
            create.Replace("BEFORE INSERT", "BEFORE DELETE", StringComparison.Ordinal),
            // the marker naming another workflow than the trigger's name
            create.Replace("durable:guard customer wf ", "durable:guard customer wf2 ", StringComparison.Ordinal),
            // the marker where the server does not keep it, or something after a drop
            "CREATE /* durable:guard customer wf Source 74 */ TRIGGER IF NOT EXISTS `vt_commerce`.`" + name + "` BEFORE INSERT ON `vt_commerce`.`t` FOR EACH ROW SET @x = 1",
            GuardDdl.Drop("customer", "wf", "Source", "vt_commerce", "t", "i") + ", `vt_commerce`.`other`",
            // other DDL
            "ALTER TABLE t ADD COLUMN c INT",
        ];
        Assert.All(users, sql => Assert.False(GuardDdl.IsGuardDdl(sql), sql));
    }

    [Fact]
    public void Guard_ddl_that_names_a_stream_table_is_not_a_relevant_ddl_while_a_users_is()
    {
        // The guard's text names the table (and its message may name others): without the marker check it would stop
        // an on_ddl=STOP stream of that table; the Replicator asks GuardDdl first.
        var header = new BinlogEventHeader(0, BinlogEventType.Query, 1, 0, 0, 0);
        var guard = AsLogged(GuardDdl.Create("customer", "wf", "Source", "vt_commerce", "customer", "INSERT", "i", Body));
        Assert.True(Replicator.IsRelevantDdl(new QueryEvent(header, 1, 0, 0, "vt_commerce", guard), "vt_commerce", ["customer"]));
        Assert.True(GuardDdl.IsGuardDdl(guard));
        var user = "CREATE DEFINER=`root`@`localhost` TRIGGER trg BEFORE INSERT ON customer FOR EACH ROW SET @x = 1";
        Assert.True(Replicator.IsRelevantDdl(new QueryEvent(header, 1, 0, 0, "vt_commerce", user), "vt_commerce", ["customer"]));
        Assert.False(GuardDdl.IsGuardDdl(user));
    }
}
