namespace Durable.Functions.Timers;

/// <summary>
/// A six-field NCRONTAB schedule as Azure Functions timer triggers use it:
/// <c>{second} {minute} {hour} {day} {month} {day-of-week}</c>, evaluated in UTC.
/// </summary>
/// <remarks>
/// Each field takes <c>*</c>, a value, a range <c>a-b</c>, a step <c>*/n</c> or <c>a-b/n</c> or <c>a/n</c>, and
/// comma-separated lists of those. Months take <c>Jan</c>..<c>Dec</c>, days of the week <c>Sun</c>..<c>Sat</c>
/// (0 = Sunday; 7 is accepted as Sunday too). As in NCrontab, which Azure Functions uses, a time matches only when
/// <em>both</em> the day-of-month and the day-of-week fields match (classic cron ORs them when both are restricted).
/// </remarks>
public sealed class CronSchedule
{
    private static readonly string[] MonthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    // How far ahead to look before deciding that a schedule never fires (e.g. "0 0 0 30 Feb *"). Eight years covers
    // every combination of a leap day and a weekday.
    private static readonly TimeSpan SearchHorizon = TimeSpan.FromDays(366 * 8);

    private readonly bool[] _seconds;
    private readonly bool[] _minutes;
    private readonly bool[] _hours;
    private readonly bool[] _days;
    private readonly bool[] _months;
    private readonly bool[] _daysOfWeek;

    private CronSchedule(string expression, bool[][] fields)
    {
        Expression = expression;
        (_seconds, _minutes, _hours, _days, _months, _daysOfWeek) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);
    }

    public string Expression { get; }

    public override string ToString() => Expression;

    /// <summary>Parses a six-field expression; throws <see cref="FormatException"/> naming the bad field and the valid forms.</summary>
    public static CronSchedule Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var parts = expression.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 6)
        {
            throw new FormatException(
                $"NCRONTAB expression '{expression}' has {parts.Length} field(s); a timer schedule needs exactly six: " +
                "{second} {minute} {hour} {day} {month} {day-of-week}, e.g. '0 */5 * * * *' for every five minutes.");
        }

        var fields = new bool[6][];
        fields[0] = ParseField(expression, parts[0], "second", 0, 59, null);
        fields[1] = ParseField(expression, parts[1], "minute", 0, 59, null);
        fields[2] = ParseField(expression, parts[2], "hour", 0, 23, null);
        fields[3] = ParseField(expression, parts[3], "day", 1, 31, null);
        fields[4] = ParseField(expression, parts[4], "month", 1, 12, MonthNames);
        var dow = ParseField(expression, parts[5], "day-of-week", 0, 7, DayNames);
        // 7 is an alias of Sunday.
        if (dow[7])
        {
            dow[0] = true;
        }

        fields[5] = dow[..7];
        return new CronSchedule(expression, fields);
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
        // Drop sub-second precision, then move to the next whole second: occurrences are strictly after `after`.
        var t = new DateTime(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc).AddSeconds(1);
        var limit = t + SearchHorizon;
        while (t < limit)
        {
            if (!_months[t.Month])
            {
                t = new DateTime(t.Year, t.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);
                continue;
            }

            if (!_days[t.Day] || !_daysOfWeek[(int)t.DayOfWeek])
            {
                t = new DateTime(t.Year, t.Month, t.Day, 0, 0, 0, DateTimeKind.Utc).AddDays(1);
                continue;
            }

            if (!_hours[t.Hour])
            {
                t = new DateTime(t.Year, t.Month, t.Day, t.Hour, 0, 0, DateTimeKind.Utc).AddHours(1);
                continue;
            }

            if (!_minutes[t.Minute])
            {
                t = new DateTime(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, DateTimeKind.Utc).AddMinutes(1);
                continue;
            }

            if (!_seconds[t.Second])
            {
                t = t.AddSeconds(1);
                continue;
            }

            return t;
        }

        return null;
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

    private static bool[] ParseField(string expression, string field, string name, int min, int max, string[]? names)
    {
        var set = new bool[max + 1];
        foreach (var item in field.Split(','))
        {
            if (item.Length == 0)
            {
                throw Bad(expression, field, name, min, max, names, "an empty list item");
            }

            var rangePart = item;
            var step = 1;
            var slash = item.IndexOf('/');
            if (slash >= 0)
            {
                rangePart = item[..slash];
                if (!int.TryParse(item[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out step) || step <= 0)
                {
                    throw Bad(expression, field, name, min, max, names, $"step '{item[(slash + 1)..]}' (must be a positive whole number)");
                }
            }

            int from, to;
            if (rangePart == "*")
            {
                (from, to) = (min, max);
            }
            else
            {
                var dash = rangePart.IndexOf('-');
                if (dash > 0)
                {
                    from = Value(expression, field, rangePart[..dash], name, min, max, names);
                    to = Value(expression, field, rangePart[(dash + 1)..], name, min, max, names);
                    if (to < from)
                    {
                        throw Bad(expression, field, name, min, max, names, $"range '{rangePart}' runs backwards");
                    }
                }
                else
                {
                    from = Value(expression, field, rangePart, name, min, max, names);
                    // "a/n" means from a to the end of the field in steps of n, as in NCrontab.
                    to = slash >= 0 ? max : from;
                }
            }

            for (var v = from; v <= to; v += step)
            {
                set[v] = true;
            }
        }

        return set;
    }

    private static int Value(string expression, string field, string token, string name, int min, int max, string[]? names)
    {
        if (int.TryParse(token, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v))
        {
            if (v < min || v > max)
            {
                throw Bad(expression, field, name, min, max, names, $"value {v} is out of range");
            }

            return v;
        }

        if (names is not null)
        {
            var index = Array.IndexOf(names, token.ToLowerInvariant());
            if (index >= 0)
            {
                // Month names are 1-based, day names 0-based: the field's minimum is the offset.
                return index + min;
            }
        }

        throw Bad(expression, field, name, min, max, names, $"'{token}' is not a number{(names is null ? "" : " or a name")}");
    }

    private static FormatException Bad(string expression, string field, string name, int min, int max, string[]? names, string what) =>
        new($"NCRONTAB expression '{expression}': {name} field '{field}' has {what}; valid: *, {min}-{max}" +
            (names is null ? "" : $" or {string.Join('/', names.Select(n => char.ToUpperInvariant(n[0]) + n[1..]))}") +
            ", ranges a-b, steps */n or a-b/n, lists separated by commas.");
}
