using Durable.MySql.Binlog;
using Durable.MySql.Protocol;

namespace Durable.MySql.Tests.Unit;

public sealed class FormatTests
{
    // Expected strings are what MariaDB 10.11 returned for these values in a SELECT.
    [Theory]
    [InlineData(3.4028234e38f, "3.40282e38")]
    [InlineData(1.17549e-38f, "1.17549e-38")]
    [InlineData(0.1f, "0.1")]
    [InlineData(123456789f, "123457000")]
    [InlineData(1e-5f, "0.00001")]
    [InlineData(1.23456789e-10f, "0.000000000123457")]
    [InlineData(100000f, "100000")]
    [InlineData(16777217f, "16777200")]
    [InlineData(-1.5f, "-1.5")]
    public void Floats_print_like_mariadb(float value, string expected) => Assert.Equal(expected, TextFormat.Float(value));

    [Theory]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e308")]
    [InlineData(2.2250738585072014e-308, "2.2250738585072014e-308")]
    [InlineData(0.1, "0.1")]
    [InlineData(1234567890123456789d, "1.2345678901234568e18")]
    [InlineData(1e-5, "0.00001")]
    [InlineData(1e15, "1e15")]
    [InlineData(1e14, "100000000000000")]
    [InlineData(9007199254740993d, "9.007199254740992e15")]
    [InlineData(0d, "0")]
    public void Doubles_print_like_mariadb(double value, string expected) => Assert.Equal(expected, TextFormat.Double(value));

    // FLOAT(M,D)/DOUBLE(M,D): what MariaDB 10.11 printed in a SELECT (found by the MySqlConnector oracle tests: the
    // prepared-statement path printed the exact binary value, "1234567890123456.75000", where the server prints the
    // shortest round-trip digits padded to D decimals).
    [Theory]
    [InlineData(1234567890123456.75, 5, "1234567890123456.80000")]
    [InlineData(1234567890123456.75, 3, "1234567890123456.800")]
    [InlineData(1.0 / 3.0, 25, "0.3333333333333333000000000")]
    [InlineData(2.0 / 3.0, 25, "0.6666666666666666000000000")]
    [InlineData(0.1, 25, "0.1000000000000000000000000")]
    [InlineData(123456789012345678901234567.0, 3, "123456789012345680000000000.000")]
    [InlineData(1e20, 3, "100000000000000000000.000")]
    [InlineData((double)(1f / 3f), 20, "0.33333334326744080000")]
    [InlineData((double)0.1f, 20, "0.10000000149011612000")]
    [InlineData(16777216d, 20, "16777216.00000000000000000000")]
    [InlineData(12345.677734375, 3, "12345.678")]
    [InlineData(-1.5, 3, "-1.500")]
    [InlineData(0d, 3, "0.000")]
    [InlineData(0.00001, 5, "0.00001")]
    [InlineData(99999999999999999.99999, 5, "100000000000000000.00000")]
    [InlineData(2d, 0, "2")]
    public void Display_width_floats_print_like_mariadb(double value, int decimals, string expected) =>
        Assert.Equal(expected, TextFormat.FixedDecimals(value, decimals));

    [Fact]
    public void Packed_decimals()
    {
        // DECIMAL(10,2) 1.50: intg 8 digits -> 4 bytes, frac 2 digits -> 1 byte; sign bit set for positive.
        Assert.Equal("1.50", TextFormat.Decimal([0x80, 0, 0, 1, 50], 10, 2));
        Assert.Equal("-1.50", TextFormat.Decimal([0x7F, 0xFF, 0xFF, 0xFE, 0xCD], 10, 2));
        Assert.Equal("0.00", TextFormat.Decimal([0x80, 0, 0, 0, 0], 10, 2));
        Assert.Equal(5, TextFormat.DecimalSize(10, 2));
        Assert.Equal(30, TextFormat.DecimalSize(65, 30));
        Assert.Throws<MySqlException>(() => TextFormat.Decimal([0x80], 10, 2));
    }

    [Fact]
    public void Temporal_values()
    {
        Assert.Equal("2024-02-29", TextFormat.Date((2024u << 9) | (2u << 5) | 29u));
        Assert.Equal("00:00:00", TextFormat.Time2([0x80, 0, 0], 0));
        Assert.Equal("-00:00:01", TextFormat.Time2([0x7F, 0xFF, 0xFF], 0));
        Assert.Equal("1970-01-01 00:00:01.5", TextFormat.Timestamp2([0, 0, 0, 1, 50], 1));
        Assert.Equal("0000-00-00 00:00:00.000", TextFormat.Timestamp2([0, 0, 0, 0, 0, 0], 3));
        Assert.Equal("2024-01-31 12:34:56", TextFormat.DateTimeOld(20240131123456));
        Assert.Equal("-01:02:03", TextFormat.TimeOld(-10203));
    }

    [Fact]
    public void Latin1_is_converted_like_mariadb_converts_it()
    {
        Assert.Equal("€ÿé", System.Text.Encoding.UTF8.GetString(Charsets.Latin1ToUtf8([0x80, 0xFF, 0xE9])));
        Assert.False(Charsets.NeedsConversion(45, [0xE9]));
        Assert.True(Charsets.NeedsConversion(8, [0xE9]));
    }

    [Fact]
    public async Task Packet_channel_splits_and_joins_payloads_over_16_MiB()
    {
        var payload = new byte[(2 * PacketChannel.MaxPacketPayload) + 10];
        new Random(5).NextBytes(payload);
        var exact = new byte[PacketChannel.MaxPacketPayload];
        using var buffer = new MemoryStream();
        var writer = new PacketChannel(buffer);
        var w = new PayloadWriter();
        w.WriteBytes(payload);
        await writer.WriteAsync(w, default);
        w.Clear();
        w.WriteBytes(exact);
        await writer.WriteAsync(w, default);
        w.Clear();
        w.WriteBytes("small"u8);
        await writer.WriteAsync(w, default);

        // 3 packets for the first payload, 2 (full + empty) for the exact one, 1 for the small one.
        Assert.Equal(payload.Length + exact.Length + 5 + (6 * 4), buffer.Length);
        buffer.Position = 0;
        var reader = new PacketChannel(buffer, bufferSize: 1024);
        Assert.True((await reader.ReadPayloadAsync(default)).Span.SequenceEqual(payload));
        Assert.Equal(exact.Length, (await reader.ReadPayloadAsync(default)).Length);
        Assert.Equal("small"u8.ToArray(), (await reader.ReadPayloadAsync(default)).ToArray());
        Assert.Equal(MySqlErrorCode.ServerLost, (await Assert.ThrowsAsync<MySqlException>(async () => await reader.ReadPayloadAsync(default))).ErrorNumber);
    }

    [Fact]
    public void Values_compare_by_bytes_and_null()
    {
        Assert.Equal(MySqlValue.FromString("1"), MySqlValue.FromBytes(new byte[] { (byte)'1' }));
        Assert.NotEqual(MySqlValue.Null, MySqlValue.FromString(string.Empty));
        Assert.Equal(-5, MySqlValue.FromString("-5").AsInt32());
        Assert.Equal(new DateTime(2024, 1, 2, 3, 4, 5, 500), MySqlValue.FromString("2024-01-02 03:04:05.500").AsDateTime());
        Assert.Contains("zero dates", Assert.Throws<FormatException>(() => MySqlValue.FromString("0000-00-00").AsDateTime()).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => MySqlValue.Null.AsInt64());
        Assert.Equal("X'00FF'", MySqlValue.FromBytes(new byte[] { 0, 255 }).ToString());
    }
}
