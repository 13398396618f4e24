namespace Durable.Core.KeyRanges;

/// <summary>
/// A half-open range of keyspace ids [Start, End) compared bytewise, as Vitess names shards: <c>-80</c>, <c>80-</c>,
/// <c>40-80</c>. An empty Start is the minimum, an empty End the maximum; <c>0</c> and <c>-</c> are the whole space.
/// </summary>
public sealed class KeyRange : IEquatable<KeyRange>
{
    private readonly byte[] _start;
    private readonly byte[] _end;

    public KeyRange(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end)
    {
        _start = start.ToArray();
        _end = end.ToArray();
        if (_end.Length > 0 && Compare(_start, _end) >= 0)
        {
            throw new ArgumentException(
                $"Key range start 0x{Convert.ToHexStringLower(_start)} must be below its end 0x{Convert.ToHexStringLower(_end)}.");
        }
    }

    public static KeyRange Full { get; } = new([], []);

    public ReadOnlySpan<byte> Start => _start;

    public ReadOnlySpan<byte> End => _end;

    public bool IsFull => _start.Length == 0 && _end.Length == 0;

    /// <summary>Parses a shard name; throws naming the bad name and the accepted forms.</summary>
    public static KeyRange ParseShard(string shard)
    {
        if (TryParseShard(shard, out var range, out var error))
        {
            return range;
        }

        throw new ArgumentException(error, nameof(shard));
    }

    public static bool TryParseShard(string shard, out KeyRange range, out string error)
    {
        range = Full;
        error = "";
        if (shard is "0" or "-")
        {
            return true;
        }

        var dash = shard.IndexOf('-');
        if (dash < 0 || dash != shard.LastIndexOf('-'))
        {
            error = $"Shard name '{shard}' is not a key range: expected '0', '-', or '<startHex>-<endHex>' such as '-80', '80-', '40-80'.";
            return false;
        }

        if (!TryHex(shard[..dash], out var start) || !TryHex(shard[(dash + 1)..], out var end))
        {
            error = $"Shard name '{shard}' has a bound that is not an even number of hex digits (e.g. '-80', '8000-c000').";
            return false;
        }

        if (end.Length > 0 && Compare(start, end) >= 0)
        {
            error = $"Shard name '{shard}': the start must be below the end.";
            return false;
        }

        range = new KeyRange(start, end);
        return true;
    }

    /// <summary>Whether a keyspace id falls in this range (start inclusive, end exclusive).</summary>
    public bool Contains(ReadOnlySpan<byte> keyspaceId) =>
        (_start.Length == 0 || Compare(keyspaceId, _start) >= 0) && (_end.Length == 0 || Compare(keyspaceId, _end) < 0);

    public bool Intersects(KeyRange other) =>
        (_end.Length == 0 || other._start.Length == 0 || Compare(other._start, _end) < 0)
        && (other._end.Length == 0 || _start.Length == 0 || Compare(_start, other._end) < 0);

    /// <summary>The shard name for this range (<c>-</c> for the whole space, lower-case hex otherwise).</summary>
    public override string ToString() => $"{Convert.ToHexStringLower(_start)}-{Convert.ToHexStringLower(_end)}";

    /// <summary>Equality of ranges: "80" and "8000" are the same point, so trailing zero bytes do not count.</summary>
    public bool Equals(KeyRange? other) =>
        other is not null && PointEquals(_start, other._start) && PointEquals(_end, other._end);

    public override bool Equals(object? obj) => Equals(obj as KeyRange);

    public override int GetHashCode() => HashCode.Combine(
        Convert.ToHexString(TrimZeros(_start)), Convert.ToHexString(TrimZeros(_end)));

