using System.Globalization;
using System.Text;
using MySqlConnector;

namespace Durable.MySql.Tests.Oracle;

/// <summary>
/// Compares what the own client read with what MySqlConnector read, value by value. The own client holds every value
/// as the bytes of its SELECT text; the oracle's typed value is rendered into that text form here, independently of
/// the own client's formatting code; character/binary values are also checked byte for byte against the hex the
/// server computed, and FLOAT/DOUBLE text against the text the server printed. Each difference names the table, protocol, row id, column and both values.
/// </summary>
public static class OracleComparison
{
    public static List<string> Compare(OracleTable table, OracleProtocol protocol, IReadOnlyList<MySqlValue[]> own, IReadOnlyList<(long Id, ConnectorCell[] Cells)> oracle)
    {
        var problems = new List<string>();
        if (own.Count != oracle.Count)
        {
            problems.Add($"{table.Name} ({protocol}): the own client read {own.Count} rows, MySqlConnector {oracle.Count}");
            return problems;
        }

        for (var r = 0; r < own.Count; r++)
        {
            var id = oracle[r].Id;
            if (own[r][0].AsString() != id.ToString(CultureInfo.InvariantCulture))
            {
                problems.Add($"{table.Name} ({protocol}) row {r}: the own client read id={own[r][0]}, MySqlConnector id={id}");
                continue;
            }

            for (var c = 0; c < table.Columns.Count; c++)
            {
                var (value, serverText) = table.Ordinals(c);
                var difference = Difference(table.Columns[c], protocol, own[r][value], serverText < 0 ? MySqlValue.Null : own[r][serverText], oracle[r].Cells[c]);
                if (difference is not null)
                {
                    problems.Add($"{table.Name} ({protocol}) row id={id} column {table.Columns[c].Name}: {difference}");
                }
            }
        }

        return problems;
    }

    /// <summary>Null when the two reads agree; otherwise what differs, with both values.</summary>
    public static string? Difference(OracleColumn column, OracleProtocol protocol, MySqlValue own, MySqlValue ownServerText, ConnectorCell oracle)
    {
        if (oracle.Value is Exception ex)
        {
            return $"own {own}, MySqlConnector threw {ex.GetType().Name}: {ex.Message}";
        }

        if (own.IsNull || oracle.Value is null)
        {
            return own.IsNull && oracle.Value is null && ownServerText.IsNull && oracle.ServerText is null
                ? null
                : $"own {Quoted(own)} (server text {Quoted(ownServerText)}), MySqlConnector {Show(oracle.Value)} (server text {oracle.ServerText ?? "NULL"})";
        }

        if (column.ServerTextExpression is { } expression)
        {
            // Byte-exact: the bytes (or, for FLOAT/DOUBLE, the text) the own client handed out are the ones the server
            // says the value has.
            var ownText = column.ServerTextIsHex ? Convert.ToHexString(own.Span) : own.AsString();
            if (ownText != oracle.ServerText || ownServerText.AsString() != oracle.ServerText)
            {
                return $"{(column.ServerTextIsHex ? "bytes" : "text")} differ: own {Abbreviate(ownText ?? "NULL")} (own read of {expression}: {Abbreviate(ownServerText.AsString() ?? "NULL")}), MySqlConnector read of {expression}: {Abbreviate(oracle.ServerText ?? "NULL")}";
            }
        }

        if (column.Kind is OracleKind.Float or OracleKind.Double && column.Width > 0 && protocol == OracleProtocol.Prepared)
        {
            // FLOAT(M,D)/DOUBLE(M,D) print D decimals, and for large values fewer digits than the double holds
            // (1234567890123456.75 prints as 1234567890123456.80000): MySqlConnector's exact binary value is not what a
            // SELECT shows, so only the printed text (checked above) is comparable.
            return null;
        }

        return column.Kind switch
        {
            OracleKind.Integer or OracleKind.Decimal or OracleKind.Date or OracleKind.DateTime =>
                TextEquals(own, Render(column, oracle.Value)) ?? AccessorDifference(column, own, oracle.Value),
            OracleKind.Double => DoubleDifference(own, (double)oracle.Value),
            OracleKind.Float => FloatDifference(own, (float)oracle.Value, protocol),
            OracleKind.Bit => BitDifference(own, (ulong)oracle.Value, column.Width),
            OracleKind.Text => TextDifference(own, oracle.Value),
            OracleKind.Binary => BinaryDifference(own, oracle.Value),
            _ => TextEquals(own, Render(column, oracle.Value)),
        };
    }

