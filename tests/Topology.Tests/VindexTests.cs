using Durable.Core.KeyRanges;
using Durable.Core.Vindexes;

namespace Durable.Topology.Tests;

/// <summary>Vectors from Vitess's vindex tests (go/vt/vtgate/vindexes/*_test.go); each must match byte for byte.</summary>
public class VindexTests
{
    [Theory]
    [InlineData(1L, "166b40b44aba4bd6")]
    [InlineData(2L, "06e7ea22ce92708f")]
    [InlineData(3L, "4eb190c9a2fa169c")]
    [InlineData(4L, "d2fd8867d50d2dfe")]
    [InlineData(5L, "70bb023c810ca87a")]
    [InlineData(6L, "f098480ac4c4be71")]
    [InlineData(0L, "8ca64de9c1b123a7")]
    [InlineData(-1L, "355550b2150e2451")]
    [InlineData(long.MaxValue, "f77d48aadda1f1bb")]
    [InlineData(long.MinValue, "95f8a5e5dd31d900")]
    public void Hash_matches_vitess(long id, string keyspaceIdHex)
    {
        var vindex = VindexFactory.Create("hash", "hash");
        Assert.Equal(keyspaceIdHex, Convert.ToHexStringLower(vindex.Map(VindexValue.FromInt64(id))!));
    }

