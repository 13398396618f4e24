using System.Globalization;
using System.Text;

namespace Durable.Core.Positions;

/// <summary>Which GTID scheme a position follows.</summary>
public enum GtidFlavor
{
    /// <summary>MariaDB: domain-server-sequence, one current GTID per replication domain.</summary>
    MariaDb,

    /// <summary>MySQL 5.6+: source-uuid:interval sets (experimental here: no MySQL server to test against).</summary>
    MySql,
}

/// <summary>One transaction's GTID: MariaDB domain-server-seq, or MySQL uuid:seq.</summary>
public readonly record struct Gtid(GtidFlavor Flavor, uint Domain, uint ServerId, ulong Sequence, Guid SourceId)
{
    public static Gtid MariaDb(uint domain, uint serverId, ulong sequence) => new(GtidFlavor.MariaDb, domain, serverId, sequence, Guid.Empty);

    public static Gtid MySql(Guid sourceId, ulong sequence) => new(GtidFlavor.MySql, 0, 0, sequence, sourceId);

    public override string ToString() => Flavor == GtidFlavor.MariaDb
        ? string.Create(CultureInfo.InvariantCulture, $"{Domain}-{ServerId}-{Sequence}")
        : string.Create(CultureInfo.InvariantCulture, $"{SourceId:D}:{Sequence}");

    /// <summary>Parses "0-100-42" (MariaDB) or "uuid:42" (MySQL).</summary>
    public static Gtid Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0)
        {
            if (Guid.TryParse(text[..colon], out var uuid) && ulong.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var gno) && gno > 0)
            {
                return MySql(uuid, gno);
            }
        }
        else
        {
            var parts = text.Split('-');
            if (parts.Length == 3 &&
                uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var d) &&
                uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s) &&
                ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var q))
            {
                return MariaDb(d, s, q);
            }
        }

        throw new FormatException($"'{text}' is not a GTID; expected MariaDB domain-server-sequence (e.g. 0-100-42) or MySQL uuid:number.");
    }
}

/// <summary>
/// A replication position as a GTID set, with the flavor behind one type. MariaDB: the last GTID of each domain
/// ("0-100-42,1-200-7"); since gtid_strict_mode makes sequence numbers grow within a domain, a position contains a
/// transaction when its domain's sequence is at least the transaction's. MySQL: per source uuid a set of intervals
/// ("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7-9"). Positions are immutable; the empty position means "nothing".
/// Text forms: <see cref="ToString"/> gives the server's own syntax; <see cref="Encode"/>/<see cref="Decode"/> add a
/// flavor prefix ("MariaDB/0-1-5", "MySQL56/uuid:1-5", as Vitess stores positions).
/// </summary>
public sealed class GtidPosition : IEquatable<GtidPosition>
{
    private readonly SortedDictionary<uint, Gtid> _domains;
    private readonly SortedDictionary<Guid, List<(ulong Start, ulong End)>> _intervals;

    private GtidPosition(GtidFlavor flavor, SortedDictionary<uint, Gtid> domains, SortedDictionary<Guid, List<(ulong, ulong)>> intervals)
    {
        Flavor = flavor;
        _domains = domains;
        _intervals = intervals;
    }

    public GtidFlavor Flavor { get; }

    public bool IsEmpty => _domains.Count == 0 && _intervals.Count == 0;

    /// <summary>MariaDB: the last GTID per domain, in domain order.</summary>
    public IReadOnlyCollection<Gtid> Domains => _domains.Values;

    /// <summary>MySQL: the intervals (inclusive) per source uuid.</summary>
    public IEnumerable<(Guid SourceId, ulong Start, ulong End)> Intervals =>
        _intervals.SelectMany(kv => kv.Value.Select(i => (kv.Key, i.Start, i.End)));

    public static GtidPosition Empty(GtidFlavor flavor) => new(flavor, [], []);

