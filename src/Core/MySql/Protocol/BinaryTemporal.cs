namespace Durable.MySql.Protocol;

/// <summary>A DATE/DATETIME/TIMESTAMP value as the binary protocol carries it (all zero for the zero date).</summary>
public readonly record struct BinaryDateTime(int Year, int Month, int Day, int Hour, int Minute, int Second, int Microsecond);

/// <summary>A TIME value as the binary protocol carries it, hours including the days (up to 838).</summary>
public readonly record struct BinaryTime(bool Negative, long Hours, int Minute, int Second, int Microsecond);

/// <summary>
/// The binary protocol's temporal encodings (prepared-statement parameters and binary result rows): a length byte, then
/// only as many fields as are not zero — DATETIME 0, 4 (date), 7 (+ time) or 11 (+ microseconds) bytes; TIME 0, 8
/// (sign, days, h:m:s) or 12 (+ microseconds). Readers accept every length; writers use the shortest.
/// </summary>
public static class BinaryTemporal
{
    public static BinaryDateTime ReadDateTime(ref PayloadReader r)
    {
        var length = r.ReadByte();
        int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, micro = 0;
        if (length >= 4)
        {
            year = r.ReadUInt16();
            month = r.ReadByte();
            day = r.ReadByte();
        }

        if (length >= 7)
        {
            hour = r.ReadByte();
            minute = r.ReadByte();
            second = r.ReadByte();
        }

        if (length >= 11)
        {
            micro = (int)r.ReadUInt32();
        }

        return new BinaryDateTime(year, month, day, hour, minute, second, micro);
    }

    public static BinaryTime ReadTime(ref PayloadReader r)
    {
        var length = r.ReadByte();
        var negative = false;
        long days = 0;
        int hour = 0, minute = 0, second = 0, micro = 0;
        if (length >= 8)
        {
            negative = r.ReadByte() == 1;
            days = r.ReadUInt32();
            hour = r.ReadByte();
            minute = r.ReadByte();
            second = r.ReadByte();
        }

        if (length >= 12)
        {
            micro = (int)r.ReadUInt32();
        }

        return new BinaryTime(negative, (days * 24) + hour, minute, second, micro);
    }

    public static void WriteDateTime(PayloadWriter w, BinaryDateTime v)
    {
        var length = v.Microsecond != 0 ? 11 : v.Hour + v.Minute + v.Second != 0 ? 7 : v.Year + v.Month + v.Day != 0 ? 4 : 0;
        w.WriteByte((byte)length);
        if (length >= 4)
        {
            w.WriteUInt16((ushort)v.Year);
            w.WriteByte((byte)v.Month);
            w.WriteByte((byte)v.Day);
        }

        if (length >= 7)
        {
            w.WriteByte((byte)v.Hour);
            w.WriteByte((byte)v.Minute);
            w.WriteByte((byte)v.Second);
        }

        if (length == 11)
        {
            w.WriteUInt32((uint)v.Microsecond);
        }
    }

    public static void WriteTime(PayloadWriter w, BinaryTime v)
    {
        if (v.Hours + v.Minute + v.Second + v.Microsecond == 0)
        {
            w.WriteByte(0);
            return;
        }

        w.WriteByte((byte)(v.Microsecond != 0 ? 12 : 8));
        w.WriteByte((byte)(v.Negative ? 1 : 0));
        w.WriteUInt32((uint)(v.Hours / 24));
        w.WriteByte((byte)(v.Hours % 24));
        w.WriteByte((byte)v.Minute);
        w.WriteByte((byte)v.Second);
        if (v.Microsecond != 0)
        {
            w.WriteUInt32((uint)v.Microsecond);
        }
    }
}