    [Fact]
    public void Hash_of_max_uint64_equals_hash_of_minus_one_and_text_ids_parse()
    {
        var vindex = new HashVindex("h");
        Assert.Equal("355550b2150e2451", Convert.ToHexStringLower(vindex.Map(VindexValue.FromUInt64(ulong.MaxValue))!));
        Assert.Equal("166b40b44aba4bd6", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("1"))!));
        Assert.Null(vindex.Map(VindexValue.FromText("abc")));
        Assert.Null(vindex.Map(VindexValue.FromText("-1"))); // only signed integer columns wrap
        Assert.Null(vindex.Map(VindexValue.FromDouble(1.5)));
        Assert.Null(vindex.Map(VindexValue.Null));
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(-1L)]
    [InlineData(123456789012L)]
    [InlineData(long.MinValue)]
    public void Hash_reverse_map_round_trips(long id)
    {
        var vindex = new HashVindex("h");
        var keyspaceId = vindex.Map(VindexValue.FromInt64(id))!;
        Assert.Equal(unchecked((ulong)id).ToString(System.Globalization.CultureInfo.InvariantCulture), vindex.ReverseMap(keyspaceId).ToString());
    }

    [Fact]
    public void Hash_reverse_map_rejects_wrong_length()
    {
        var error = Assert.Throws<VindexException>(() => new HashVindex("h").ReverseMap(new byte[3]));
        Assert.Contains("8 bytes", error.Message);
    }

    [Fact]
    public void Des_matches_the_classic_fips_example()
    {
        // The worked example used in many DES write-ups: key 133457799BBCDFF1, plaintext 0123456789ABCDEF.
        var cipher = new DesBlockCipher(Convert.FromHexString("133457799BBCDFF1"));
        Assert.Equal(0x85E813540F0AB405UL, cipher.Encrypt(0x0123456789ABCDEFUL));
        Assert.Equal(0x0123456789ABCDEFUL, cipher.Decrypt(0x85E813540F0AB405UL));
    }

    [Fact]
    public void Xxhash_matches_vitess()
    {
        var vindex = VindexFactory.Create("xxhash", "xxhash");
        Assert.Equal("d46405367612b4b7", Convert.ToHexStringLower(vindex.Map(VindexValue.FromInt64(1))!));
        Assert.Equal("99e9d85137db46ef", Convert.ToHexStringLower(vindex.Map(VindexValue.Null)!));
        Assert.Equal("d01ab7e4d6978f0b", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("test1"))!));
        Assert.Equal("87eb11714c0a0e89", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("test2"))!));
        Assert.Equal("d8e2a6a7c8c7623d", Convert.ToHexStringLower(vindex.Map(VindexValue.FromInt64(-1))!));
        Assert.Equal("b37eb01f7bffafd8", Convert.ToHexStringLower(vindex.Map(VindexValue.FromInt64(long.MaxValue))!));
    }

    [Theory]
    [InlineData(0, "ef46db3751d8e999")]
    [InlineData(33, "0c535d1acafb8ead")]
    [InlineData(100, "6ac1e58032166597")]
    public void Xxh64_matches_the_reference_xxhsum(int length, string expectedHex)
    {
        // Bytes 0,1,2,... of the given length; expected values from `xxhsum -H1` (libxxhash 0.8.1). Lengths of 32 and
        // more run the stripe loop, which the short Vitess vectors above never reach.
        var data = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        Assert.Equal(Convert.ToUInt64(expectedHex, 16), XxHash64.Hash(data));
    }

    [Fact]
    public void Binary_md5_matches_vitess()
    {
        var vindex = VindexFactory.Create("binary_md5", "md5");
        // Go literal "\f\xbcf\x11\xf5T\vЀ\x9a8\x8d\xc9Za[" as bytes (Ѐ is d0 80 in UTF-8).
        Assert.Equal("0cbc6611f5540bd0809a388dc95a615b", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("Test"))!));
        Assert.Equal("033bd94b1168d7e4f0d644c3c95e35bf", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("TEST"))!));
    }

    [Fact]
    public void Numeric_matches_vitess()
    {
        var vindex = (IReversibleVindex)VindexFactory.Create("numeric", "num");
        Assert.Equal("0000000000000001", Convert.ToHexStringLower(vindex.Map(VindexValue.FromInt64(1))!));
        Assert.Equal("0000000000000008", Convert.ToHexStringLower(vindex.Map(VindexValue.FromInt64(8))!));
        Assert.Null(vindex.Map(VindexValue.FromDouble(1.1)));
        Assert.Null(vindex.Map(VindexValue.FromInt64(-1))); // sqltypes.ToUint64 refuses negatives
        Assert.Equal("0000000000000005", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("5"))!));
        Assert.Equal("1", vindex.ReverseMap(Convert.FromHexString("0000000000000001")).ToString());
        Assert.Throws<VindexException>(() => vindex.ReverseMap("aa"u8));
        Assert.Equal(0, vindex.Cost);
    }

    [Theory]
    [InlineData("Test", "1816164c17f31816")]
    [InlineData("TEST", "1816164c17f31816")]
    [InlineData("Te\u0301st", "1816164c17f31816")]
    [InlineData("Tést", "1816164c17f31816")]
    [InlineData("Bést", "1605164c17f31816")]
    [InlineData("Test ", "1816164c17f31816")]
    [InlineData(" Test", "01091816164c17f31816")]
    [InlineData("Test\t", "1816164c17f318160100")]
    [InlineData("TéstLooong", "1816164c17f318161711177117711771174f1691")]
    [InlineData("T", "1816")]
    public void Unicode_loose_md5_hashes_the_vitess_normalized_key(string input, string normalizedHex)
    {
        // Vitess's TestNormalization gives the collation key; unicode_loose_md5 is MD5 over exactly that key.
        var expected = System.Security.Cryptography.MD5.HashData(Convert.FromHexString(normalizedHex));
        Assert.Equal(expected, VindexFactory.Create("unicode_loose_md5", "u").Map(VindexValue.FromText(input)));
    }

    [Fact]
    public void Unicode_loose_md5_matches_vitess_map_vectors()
    {
        var vindex = VindexFactory.Create("unicode_loose_md5", "u");
        // Go string literals from unicodeloosemd5_test.go, as bytes ("\v^۴" is 0b 5e db b4).
        Assert.Equal("0b5edbb401fd7524393690491d64f1f5", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("Test"))!));
        Assert.Equal("0b5edbb401fd7524393690491d64f1f5", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("Tést"))!));
        Assert.Equal("c2b2332e4f73d00741026249706f2fb6", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText("Bést"))!));
        Assert.Equal("a2e3515c7e8df1ffd2ccfc11c6b19dd1", Convert.ToHexStringLower(vindex.Map(VindexValue.FromText(" Test"))!));
    }

    [Theory]
    [InlineData("Test", "42d21361087a4c07")]
    [InlineData("TEst", "42d21361087a4c07")]
    [InlineData("Te\u0301st", "42d21361087a4c07")]
    [InlineData("Tést", "42d21361087a4c07")]
    [InlineData("Test ", "42d21361087a4c07")]
    [InlineData("Bést", "926975b9ce2ec316")]
    [InlineData(" Test", "4fcb8be34ec05775")]
    [InlineData("T", "f81c3be2d501fe18")]
    [InlineData("Test\t", "20af87fc36e3fd51")]
    [InlineData("TéstLooong", "d3ea873942b484a7")]
    public void Unicode_loose_xxhash_matches_vitess(string input, string keyspaceIdHex)
    {
        // Go literals from unicodeloosexxhash_test.go as bytes (e.g. "B\xd2\x13a\bzL\a" is 42 d2 13 61 08 7a 4c 07).
        Assert.Equal(keyspaceIdHex, Convert.ToHexStringLower(VindexFactory.Create("unicode_loose_xxhash", "u").Map(VindexValue.FromText(input))!));
    }

    [Fact]
    public void Unicode_loose_xxhash_of_null_is_the_hash_of_nothing()
    {
        Assert.Equal("99e9d85137db46ef", Convert.ToHexStringLower(VindexFactory.Create("unicode_loose_xxhash", "u").Map(VindexValue.Null)!));
    }

    [Fact]
    public void Unicode_loose_md5_refuses_invalid_utf8_and_unsupported_characters()
    {
        var vindex = VindexFactory.Create("unicode_loose_md5", "u");
        var invalid = Assert.Throws<VindexException>(() => vindex.Map(VindexValue.FromTextBytes([0x99, 0xeb, 0x9d])));
        Assert.Contains("invalid UTF-8", invalid.Message);
        var unsupported = Assert.Throws<VindexException>(() => vindex.Map(VindexValue.FromText("日本")));
        Assert.Contains("U+65E5", unsupported.Message);
    }

    [Fact]
    public void Unknown_vindex_type_names_the_supported_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => VindexFactory.Create("lookup_magic", "v"));
        Assert.Contains("lookup_magic", error.Message);
        Assert.Contains("xxhash", error.Message);
    }

    [Fact]
    public void Reverse_bits_round_trips()
    {
        var vindex = (IReversibleVindex)VindexFactory.Create("reverse_bits", "rb");
        var keyspaceId = vindex.Map(VindexValue.FromInt64(1))!;
        Assert.Equal("8000000000000000", Convert.ToHexStringLower(keyspaceId));
        Assert.Equal("1", vindex.ReverseMap(keyspaceId).ToString());
    }
}