    /// <summary>The oracle's value in the text form a SELECT prints, for the kinds where that text is canonical.</summary>
    public static string Render(OracleColumn column, object value) => (column.Kind, value) switch
    {
        (OracleKind.Integer, sbyte or byte or short or ushort or int or uint or long or ulong) => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        (OracleKind.Decimal, MySqlDecimal d) => d.ToString(),
        (OracleKind.Year, int y) => y.ToString("0000", CultureInfo.InvariantCulture),
        (OracleKind.Date, MySqlDateTime d) => Date(d),
        (OracleKind.DateTime, MySqlDateTime d) => Date(d) + string.Create(CultureInfo.InvariantCulture, $" {d.Hour:00}:{d.Minute:00}:{d.Second:00}") + Fraction(d.Microsecond, column.Width),
        (OracleKind.Time, TimeSpan t) => Time(t, column.Width),
        _ => $"<unexpected {value.GetType().Name} for {column.Kind}: {value}>",
    };

    /// <summary>
    /// The own client's typed accessors against the oracle's typed getters, where both have one: AsInt64/AsUInt64,
    /// AsDecimal when the value fits a .NET decimal, AsDateTime when the value is a real date (and a FormatException
    /// for zero dates, which have no DateTime).
    /// </summary>
    private static string? AccessorDifference(OracleColumn column, MySqlValue own, object oracle)
    {
        try
        {
            switch (oracle)
            {
                case sbyte or short or int or long:
                    var signed = Convert.ToInt64(oracle, CultureInfo.InvariantCulture);
                    return own.AsInt64() == signed ? null : $"AsInt64 {own.AsInt64()}, MySqlConnector {signed}";
                case byte or ushort or uint or ulong:
                    var unsigned = Convert.ToUInt64(oracle, CultureInfo.InvariantCulture);
                    return own.AsUInt64() == unsigned ? null : $"AsUInt64 {own.AsUInt64()}, MySqlConnector {unsigned}";
                case MySqlDecimal d:
                    decimal expected;
                    try
                    {
                        expected = d.Value;
                    }
                    catch (OverflowException)
                    {
                        return null; // past decimal's 28-29 digits: only the text is comparable (checked above)
                    }

                    var actual = own.AsDecimal();
                    return actual.ToString(CultureInfo.InvariantCulture) == expected.ToString(CultureInfo.InvariantCulture)
                        ? null
                        : $"AsDecimal {actual.ToString(CultureInfo.InvariantCulture)}, MySqlConnector GetMySqlDecimal().Value {expected.ToString(CultureInfo.InvariantCulture)}";
                case MySqlDateTime { IsValidDateTime: true } dt:
                    return own.AsDateTime() == dt.GetDateTime() ? null : $"AsDateTime {own.AsDateTime():O}, MySqlConnector {dt.GetDateTime():O}";
                case MySqlDateTime:
                    try
                    {
                        return $"AsDateTime returned {own.AsDateTime():O} for {own}, which MySqlConnector reads as no valid DateTime";
                    }
                    catch (FormatException)
                    {
                        return null;
                    }

                default:
                    return $"<unexpected {oracle.GetType().Name} for {column.Kind}>";
            }
        }
        catch (FormatException ex)
        {
            return $"own {own}: the typed accessor threw {ex.Message}; MySqlConnector {Show(oracle)}";
        }
    }

    private static string Date(MySqlDateTime d) => string.Create(CultureInfo.InvariantCulture, $"{d.Year:0000}-{d.Month:00}-{d.Day:00}");

    private static string Time(TimeSpan t, int fsp)
    {
        var ticks = t.Ticks < 0 ? -t.Ticks : t.Ticks;
        var hours = ticks / TimeSpan.TicksPerHour;
        var minutes = ticks / TimeSpan.TicksPerMinute % 60;
        var seconds = ticks / TimeSpan.TicksPerSecond % 60;
        var micro = (int)(ticks % TimeSpan.TicksPerSecond / 10);
        return string.Create(CultureInfo.InvariantCulture, $"{(t.Ticks < 0 ? "-" : "")}{hours:00}:{minutes:00}:{seconds:00}") + Fraction(micro, fsp);
    }

