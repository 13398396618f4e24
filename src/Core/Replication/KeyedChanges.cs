using Durable.MySql;

namespace Durable.Replication;

/// <summary>
/// The net effect of a run of row changes on one table, per primary key (exact bytes: the bytes the source wrote, so
/// keys equal under a collation are still told apart, as the source's rows are): whether the row existed before the
/// run (its first change removed or changed it) and the row it leaves (null: gone). Entries keep first-change order.
/// </summary>
internal sealed class KeyedChanges
{
    public Dictionary<byte[], Entry> ByKey { get; } = new(KeyComparer.Instance);

    public List<Entry> Order { get; } = [];

    /// <param name="KeyImage">A row image holding the key (the first image that named it).</param>
    /// <param name="Existed">The first change of the key removed or changed a row: the target must have it.</param>
    /// <param name="FirstOp">That change (for the divergence message).</param>
    public sealed record Entry(MySqlValue[] KeyImage, bool Existed, string FirstOp)
    {
        public MySqlValue[]? Final { get; set; }
    }

    /// <summary>The key's column values as one byte string: per column a null flag, a length and the bytes.</summary>
    public static byte[] Key(TableSchema schema, MySqlValue[] row)
    {
        var size = 0;
        foreach (var k in schema.PrimaryKey)
        {
            size += 5 + row[k].Span.Length;
        }

        var key = new byte[size];
        var at = 0;
        foreach (var k in schema.PrimaryKey)
        {
            var v = row[k];
            key[at] = v.IsNull ? (byte)1 : (byte)0;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(key.AsSpan(at + 1), v.Span.Length);
            v.Span.CopyTo(key.AsSpan(at + 5));
            at += 5 + v.Span.Length;
        }

        return key;
    }

    public static long Size(MySqlValue[] row)
    {
        long size = 16;
        foreach (var v in row)
        {
            size += v.Span.Length + 8;
        }

        return size;
    }

    public static string Describe(TableSchema schema, MySqlValue[] row) => string.Join(", ", schema.PrimaryKey.Select(i => row[i].ToString()));

    public sealed class KeyComparer : IEqualityComparer<byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key)
        {
            var hash = new HashCode();
            hash.AddBytes(key);
            return hash.ToHashCode();
        }
    }
}