    /// <summary>Bytewise lexicographic comparison, a shorter prefix first (Go's bytes.Compare).</summary>
    public static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    /// <summary>Two bounds are the same point when they differ only by trailing zero bytes ("80" vs "8000").</summary>
    public static bool PointEquals(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => TrimZeros(a).SequenceEqual(TrimZeros(b));

    /// <summary>Compares two range starts (empty = minimum) as points.</summary>
    internal static int CompareStarts(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => TrimZeros(a).SequenceCompareTo(TrimZeros(b));

    /// <summary>Compares an end (empty = maximum) with a start (empty = minimum) as points.</summary>
    internal static int CompareEndToStart(ReadOnlySpan<byte> end, ReadOnlySpan<byte> start) =>
        end.Length == 0 ? 1 : TrimZeros(end).SequenceCompareTo(TrimZeros(start));

    private static ReadOnlySpan<byte> TrimZeros(ReadOnlySpan<byte> bound)
    {
        var length = bound.Length;
        while (length > 0 && bound[length - 1] == 0)
        {
            length--;
        }

        return bound[..length];
    }

    private static bool TryHex(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length % 2 != 0)
        {
            return false;
        }

        try
        {
            bytes = Convert.FromHexString(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>Checks that a keyspace's shards partition the key space: every keyspace id in exactly one shard.</summary>
public static class ShardCoverage
{
    /// <summary>Problems found, each naming the shards involved; empty when the shards cover the space exactly once.</summary>
    public static IReadOnlyList<string> Check(IEnumerable<string> shardNames)
    {
        var problems = new List<string>();
        var ranges = new List<(string Name, KeyRange Range)>();
        foreach (var name in shardNames)
        {
            if (KeyRange.TryParseShard(name, out var range, out var error))
            {
                ranges.Add((name, range));
            }
            else
            {
                problems.Add(error);
            }
        }

        if (problems.Count > 0)
        {
            return problems;
        }

        if (ranges.Count == 0)
        {
            return ["The keyspace has no shards; it needs '0' (unsharded) or key-range shards covering '-' to '-'."];
        }

        ranges.Sort((a, b) => KeyRange.CompareStarts(a.Range.Start, b.Range.Start));
        if (ranges[0].Range.Start.Length != 0 && !KeyRange.PointEquals(ranges[0].Range.Start, []))
        {
            problems.Add($"Gap: no shard covers keyspace ids below 0x{Convert.ToHexStringLower(ranges[0].Range.Start)} (first shard is '{ranges[0].Name}').");
        }

        for (var i = 1; i < ranges.Count; i++)
        {
            var previous = ranges[i - 1];
            var current = ranges[i];
            if (previous.Range.End.Length == 0)
            {
                problems.Add($"Overlap: shard '{previous.Name}' runs to the end of the key space, so it overlaps '{current.Name}'.");
                continue;
            }

            var order = KeyRange.CompareEndToStart(previous.Range.End, current.Range.Start);
            if (order < 0)
            {
                problems.Add($"Gap: keyspace ids from 0x{Convert.ToHexStringLower(previous.Range.End)} to 0x{Convert.ToHexStringLower(current.Range.Start)} are in no shard (between '{previous.Name}' and '{current.Name}').");
            }
            else if (order > 0 || KeyRange.PointEquals(previous.Range.Start, current.Range.Start))
            {
                problems.Add($"Overlap: shards '{previous.Name}' and '{current.Name}' both hold keyspace ids from 0x{Convert.ToHexStringLower(current.Range.Start)}.");
            }
        }

        var last = ranges[^1];
        if (last.Range.End.Length != 0)
        {
            problems.Add($"Gap: no shard covers keyspace ids from 0x{Convert.ToHexStringLower(last.Range.End)} to the end (last shard is '{last.Name}').");
        }

        return problems;
    }

    /// <summary>
    /// The names of <paramref name="count"/> equal shards (a power of two), as Vitess's EvenShardsKeyRange cuts them:
    /// width 2^64/count, bounds trimmed to the fewest bytes that tell the shards apart (4: -40, 40-80, 80-c0, c0-;
    /// shard 256 of 512 is 8000-8080).
    /// </summary>
    public static IReadOnlyList<string> EvenShardNames(int count)
    {
        if (count <= 0 || (count & (count - 1)) != 0)
        {
            throw new ArgumentException($"An even split needs a power of two shards; got {count}.", nameof(count));
        }

        if (count == 1)
        {
            return ["-"];
        }

        var bytes = 0;
        for (var n = (ulong)(count - 1); n > 0; n >>= 8)
        {
            bytes++;
        }

        var width = (ulong.MaxValue / (ulong)count) + 1;
        var names = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var start = (ulong)i * width;
            var end = unchecked(start + width); // the last end wraps to 0: the end of the key space
            names.Add($"{Bound(start, bytes, i == 0)}-{Bound(end, bytes, end == 0)}");
        }

        return names;
    }

    private static string Bound(ulong point, int bytes, bool open)
    {
        if (open)
        {
            return "";
        }

        var buffer = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(buffer, point);
        return Convert.ToHexStringLower(buffer.AsSpan(0, bytes));
    }

    /// <summary>The shard whose range holds a keyspace id; throws when none does (the shards do not cover the space).</summary>
    public static string ShardFor(IEnumerable<string> shardNames, ReadOnlySpan<byte> keyspaceId)
    {
        var names = shardNames.ToList();
        foreach (var name in names)
        {
            if (KeyRange.ParseShard(name).Contains(keyspaceId))
            {
                return name;
            }
        }

        throw new ArgumentException(
            $"No shard among [{string.Join(", ", names)}] holds keyspace id 0x{Convert.ToHexStringLower(keyspaceId)}.");
    }
}
