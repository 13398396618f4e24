using System.Text;
using Durable.MySql.Binlog;

namespace Durable.MySql.Tests.Unit;

/// <summary>The folded (PCLMULQDQ) CRC-32 path against the table method and known vectors, at every length near its block edges.</summary>
public sealed class Crc32Tests
{
    [Fact]
    public void Known_vectors()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0u, Crc32.Compute([]));
        // zlib's crc32 of 64 and 1000 zero bytes (long enough for the folded path).
        Assert.Equal(0x758D6336u, Crc32.Compute(new byte[64]));
        Assert.Equal(Crc32.ComputeWithTables(new byte[1000]), Crc32.Compute(new byte[1000]));
        Assert.Equal(0x414FA339u, Crc32.Compute(Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog")));
    }

    [Fact]
    public void Folded_path_matches_the_table_method_at_every_length_and_alignment()
    {
        var random = new Random(20261122);
        var data = new byte[5000];
        random.NextBytes(data);
        for (var length = 0; length <= 600; length++)
        {
            for (var offset = 0; offset < 3; offset++)
            {
                var span = data.AsSpan(offset, length);
                Assert.Equal(Crc32.ComputeWithTables(span), Crc32.Compute(span));
            }
        }

        Assert.Equal(Crc32.ComputeWithTables(data), Crc32.Compute(data));
        var big = new byte[(8 << 20) + 13];
        random.NextBytes(big);
        Assert.Equal(Crc32.ComputeWithTables(big), Crc32.Compute(big));
    }
}