    /// <summary>Parses the server syntax of the given flavor. Empty text is the empty position.</summary>
    public static GtidPosition Parse(string text, GtidFlavor flavor)
    {
        ArgumentNullException.ThrowIfNull(text);
        var domains = new SortedDictionary<uint, Gtid>();
        var intervals = new SortedDictionary<Guid, List<(ulong, ulong)>>();
        var trimmed = text.Trim();
        if (trimmed.Length == 0)
        {
            return new GtidPosition(flavor, domains, intervals);
        }

        foreach (var rawPart in trimmed.Split(','))
        {
            var part = rawPart.Trim();
            if (part.Length == 0)
            {
                throw new FormatException($"The GTID position '{text}' has an empty element; expected {Expected(flavor)}.");
            }

            if (flavor == GtidFlavor.MariaDb)
            {
                Gtid gtid;
                try
                {
                    gtid = Gtid.Parse(part);
                }
                catch (FormatException)
                {
                    throw new FormatException($"'{part}' in the GTID position '{text}' is not a MariaDB GTID; expected {Expected(flavor)}.");
                }

                if (gtid.Flavor != GtidFlavor.MariaDb)
                {
                    throw new FormatException($"'{part}' in the GTID position '{text}' is a MySQL GTID; expected {Expected(flavor)}.");
                }

                if (!domains.TryGetValue(gtid.Domain, out var existing) || existing.Sequence < gtid.Sequence)
                {
                    domains[gtid.Domain] = gtid;
                }
            }
            else
            {
                var pieces = part.Split(':');
                if (pieces.Length < 2 || !Guid.TryParse(pieces[0], out var uuid))
                {
                    throw new FormatException($"'{part}' in the GTID set '{text}' is not uuid:interval[:interval...]; expected {Expected(flavor)}.");
                }

                foreach (var iv in pieces.Skip(1))
                {
                    var dash = iv.IndexOf('-', StringComparison.Ordinal);
                    var startText = dash < 0 ? iv : iv[..dash];
                    var endText = dash < 0 ? iv : iv[(dash + 1)..];
                    if (!ulong.TryParse(startText, NumberStyles.None, CultureInfo.InvariantCulture, out var start) ||
                        !ulong.TryParse(endText, NumberStyles.None, CultureInfo.InvariantCulture, out var end) || start == 0 || end < start)
                    {
                        throw new FormatException($"'{iv}' in the GTID set '{text}' is not an interval N or N-M with 1 <= N <= M.");
                    }

                    AddInterval(intervals, uuid, start, end);
                }
            }
        }

        return new GtidPosition(flavor, domains, intervals);
    }

    private static string Expected(GtidFlavor flavor) => flavor == GtidFlavor.MariaDb
        ? "comma-separated domain-server-sequence GTIDs such as 0-100-42,1-200-7"
        : "comma-separated uuid:interval sets such as 3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7";

    /// <summary>The flavor-prefixed form: "MariaDB/..." or "MySQL56/...".</summary>
    public string Encode() => (Flavor == GtidFlavor.MariaDb ? "MariaDB/" : "MySQL56/") + ToString();

    public static GtidPosition Decode(string encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var slash = encoded.IndexOf('/', StringComparison.Ordinal);
        var prefix = slash < 0 ? string.Empty : encoded[..slash];
        return prefix switch
        {
            "MariaDB" => Parse(encoded[(slash + 1)..], GtidFlavor.MariaDb),
            "MySQL56" or "MySQL" => Parse(encoded[(slash + 1)..], GtidFlavor.MySql),
            _ => throw new FormatException($"'{encoded}' is not an encoded position; expected MariaDB/<gtids> or MySQL56/<gtid set>."),
        };
    }

    /// <summary>True when the transaction is part of this position.</summary>
    public bool Contains(Gtid gtid)
    {
        CheckFlavor(gtid.Flavor);
        if (Flavor == GtidFlavor.MariaDb)
        {
            return _domains.TryGetValue(gtid.Domain, out var last) && last.Sequence >= gtid.Sequence;
        }

        return _intervals.TryGetValue(gtid.SourceId, out var list) && list.Any(i => i.Start <= gtid.Sequence && gtid.Sequence <= i.End);
    }