public class KeyRangeTests
{
    [Theory]
    [InlineData("-80", "", "80")]
    [InlineData("80-", "80", "")]
    [InlineData("40-80", "40", "80")]
    [InlineData("0", "", "")]
    [InlineData("-", "", "")]
    public void Parses_shard_names(string shard, string start, string end)
    {
        var range = KeyRange.ParseShard(shard);
        Assert.Equal(start, Convert.ToHexStringLower(range.Start));
        Assert.Equal(end, Convert.ToHexStringLower(range.End));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("8-")]
    [InlineData("80-40")]
    [InlineData("zz-")]
    [InlineData("-80-c0")]
    public void Rejects_bad_shard_names_by_name(string shard)
    {
        var error = Assert.Throws<ArgumentException>(() => KeyRange.ParseShard(shard));
        Assert.Contains(shard, error.Message);
    }

    [Fact]
    public void Membership_is_bytewise_with_exclusive_end()
    {
        var low = KeyRange.ParseShard("-80");
        var high = KeyRange.ParseShard("80-");
        var one = new HashVindex("h").Map(VindexValue.FromInt64(1))!; // 0x16...
        Assert.True(low.Contains(one));
        Assert.False(high.Contains(one));
        Assert.False(low.Contains(Convert.FromHexString("8000000000000000")));
        Assert.True(high.Contains(Convert.FromHexString("80")));
        Assert.True(low.Contains(Convert.FromHexString("7fffffffffffffff")));
        Assert.Equal("-80", ShardCoverage.ShardFor(["-80", "80-"], one));
        Assert.Equal("80-", ShardCoverage.ShardFor(["-80", "80-"], new HashVindex("h").Map(VindexValue.FromInt64(4))!));
    }

    [Fact]
    public void Coverage_accepts_partitions()
    {
        Assert.Empty(ShardCoverage.Check(["0"]));
        Assert.Empty(ShardCoverage.Check(["-80", "80-"]));
        Assert.Empty(ShardCoverage.Check(["80-c0", "-40", "c0-", "40-80"]));
        Assert.Empty(ShardCoverage.Check(["-8000", "80-"]));
    }

    [Fact]
    public void Coverage_names_gaps_and_overlaps()
    {
        Assert.Contains(ShardCoverage.Check(["-40", "80-"]), p => p.StartsWith("Gap") && p.Contains("'-40'") && p.Contains("'80-'"));
        Assert.Contains(ShardCoverage.Check(["-80", "40-"]), p => p.StartsWith("Overlap") && p.Contains("'-80'") && p.Contains("'40-'"));
        Assert.Contains(ShardCoverage.Check(["40-"]), p => p.StartsWith("Gap") && p.Contains("below"));
        Assert.Contains(ShardCoverage.Check(["-80"]), p => p.StartsWith("Gap") && p.Contains("to the end"));
        Assert.Contains(ShardCoverage.Check(["0", "-80", "80-"]), p => p.StartsWith("Overlap"));
        Assert.Contains(ShardCoverage.Check([]), p => p.Contains("no shards"));
    }

    [Fact]
    public void Even_shard_names_match_vitess()
    {
        Assert.Equal(["-"], ShardCoverage.EvenShardNames(1));
        Assert.Equal(["-80", "80-"], ShardCoverage.EvenShardNames(2));
        Assert.Equal(["-40", "40-80", "80-c0", "c0-"], ShardCoverage.EvenShardNames(4));
        var many = ShardCoverage.EvenShardNames(512);
        Assert.Equal("8000-8080", many[256]);
        Assert.Equal("-0080", many[0]);
        Assert.Equal("ff80-", many[511]);
        Assert.Empty(ShardCoverage.Check(many));
        Assert.Contains("power of two", Assert.Throws<ArgumentException>(() => ShardCoverage.EvenShardNames(3)).Message);
    }

    [Fact]
    public void Ranges_equal_up_to_trailing_zero_bytes_and_intersect()
    {
        Assert.Equal(KeyRange.ParseShard("80-"), KeyRange.ParseShard("8000-"));
        Assert.True(KeyRange.ParseShard("-80").Intersects(KeyRange.ParseShard("40-c0")));
        Assert.False(KeyRange.ParseShard("-80").Intersects(KeyRange.ParseShard("80-")));
        Assert.True(KeyRange.Full.Intersects(KeyRange.ParseShard("80-")));
    }
}