    private static string Fraction(int microseconds, int fsp) =>
        fsp == 0 ? string.Empty : "." + microseconds.ToString("000000", CultureInfo.InvariantCulture)[..fsp];

    private static string? TextEquals(MySqlValue own, string expected) =>
        own.AsString() == expected ? null : $"own {own}, MySqlConnector {expected}";

    private static string? DoubleDifference(MySqlValue own, double oracle)
    {
        // The IEEE bits, so -0 and 0 and every last-place difference count.
        if (!double.TryParse(own.AsString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
        {
            return $"own {own} is not a number, MySqlConnector {oracle:R}";
        }

        return BitConverter.DoubleToInt64Bits(parsed) == BitConverter.DoubleToInt64Bits(oracle) ? null : $"own {own} ({parsed:R}), MySqlConnector {oracle:R}";
    }

    private static string? FloatDifference(MySqlValue own, float oracle, OracleProtocol protocol)
    {
        if (!float.TryParse(own.AsString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
        {
            return $"own {own} is not a number, MySqlConnector {oracle:R}";
        }

        // A SELECT prints FLOAT with 6 significant digits (FLT_DIG) and the own client renders binary rows into that
        // same text, while MySqlConnector's binary read keeps all 24 mantissa bits: compare at the printed precision
        // there. Over the text protocol both parse the same server text, so the bits must agree exactly.
        var expected = protocol == OracleProtocol.Text
            ? oracle
            : float.Parse(oracle.ToString("G6", CultureInfo.InvariantCulture), NumberStyles.Float, CultureInfo.InvariantCulture);
        return BitConverter.SingleToInt32Bits(parsed) == BitConverter.SingleToInt32Bits(expected)
            ? null
            : $"own {own} ({parsed:R}), MySqlConnector {oracle:R}" + (protocol == OracleProtocol.Text ? string.Empty : $" (printed to 6 digits: {expected:R})");
    }

    private static string? BitDifference(MySqlValue own, ulong oracle, int width)
    {
        // BIT(n) is (n+7)/8 big-endian bytes in a SELECT.
        var length = (width + 7) / 8;
        var expected = oracle.ToString("X" + (length * 2).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var actual = Convert.ToHexString(own.Span);
        return actual == expected ? null : $"own x'{actual}', MySqlConnector {oracle} (x'{expected}' as BIT({width}))";
    }

    private static string? TextDifference(MySqlValue own, object oracle) => oracle switch
    {
        string s => own.AsString() == s ? null : $"own {own}, MySqlConnector '{Abbreviate(s)}'",
        // MariaDB's UUID type may be announced as a UUID; its SELECT text is the 36-character lower-case form.
        Guid g => own.AsString() == g.ToString("D") ? null : $"own {own}, MySqlConnector GUID {g}",
        _ => $"own {own}, MySqlConnector returned a {oracle.GetType().Name} for a character column: {Show(oracle)}",
    };

    private static string? BinaryDifference(MySqlValue own, object oracle)
    {
        var bytes = oracle switch
        {
            byte[] b => b,
            MySqlGeometry g => g.Value.ToArray(),
            _ => null,
        };
        return bytes is null
            ? $"own {own}, MySqlConnector returned a {oracle.GetType().Name} for a binary column: {Show(oracle)}"
            : own.Span.SequenceEqual(bytes) ? null : $"own {own}, MySqlConnector {MySqlValue.FromBytes(bytes)}";
    }

    /// <summary>An own value for the NULL-or-not message, where the empty string must not look like nothing.</summary>
    private static string Quoted(MySqlValue value) => value.IsNull ? "NULL" : value.Span.Length == 0 ? "''" : value.ToString();

    private static string Show(object? value) => value switch
    {
        null => "NULL",
        byte[] b => MySqlValue.FromBytes(b).ToString(),
        string s => $"'{Abbreviate(s)}'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? value.GetType().Name,
    };

    private static string Abbreviate(string s) =>
        s.Length <= 200 ? s : $"{s[..64]}...({s.Length} chars, sha256 {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..16]})";
}
