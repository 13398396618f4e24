using Durable.Functions.Timers;

namespace Durable.Functions.Tests;

public class CronScheduleTests
{
    private static DateTime U(string s) => DateTime.SpecifyKind(DateTime.Parse(s, System.Globalization.CultureInfo.InvariantCulture), DateTimeKind.Utc);

    [Theory]
    [InlineData("0 */5 * * * *", "2026-11-21 23:42:20", "2026-11-21 23:45:00")]
    [InlineData("0 */5 * * * *", "2026-11-21 23:45:00", "2026-11-21 23:50:00")] // strictly after
    [InlineData("*/10 * * * * *", "2026-11-21 23:59:55", "2026-11-22 00:00:00")]
    [InlineData("0 0 3 * * *", "2026-11-21 03:00:00.5", "2026-11-22 03:00:00")]
    [InlineData("0 30 9 * * Mon-Fri", "2026-11-21 10:00:00", "2026-11-23 09:30:00")] // Saturday → Monday
    [InlineData("0 0 0 1 Jan *", "2026-06-01 00:00:00", "2027-01-01 00:00:00")]
    [InlineData("0 0 12 29 2 *", "2026-03-01 00:00:00", "2028-02-29 12:00:00")] // next leap day
    [InlineData("5-7 0 0 * * *", "2026-01-01 00:00:05", "2026-01-01 00:00:06")]
    [InlineData("0 0 0 * * 7", "2026-11-21 00:00:00", "2026-11-22 00:00:00")] // 7 = Sunday
    [InlineData("0 0 0 * * sun", "2026-11-21 00:00:00", "2026-11-22 00:00:00")]
    [InlineData("0 15/20 * * * *", "2026-01-01 00:36:00", "2026-01-01 00:55:00")] // a/n: from a to the end
    [InlineData("0 0 1,13 * * *", "2026-01-01 02:00:00", "2026-01-01 13:00:00")]
    [InlineData("0 0 0 31 * *", "2026-04-01 00:00:00", "2026-05-31 00:00:00")] // April has no 31st
    [InlineData("0 0 0 13 * Fri", "2026-01-01 00:00:00", "2026-02-13 00:00:00")] // both day fields must match (NCrontab)
    public void Next_occurrence(string expression, string after, string expected)
    {
        Assert.Equal(U(expected), CronSchedule.Parse(expression).GetNextOccurrence(U(after)));
    }

    [Fact]
    public void Every_second_yields_consecutive_seconds()
    {
        var s = CronSchedule.Parse("* * * * * *");
        var list = s.GetOccurrences(U("2026-01-01 00:00:00"), U("2026-01-01 00:00:03")).ToList();
        Assert.Equal([U("2026-01-01 00:00:01"), U("2026-01-01 00:00:02"), U("2026-01-01 00:00:03")], list);
    }

    [Fact]
    public void Impossible_date_never_fires()
    {
        Assert.Null(CronSchedule.Parse("0 0 0 30 Feb *").GetNextOccurrence(U("2026-01-01 00:00:00")));
    }

    [Fact]
    public void Next_occurrence_is_always_on_the_schedule_and_increasing()
    {
        var s = CronSchedule.Parse("7,37 */13 1-22/3 * * Mon,Wed,Fri");
        var t = U("2026-01-01 00:00:00");
        for (var i = 0; i < 500; i++)
        {
            var n = s.GetNextOccurrence(t)!.Value;
            Assert.True(n > t);
            Assert.Contains(n.Second, new[] { 7, 37 });
            Assert.Equal(0, n.Minute % 13);
            Assert.True(n.Hour is >= 1 and <= 22 && (n.Hour - 1) % 3 == 0);
            Assert.Contains(n.DayOfWeek, new[] { DayOfWeek.Monday, DayOfWeek.Wednesday, DayOfWeek.Friday });
            t = n;
        }
    }

    [Theory]
    [InlineData("*/5 * * * *", "has 5 field(s)")]
    [InlineData("0 60 * * * *", "minute field '60' has value 60 is out of range")]
    [InlineData("0 0 24 * * *", "hour field")]
    [InlineData("0 0 0 0 * *", "day field '0'")]
    [InlineData("0 0 0 * Foo *", "'Foo' is not a number or a name")]
    [InlineData("0 */0 * * * *", "step '0'")]
    [InlineData("0 5-1 * * * *", "range '5-1' runs backwards")]
    [InlineData("0 1,,2 * * * *", "empty list item")]
    public void Bad_expressions_name_the_field_and_what_is_valid(string expression, string expected)
    {
        var e = Assert.Throws<FormatException>(() => CronSchedule.Parse(expression));
        Assert.Contains(expected, e.Message);
        Assert.Contains(expression, e.Message);
    }
}
