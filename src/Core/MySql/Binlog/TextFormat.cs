using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Durable.MySql.Binlog;

/// <summary>
/// Renders binary column values (binlog row images) as the text a SELECT returns for them, so the binlog and result
/// set paths produce the same <see cref="MySqlValue"/>.
/// </summary>
public static class TextFormat
{
    private static readonly int[] DigitsToBytes = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

    /// <summary>Bytes a packed DECIMAL(precision, scale) occupies.</summary>
    public static int DecimalSize(int precision, int scale)
    {
        var intg = precision - scale;
        return (intg / 9 * 4) + DigitsToBytes[intg % 9] + (scale / 9 * 4) + DigitsToBytes[scale % 9];
    }

    /// <summary>The packed binary DECIMAL as "-123.4500" (exactly <paramref name="scale"/> fraction digits).</summary>
    public static string Decimal(ReadOnlySpan<byte> packed, int precision, int scale)
    {
        var size = DecimalSize(precision, scale);
        if (packed.Length < size)
        {
            throw Protocol.PayloadReader.Malformed($"DECIMAL({precision},{scale}) needs {size} bytes, {packed.Length} left");
        }

        Span<byte> b = stackalloc byte[size];
        packed[..size].CopyTo(b);
        var negative = (b[0] & 0x80) == 0;
        b[0] ^= 0x80;
        if (negative)
        {
            for (var i = 0; i < b.Length; i++)
            {
                b[i] = (byte)~b[i];
            }
        }

        var intg = precision - scale;
        var intg0 = intg / 9;
        var intg0x = intg % 9;
        var frac0 = scale / 9;
        var frac0x = scale % 9;
        var sb = new StringBuilder(precision + 3);
        var pos = 0;
        var integer = new StringBuilder();
        if (intg0x > 0)
        {
            var n = DigitsToBytes[intg0x];
            integer.Append(ReadBigEndian(b.Slice(pos, n)).ToString(CultureInfo.InvariantCulture));
            pos += n;
        }

        for (var i = 0; i < intg0; i++)
        {
            var v = ReadBigEndian(b.Slice(pos, 4));
            integer.Append(integer.Length == 0 ? v.ToString(CultureInfo.InvariantCulture) : v.ToString("D9", CultureInfo.InvariantCulture));
            pos += 4;
        }

        var intText = integer.ToString().TrimStart('0');
        if (negative)
        {
            sb.Append('-');
        }

        sb.Append(intText.Length == 0 ? "0" : intText);
        if (scale > 0)
        {
            sb.Append('.');
            for (var i = 0; i < frac0; i++)
            {
                sb.Append(ReadBigEndian(b.Slice(pos, 4)).ToString("D9", CultureInfo.InvariantCulture));
                pos += 4;
            }

            if (frac0x > 0)
            {
                var n = DigitsToBytes[frac0x];
                sb.Append(ReadBigEndian(b.Slice(pos, n)).ToString("D" + frac0x, CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    private static uint ReadBigEndian(ReadOnlySpan<byte> b)
    {
        uint v = 0;
        foreach (var x in b)
        {
            v = (v << 8) | x;
        }

        return v;
    }

    /// <summary>A DOUBLE as MariaDB prints it: shortest round-trip digits, 'f' or 'e' form as my_gcvt chooses.</summary>
    public static string Double(double value) => Gcvt(value, value.ToString("R", CultureInfo.InvariantCulture));

    /// <summary>A FLOAT as MariaDB prints it: at most 6 significant digits (FLT_DIG), 'f' or 'e' form as my_gcvt chooses.</summary>
    public static string Float(float value)
    {
        var asDouble = (double)value;
        var shortest = asDouble.ToString("R", CultureInfo.InvariantCulture);
        var six = asDouble.ToString("E5", CultureInfo.InvariantCulture);
        var (d1, _) = Digits(shortest);
        return Gcvt(asDouble, d1.Length <= 6 ? shortest : six);
    }

    /// <summary>
    /// A FLOAT(M,D)/DOUBLE(M,D) as a SELECT prints it: the shortest round-trip digits of the (double) value, written
    /// with exactly <paramref name="decimals"/> fraction digits. MariaDB pads those digits with zeros rather than
    /// printing the exact binary value: 1234567890123456.75 in DOUBLE(40,3) prints "1234567890123456.800", 1/3 in
    /// DOUBLE(30,25) "0.3333333333333333000000000" (a FLOAT column's value is printed as the double it widens to).
    /// Values whose shortest digits go past D decimals (the server rounds what it stores to D, so rows do not have
    /// them) keep the exact rounding of the value.
    /// </summary>
    public static string FixedDecimals(double value, int decimals)
    {
        var (digits, decpt) = Digits(value.ToString("R", CultureInfo.InvariantCulture));
        var fraction = digits.Length - decpt;
        if (value == 0 || fraction > decimals || double.IsNaN(value) || double.IsInfinity(value))
        {
            return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        }

        var sb = new StringBuilder(digits.Length + decimals + 24);
        if (value < 0)
        {
            sb.Append('-');
        }

        if (decpt <= 0)
        {
            sb.Append('0');
        }
        else if (decpt >= digits.Length)
        {
            sb.Append(digits).Append('0', decpt - digits.Length);
        }
        else
        {
            sb.Append(digits, 0, decpt);
        }

        if (decimals > 0)
        {
            sb.Append('.');
            var written = 0;
            if (decpt < 0)
            {
                sb.Append('0', -decpt);
                written = -decpt;
            }

            if (decpt < digits.Length)
            {
                var from = Math.Max(decpt, 0);
                sb.Append(digits, from, digits.Length - from);
                written += digits.Length - from;
            }

            sb.Append('0', decimals - written);
        }

        return sb.ToString();
    }

    private const int MaxDecptForFFormat = 15; // DBL_DIG

    /// <summary>The 'f'/'e' choice of MariaDB's my_gcvt for a field wide enough to hold every digit.</summary>
    private static string Gcvt(double value, string dotnetText)
    {
        if (value == 0)
        {
            return double.IsNegative(value) ? "-0" : "0";
        }

        var (digits, decpt) = Digits(dotnetText);
        var len = digits.Length;
        var sb = new StringBuilder(len + 8);
        if (value < 0)
        {
            sb.Append('-');
        }

        var useF = decpt >= -MaxDecptForFFormat + 1 && (decpt <= MaxDecptForFFormat || len > decpt);
        if (useF)
        {
            if (decpt <= 0)
            {
                sb.Append("0.").Append('0', -decpt).Append(digits);
            }
            else if (decpt < len)
            {
                sb.Append(digits, 0, decpt).Append('.').Append(digits, decpt, len - decpt);
            }
            else
            {
                sb.Append(digits).Append('0', decpt - len);
            }
        }
        else
        {
            sb.Append(digits[0]);
            if (len > 1)
            {
                sb.Append('.').Append(digits, 1, len - 1);
            }

            sb.Append('e').Append((decpt - 1).ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    /// <summary>Significant digits (no trailing zeros) and the decimal point position of a .NET number text.</summary>
    private static (string Digits, int Decpt) Digits(string text)
    {
        var s = text.TrimStart('-');
        var exp = 0;
        var e = s.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exp = int.Parse(s[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            s = s[..e];
        }

        var dot = s.IndexOf('.', StringComparison.Ordinal);
        var intPart = dot < 0 ? s : s[..dot];
        var fracPart = dot < 0 ? string.Empty : s[(dot + 1)..];
        var all = intPart + fracPart;
        var decpt = intPart.Length + exp;
        var lead = 0;
        while (lead < all.Length - 1 && all[lead] == '0')
        {
            lead++;
        }

        all = all[lead..];
        decpt -= lead;
        all = all.TrimEnd('0');
        return (all.Length == 0 ? "0" : all, decpt);
    }

    /// <summary>Fraction digits as SELECT prints them for fsp 1..6 ("" for fsp 0).</summary>
    public static string Fraction(long microseconds, int fsp)
    {
        if (fsp <= 0)
        {
            return string.Empty;
        }

        var scaled = microseconds / (long)Math.Pow(10, 6 - fsp);
        return "." + scaled.ToString("D" + fsp, CultureInfo.InvariantCulture);
    }

    public static string Date(uint packed)
    {
        var day = packed & 31;
        var month = (packed >> 5) & 15;
        var year = packed >> 9;
        return string.Create(CultureInfo.InvariantCulture, $"{year:0000}-{month:00}-{day:00}");
    }

    /// <summary>DATETIME2: 5 bytes big-endian (+ fraction), as "YYYY-MM-DD HH:MM:SS[.fff]".</summary>
    public static string DateTime2(ReadOnlySpan<byte> b, int fsp)
    {
        var intPart = (long)(((ulong)b[0] << 32) | BinaryPrimitives.ReadUInt32BigEndian(b[1..])) - 0x8000000000L;
        long frac = fsp switch
        {
            1 or 2 => (sbyte)b[5] * 10000L,
            3 or 4 => BinaryPrimitives.ReadInt16BigEndian(b[5..]) * 100L,
            5 or 6 => ((sbyte)b[5] << 16) | (b[6] << 8) | b[7],
            _ => 0,
        };
        var packed = (intPart << 24) + frac;
        if (packed < 0)
        {
            packed = -packed;
        }

        var micro = packed % (1L << 24);
        var ymdhms = packed >> 24;
        var ymd = ymdhms >> 17;
        var ym = ymd >> 5;
        var hms = ymdhms % (1 << 17);
        return string.Create(CultureInfo.InvariantCulture,
            $"{ym / 13:0000}-{ym % 13:00}-{ymd % 32:00} {hms >> 12:00}:{(hms >> 6) % 64:00}:{hms % 64:00}") + Fraction(micro, fsp);
    }

    public static int FractionBytes(int fsp) => (fsp + 1) / 2;

    /// <summary>TIME2: 3 bytes big-endian (+ fraction), as "[-]HH:MM:SS[.fff]".</summary>
    public static string Time2(ReadOnlySpan<byte> b, int fsp)
    {
        long intPart = ((b[0] << 16) | (b[1] << 8) | b[2]) - 0x800000L;
        long packed;
        switch (fsp)
        {
            case 1 or 2:
            {
                long frac = b[3];
                if (intPart < 0 && frac != 0)
                {
                    intPart++;
                    frac -= 0x100;
                }

                packed = (intPart << 24) + (frac * 10000);
                break;
            }

            case 3 or 4:
            {
                long frac = BinaryPrimitives.ReadUInt16BigEndian(b[3..]);
                if (intPart < 0 && frac != 0)
                {
                    intPart++;
                    frac -= 0x10000;
                }

                packed = (intPart << 24) + (frac * 100);
                break;
            }

            case 5 or 6:
                packed = (long)(((ulong)b[0] << 40) | ((ulong)b[1] << 32) | BinaryPrimitives.ReadUInt32BigEndian(b[2..])) - 0x800000000000L;
                break;
            default:
                packed = intPart << 24;
                break;
        }

        var negative = packed < 0;
        if (negative)
        {
            packed = -packed;
        }

        var hms = packed >> 24;
        var micro = packed % (1L << 24);
        var text = string.Create(CultureInfo.InvariantCulture, $"{(negative ? "-" : string.Empty)}{(hms >> 12) % 1024:00}:{(hms >> 6) % 64:00}:{hms % 64:00}");
        return text + Fraction(micro, fsp);
    }

    /// <summary>TIMESTAMP2: seconds since the epoch (big-endian) + fraction, rendered in UTC.</summary>
    public static string Timestamp2(ReadOnlySpan<byte> b, int fsp)
    {
        var seconds = BinaryPrimitives.ReadUInt32BigEndian(b);
        long micro = fsp switch
        {
            1 or 2 => b[4] * 10000L,
            3 or 4 => BinaryPrimitives.ReadUInt16BigEndian(b[4..]) * 100L,
            5 or 6 => (b[4] << 16) | (b[5] << 8) | b[6],
            _ => 0,
        };
        return Timestamp(seconds, micro, fsp);
    }

    public static string Timestamp(uint seconds, long micro, int fsp)
    {
        if (seconds == 0 && micro == 0)
        {
            return "0000-00-00 00:00:00" + Fraction(0, fsp);
        }

        var dt = DateTime.UnixEpoch.AddSeconds(seconds);
        return dt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + Fraction(micro, fsp);
    }

    /// <summary>Old DATETIME: 8-byte little-endian YYYYMMDDhhmmss.</summary>
    public static string DateTimeOld(ulong v)
    {
        var date = v / 1000000;
        var time = v % 1000000;
        return string.Create(CultureInfo.InvariantCulture,
            $"{date / 10000:0000}-{date / 100 % 100:00}-{date % 100:00} {time / 10000:00}:{time / 100 % 100:00}:{time % 100:00}");
    }

    /// <summary>Old TIME: 3-byte signed HHMMSS.</summary>
    public static string TimeOld(int v)
    {
        var sign = v < 0 ? "-" : string.Empty;
        v = Math.Abs(v);
        return string.Create(CultureInfo.InvariantCulture, $"{sign}{v / 10000:00}:{v / 100 % 100:00}:{v % 100:00}");
    }

    /// <summary>MariaDB UUID: stored with its segments in index-friendly order for RFC 4122 v1-v5 values.</summary>
    public static string MariaDbUuid(ReadOnlySpan<byte> stored)
    {
        Span<byte> u = stackalloc byte[16];
        // Record layout (10.10+): the segments are stored in reverse order (node, clock, hi, mid, low) when the
        // variant is RFC 4122 and the version 1..5; otherwise the bytes are stored as they are written.
        var variantVersionOk = (stored[8] & 0xC0) == 0x80 && (stored[6] >> 4) is >= 1 and <= 5;
        var swappedVersion = (stored[2] >> 4) is >= 1 and <= 5 && (stored[0] & 0xC0) == 0x80;
        if (!variantVersionOk && swappedVersion)
        {
            // stored = node(6) clock(2) hi(2) mid(2) low(4)
            stored.Slice(12, 4).CopyTo(u);        // time_low
            stored.Slice(10, 2).CopyTo(u[4..]);   // time_mid
            stored.Slice(8, 2).CopyTo(u[6..]);    // time_hi_and_version
            stored.Slice(6, 2).CopyTo(u[8..]);    // clock_seq
            stored[..6].CopyTo(u[10..]);          // node
        }
        else
        {
            stored[..16].CopyTo(u);
        }

        var hex = Convert.ToHexStringLower(u);
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    /// <summary>MariaDB INET6 as INET6_NTOA prints it (IPv4-mapped/compatible forms with a dotted quad).</summary>
    public static string Inet6(ReadOnlySpan<byte> b) => new System.Net.IPAddress(b[..16]).ToString();

    public static string Inet4(ReadOnlySpan<byte> b) => new System.Net.IPAddress(b[..4]).ToString();
}
