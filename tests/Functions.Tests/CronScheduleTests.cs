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
    [InlineData("0 0 0 * * 0", "2026-11-21 00:00:00", "2026-11-22 00:00:00")] // 0 = Sunday
    [InlineData("0 0 0 * * sun", "2026-11-21 00:00:00", "2026-11-22 00:00:00")]
    [InlineData("0 15/20 * * * *", "2026-01-01 00:36:00", "2026-01-01 00:55:00")] // a/n: from a to the end
    [InlineData("0 0 1,13 * * *", "2026-01-01 02:00:00", "2026-01-01 13:00:00")]
    [InlineData("0 0 0 31 * *", "2026-04-01 00:00:00", "2026-05-31 00:00:00")] // April has no 31st
    [InlineData("0 0 0 13 * Fri", "2026-01-01 00:00:00", "2026-02-13 00:00:00")] // both day fields must match (NCrontab)
    [InlineData("0 0 0 13 * Fri", "2026-11-21 00:00:00", "2027-08-13 00:00:00")]
    [InlineData("0 0 0 29 Feb *", "2096-03-01 00:00:00", "2104-02-29 00:00:00")] // 2100 is no leap year: 8 years
    [InlineData("0 0 0 29 Feb Mon", "2026-01-01 00:00:00", "2044-02-29 00:00:00")] // 18 years ahead: within the horizon
    [InlineData("0 0 0 * * Sunday", "2026-11-21 00:00:00", "2026-11-22 00:00:00")] // full names too
    [InlineData("0 0 0 1 jANuary *", "2026-06-01 00:00:00", "2027-01-01 00:00:00")]
    [InlineData("  0   */5 * * * *  ", "2026-11-21 23:42:20", "2026-11-21 23:45:00")] // extra blanks
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
        Assert.Null(CronSchedule.Parse("0 0 0 31 Apr,Jun *").GetNextOccurrence(U("2026-01-01 00:00:00")));
        Assert.Empty(CronSchedule.Parse("0 0 0 30 Feb *").GetOccurrences(U("2026-01-01 00:00:00"), DateTime.MaxValue));
    }

    [Fact]
    public void Near_the_end_of_time_there_is_no_next_occurrence_and_no_overflow()
    {
        Assert.Null(CronSchedule.Parse("0 0 0 1 Jan *").GetNextOccurrence(U("9999-06-01 00:00:00")));
        Assert.Equal(U("9999-12-31 23:59:59"), CronSchedule.Parse("59 59 23 31 Dec *").GetNextOccurrence(U("9999-06-01 00:00:00")));
    }

    [Fact]
    public void Occurrences_are_utc_and_local_input_is_converted()
    {
        var s = CronSchedule.Parse("0 0 * * * *");
        var next = s.GetNextOccurrence(DateTime.SpecifyKind(U("2026-01-01 10:30:00"), DateTimeKind.Unspecified))!.Value;
        Assert.Equal(DateTimeKind.Utc, next.Kind);
        Assert.Equal(U("2026-01-01 11:00:00"), next);
        var local = U("2026-01-01 10:30:00").ToLocalTime();
        Assert.Equal(U("2026-01-01 11:00:00"), s.GetNextOccurrence(local));
    }

    [Fact]
    public void Occurrences_stop_at_max()
    {
        var list = CronSchedule.Parse("0 * * * * *").GetOccurrences(U("2026-01-01 00:00:00"), U("2026-01-02 00:00:00"), max: 2).ToList();
        Assert.Equal([U("2026-01-01 00:01:00"), U("2026-01-01 00:02:00")], list);
    }

    [Fact]
    public void TryParse_reports_the_same_message_as_Parse()
    {
        Assert.True(CronSchedule.TryParse("0 */5 * * * *", out var ok, out var none));
        Assert.Equal("0 */5 * * * *", ok!.Expression);
        Assert.Null(none);
        Assert.False(CronSchedule.TryParse("0 60 * * * *", out var bad, out var error));
        Assert.Null(bad);
        Assert.Equal(Assert.Throws<FormatException>(() => CronSchedule.Parse("0 60 * * * *")).Message, error);
    }

    // Edges where NCrontab (and so Azure Functions, which uses NCrontab.Signed with the same field rules) differs from
    // the hand-written parser this class used to have: a backwards range is swapped, a step of 0 counts as 1.
    [Theory]
    [InlineData("0 5-1 * * * *", "2026-01-01 00:05:00", "2026-01-01 01:01:00")] // = 1-5
    [InlineData("0 */0 * * * *", "2026-01-01 00:05:00", "2026-01-01 00:06:00")] // = every minute
    public void NCrontab_edges(string expression, string after, string expected)
    {
        Assert.Equal(U(expected), CronSchedule.Parse(expression).GetNextOccurrence(U(after)));
    }

    [Theory]
    [InlineData("00:05:00")] // Azure's TimeSpan form is not supported
    [InlineData("0 0 0 * * * 2026")] // no year field
    public void Only_six_field_expressions(string expression)
    {
        var e = Assert.Throws<FormatException>(() => CronSchedule.Parse(expression));
        Assert.Contains("exactly six", e.Message);
        Assert.Contains("'0 */5 * * * *'", e.Message);
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
    [InlineData("*/5 * * * *", "has 5 field(s)", "{second} {minute} {hour} {day} {month} {day-of-week}")]
    [InlineData("0 60 * * * *", "minute field '60'", "between 0 and 59")]
    [InlineData("0 0 24 * * *", "hour field '24'", "between 0 and 23")]
    [InlineData("0 0 0 0 * *", "day field '0'", "between 1 and 31")]
    [InlineData("0 0 0 * Foo *", "month field 'Foo'", "'Foo' is not a known value name. Use one of the following: January, February")]
    [InlineData("0 1,,2 * * * *", "minute field '1,,2'", "cannot be empty")]
    [InlineData("0 0 0 * * 7", "day-of-week field '7'", "between 0 and 6")] // 7 is not Sunday in NCrontab/Azure
    [InlineData("0 0 0 * * 5-7", "day-of-week field '5-7'", "Sun-Sat")]
    [InlineData("0 */x * * * *", "minute field '*/x'", "0-59")]
    public void Bad_expressions_name_the_field_and_what_is_valid(string expression, string expected, string valid)
    {
        var e = Assert.Throws<FormatException>(() => CronSchedule.Parse(expression));
        Assert.Contains(expected, e.Message);
        Assert.Contains(valid, e.Message);
        Assert.Contains($"'{expression}'", e.Message);
        Assert.Contains("e.g. '0 */5 * * * *'", e.Message);
    }
}