    /// <summary>True when this position includes every transaction of <paramref name="other"/> (it is at or past it).</summary>
    public bool AtLeast(GtidPosition other)
    {
        ArgumentNullException.ThrowIfNull(other);
        CheckFlavor(other.Flavor);
        if (Flavor == GtidFlavor.MariaDb)
        {
            return other._domains.Values.All(Contains);
        }

        foreach (var (uuid, list) in other._intervals)
        {
            if (!_intervals.TryGetValue(uuid, out var mine))
            {
                return false;
            }

            foreach (var (start, end) in list)
            {
                if (!mine.Any(m => m.Start <= start && end <= m.End))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Every transaction in either position.</summary>
    public GtidPosition Union(GtidPosition other)
    {
        ArgumentNullException.ThrowIfNull(other);
        CheckFlavor(other.Flavor);
        var result = Clone();
        foreach (var gtid in other._domains.Values)
        {
            if (!result._domains.TryGetValue(gtid.Domain, out var existing) || existing.Sequence < gtid.Sequence)
            {
                result._domains[gtid.Domain] = gtid;
            }
        }

        foreach (var (uuid, list) in other._intervals)
        {
            foreach (var (start, end) in list)
            {
                AddInterval(result._intervals, uuid, start, end);
            }
        }

        return result;
    }

    /// <summary>This position with one more transaction applied (what a stream does after each GTID event).</summary>
    public GtidPosition Add(Gtid gtid)
    {
        CheckFlavor(gtid.Flavor);
        var result = Clone();
        if (Flavor == GtidFlavor.MariaDb)
        {
            result._domains[gtid.Domain] = gtid;
        }
        else
        {
            AddInterval(result._intervals, gtid.SourceId, gtid.Sequence, gtid.Sequence);
        }

        return result;
    }

    private GtidPosition Clone() => new(
        Flavor,
        new SortedDictionary<uint, Gtid>(_domains),
        new SortedDictionary<Guid, List<(ulong, ulong)>>(_intervals.ToDictionary(kv => kv.Key, kv => new List<(ulong, ulong)>(kv.Value))));

    private static void AddInterval(SortedDictionary<Guid, List<(ulong Start, ulong End)>> map, Guid uuid, ulong start, ulong end)
    {
        if (!map.TryGetValue(uuid, out var list))
        {
            map[uuid] = list = [];
        }

        list.Add((start, end));
        list.Sort((a, b) => a.Start.CompareTo(b.Start));
        var merged = new List<(ulong Start, ulong End)>(list.Count);
        foreach (var iv in list)
        {
            if (merged.Count > 0 && iv.Start <= merged[^1].End + 1)
            {
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, iv.End));
            }
            else
            {
                merged.Add(iv);
            }
        }

        list.Clear();
        list.AddRange(merged);
    }

    private void CheckFlavor(GtidFlavor other)
    {
        if (other != Flavor)
        {
            throw new ArgumentException($"Cannot combine a {other} GTID with a {Flavor} position ({this}).");
        }
    }

    /// <summary>The server syntax: "0-1-5,1-2-3" (MariaDB) or "uuid:1-5:7,uuid2:1" (MySQL; uuids in lower case).</summary>
    public override string ToString()
    {
        if (Flavor == GtidFlavor.MariaDb)
        {
            return string.Join(",", _domains.Values.Select(g => g.ToString()));
        }

        var sb = new StringBuilder();
        foreach (var (uuid, list) in _intervals)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(uuid.ToString("D"));
            foreach (var (start, end) in list)
            {
                sb.Append(':').Append(start.ToString(CultureInfo.InvariantCulture));
                if (end != start)
                {
                    sb.Append('-').Append(end.ToString(CultureInfo.InvariantCulture));
                }
            }
        }

        return sb.ToString();
    }

    public bool Equals(GtidPosition? other) => other is not null && other.Flavor == Flavor && other.ToString() == ToString();

    public override bool Equals(object? obj) => obj is GtidPosition p && Equals(p);

    public override int GetHashCode() => HashCode.Combine(Flavor, ToString());

    public static bool operator ==(GtidPosition? a, GtidPosition? b) => a is null ? b is null : a.Equals(b);

    public static bool operator !=(GtidPosition? a, GtidPosition? b) => !(a == b);
}
