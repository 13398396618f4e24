using NCrontab;

namespace Durable.Functions.Timers;

/// <summary>
/// A six-field NCRONTAB schedule as Azure Functions timer triggers use it:
/// <c>{second} {minute} {hour} {day} {month} {day-of-week}</c>, evaluated in UTC. A thin wrapper over the NCrontab
/// package (the parser Azure Functions itself uses), so a schedule means here what it means in Azure.
/// </summary>
/// <remarks>
/// Each field takes <c>*</c>, a value, a range <c>a-b</c>, a step <c>*/n</c> or <c>a-b/n</c> or <c>a/n</c>, and
/// comma-separated lists of those. Months take <c>Jan</c>..<c>Dec</c>, days of the week <c>Sun</c>..<c>Sat</c>
/// (0 = Sunday .. 6 = Saturday). A time matches only when <em>both</em> the day-of-month and the day-of-week fields
/// match (classic cron ORs them when both are restricted). Azure's TimeSpan form (<c>"00:05:00"</c>) is not accepted.
/// </remarks>
public sealed class CronSchedule
{
    private static readonly CrontabSchedule.ParseOptions Options = new() { IncludingSeconds = true };

    // The six fields in order: NCrontab's kind (it parses each field), our name for messages, and the valid values.
    private static readonly (CrontabFieldKind Kind, string Name, string Valid)[] Fields =
    [
        (CrontabFieldKind.Second, "second", "0-59"),
        (CrontabFieldKind.Minute, "minute", "0-59"),
        (CrontabFieldKind.Hour, "hour", "0-23"),
        (CrontabFieldKind.Day, "day", "1-31"),
        (CrontabFieldKind.Month, "month", "1-12 or Jan-Dec"),
        (CrontabFieldKind.DayOfWeek, "day-of-week", "0-6 (0 = Sunday) or Sun-Sat"),
    ];

    // How far ahead to look before deciding that a schedule never fires (e.g. "0 0 0 30 Feb *"). The Gregorian
    // calendar, weekdays included, repeats exactly every 400 years (146097 days = 20871 weeks), so a schedule with no
    // occurrence in 400 years has none at all. Anything shorter would miss rare but real schedules: "0 0 0 29 Feb *"
    // can wait 8 years (2096 -> 2104) and "0 0 0 29 Feb Mon" 28 years or more (2016 -> 2044). For impossible dates
    // NCrontab walks the 400 years month by month, which is cheap.
    private const int SearchHorizonYears = 400;

    private readonly CrontabSchedule _schedule;

    private CronSchedule(string expression, CrontabSchedule schedule)
    {
        Expression = expression;
        _schedule = schedule;
    }

    public string Expression { get; }

    public override string ToString() => Expression;

    /// <summary>Parses a six-field expression; throws <see cref="FormatException"/> naming the bad field and the valid forms.</summary>
    public static CronSchedule Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        // Only the field count is checked here, for a clearer message than NCrontab's; the fields are NCrontab's.
        var parts = expression.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != Fields.Length)
        {
            throw new FormatException(
                $"NCRONTAB expression '{expression}' has {parts.Length} field(s); a timer schedule needs exactly six: " +
                "{second} {minute} {hour} {day} {month} {day-of-week}, e.g. '0 */5 * * * *' for every five minutes.");
        }

        // NCrontab parses field by field too, so a bad expression's message can name the field it failed in.
        for (var i = 0; i < parts.Length; i++)
        {
            try
            {
                CrontabField.Parse(Fields[i].Kind, parts[i]);
            }
            catch (CrontabException e)
            {
                throw Bad(expression, $"{Fields[i].Name} field '{parts[i]}' is not valid", e, Fields[i].Valid);
            }
        }

        try
        {
            return new CronSchedule(expression, CrontabSchedule.Parse(expression, Options));
        }
        catch (CrontabException e)
        {
            throw Bad(expression, "is not valid", e, null);
        }
    }

    public static bool TryParse(string expression, out CronSchedule? schedule, out string? error)
    {
        try
        {
            schedule = Parse(expression);
            error = null;
            return true;
        }
        catch (FormatException e)
        {
            schedule = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>
    /// The first occurrence strictly after <paramref name="after"/> (UTC, whole seconds), or null when the schedule
    /// never fires (an impossible date such as the 30th of February).
    /// </summary>
    public DateTime? GetNextOccurrence(DateTime after)
    {
        var utc = after.Kind == DateTimeKind.Local ? after.ToUniversalTime() : DateTime.SpecifyKind(after, DateTimeKind.Utc);
        // NCrontab ignores sub-second precision and returns the first occurrence strictly after `utc`, or `end` itself
        // when there is none before `end`: an answer at or past `end` means "none".
        var end = utc.Year <= DateTime.MaxValue.Year - SearchHorizonYears ? utc.AddYears(SearchHorizonYears) : DateTime.MaxValue;
        var next = _schedule.GetNextOccurrence(utc, end);
        return next < end ? DateTime.SpecifyKind(next, DateTimeKind.Utc) : null;
    }

    /// <summary>The occurrences in (<paramref name="after"/>, <paramref name="until"/>], at most <paramref name="max"/>.</summary>
    public IEnumerable<DateTime> GetOccurrences(DateTime after, DateTime until, int max = int.MaxValue)
    {
        var count = 0;
        var next = GetNextOccurrence(after);
        while (next is { } n && n <= until && count++ < max)
        {
            yield return n;
            next = GetNextOccurrence(n);
        }
    }

    private static FormatException Bad(string expression, string what, CrontabException e, string? valid)
    {
        var reason = e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message;
        return new FormatException(
            $"NCRONTAB expression '{expression}': {what}: {reason}" + (valid is null ? "" : $" Valid: {valid}") +
            "; each field takes *, a value, a range a-b, a step */n, a-b/n or a/n, and comma-separated lists of those " +
            "({second} {minute} {hour} {day} {month} {day-of-week}), e.g. '0 */5 * * * *' for every five minutes.",
            e);
    }
}
