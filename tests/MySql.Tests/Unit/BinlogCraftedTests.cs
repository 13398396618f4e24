using System.Buffers.Binary;
using System.Text;
using Durable.Core.Positions;
using Durable.MySql.Binlog;
using Durable.MySql.Protocol;

namespace Durable.MySql.Tests.Unit;

/// <summary>Binlog events built by hand: the MySQL paths (no MySQL server here) and corrupt input.</summary>
public sealed class BinlogCraftedTests
{
    private const string Uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    internal static byte[] Event(BinlogEventType type, byte[] body, bool crc, uint serverId = 1)
    {
        var size = 19 + body.Length + (crc ? 4 : 0);
        var e = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(e, 1_700_000_000);
        e[4] = (byte)type;
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(5), serverId);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(9), (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(13), 1234);
        body.CopyTo(e, 19);
        if (crc)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(size - 4), Crc32.Compute(e.AsSpan(0, size - 4)));
        }

        return e;
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));

    [Fact]
    public void Mysql_gtid_and_previous_gtids_events()
    {
        var parser = new BinlogEventParser(BinlogEventParser.ChecksumCrc32);
        var uuid = Guid.Parse(Uuid).ToByteArray(bigEndian: true);
        var gtid = (GtidEvent)parser.Parse(Event(BinlogEventType.MySqlGtid, [1, .. uuid, .. BitConverter.GetBytes(42UL), 2, 0, 0, 0, 0, 0, 0, 0, 0], crc: true));
        Assert.Equal(Gtid.MySql(Guid.Parse(Uuid), 42), gtid.Gtid);

        var body = new List<byte>();
        body.AddRange(BitConverter.GetBytes(1UL));
        body.AddRange(uuid);
        body.AddRange(BitConverter.GetBytes(2UL));
        body.AddRange(BitConverter.GetBytes(1UL));
        body.AddRange(BitConverter.GetBytes(6UL));
        body.AddRange(BitConverter.GetBytes(8UL));
        body.AddRange(BitConverter.GetBytes(10UL));
        var previous = (PreviousGtidsEvent)parser.Parse(Event(BinlogEventType.PreviousGtids, [.. body], crc: true));
        Assert.Equal($"{Uuid}:1-5:8-9", previous.Position.ToString());
    }

    [Fact]
    public void Mariadb_gtid_and_gtid_list_events()
    {
        var parser = new BinlogEventParser(BinlogEventParser.ChecksumNone);
        var gtid = (GtidEvent)parser.Parse(Event(BinlogEventType.MariaDbGtid, [.. BitConverter.GetBytes(77UL), .. BitConverter.GetBytes(3u), 1], crc: false, serverId: 100));
        Assert.Equal(Gtid.MariaDb(3, 100, 77), gtid.Gtid);
        Assert.True(gtid.IsStandalone);
        var list = (GtidListEvent)parser.Parse(Event(BinlogEventType.GtidList,
            [.. BitConverter.GetBytes(1u), .. BitConverter.GetBytes(0u), .. BitConverter.GetBytes(100u), .. BitConverter.GetBytes(5UL)], crc: false));
        Assert.Equal([Gtid.MariaDb(0, 100, 5)], list.Gtids);
    }

    [Fact]
    public void A_corrupt_checksum_is_detected()
    {
        var e = Event(BinlogEventType.Xid, BitConverter.GetBytes(9UL), crc: true);
        Assert.Equal(9UL, ((XidEvent)new BinlogEventParser(BinlogEventParser.ChecksumCrc32).Parse(e)).Xid);
        e[20] ^= 1;
        var ex = Assert.Throws<MySqlException>(() => new BinlogEventParser(BinlogEventParser.ChecksumCrc32).Parse(e));
        Assert.Equal(MySqlErrorCode.BinlogChecksumMismatch, ex.ErrorNumber);
    }

    [Fact]
    public void Truncated_and_inconsistent_events_are_malformed()
    {
        var parser = new BinlogEventParser(BinlogEventParser.ChecksumNone);
        Assert.Equal(MySqlErrorCode.MalformedPacket, Assert.Throws<MySqlException>(() => parser.Parse(new byte[10])).ErrorNumber);
        var e = Event(BinlogEventType.Xid, BitConverter.GetBytes(9UL), crc: false);
        Assert.Equal(MySqlErrorCode.MalformedPacket, Assert.Throws<MySqlException>(() => parser.Parse(e.AsSpan(0, e.Length - 1))).ErrorNumber);
        var list = Event(BinlogEventType.GtidList, [.. BitConverter.GetBytes(1000u), 1, 2, 3], crc: false);
        Assert.Contains("GTID_LIST", Assert.Throws<MySqlException>(() => parser.Parse(list)).Message, StringComparison.Ordinal);
        var rows = Event(BinlogEventType.WriteRowsV1, [1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0], crc: false);
        Assert.Contains("without a TABLE_MAP", Assert.Throws<MySqlException>(() => parser.Parse(rows)).Message, StringComparison.Ordinal);
    }

    /// <summary>{"a": 1, "b": [true, null], "c": "x"} in MySQL's binary JSON.</summary>
    private static readonly byte[] JsonDocument =
    [
        0x00, // small object
        3, 0, 40, 0,
        25, 0, 1, 0, 26, 0, 1, 0, 27, 0, 1, 0,   // keys at 25, 26, 27
        0x05, 1, 0, 0x02, 28, 0, 0x0C, 38, 0,   // a: int16 1 inline; b: array @28; c: string @38
        (byte)'a', (byte)'b', (byte)'c',
        2, 0, 10, 0, 0x04, 1, 0, 0x04, 0, 0,    // [true, null]
        1, (byte)'x',
    ];

    [Fact]
    public void Mysql_binary_json_renders_as_select_text()
    {
        Assert.Equal("{\"a\": 1, \"b\": [true, null], \"c\": \"x\"}", MySqlJson.ToText(JsonDocument));
        Assert.Equal("3.5", MySqlJson.ToText([0x0B, .. BitConverter.GetBytes(3.5)]));
        Assert.Equal("\"q\\\"\"", MySqlJson.ToText([0x0C, 2, (byte)'q', (byte)'"']));
        Assert.Throws<MySqlException>(() => MySqlJson.ToText([0x00, 5, 0, 200, 0]));
        Assert.Throws<MySqlException>(() => MySqlJson.ToText([0x42]));
    }

    [Fact]
    public void Table_map_and_v2_rows_with_json_and_unsigned_columns()
    {
        var parser = new BinlogEventParser(BinlogEventParser.ChecksumCrc32);
        var map = new List<byte> { 7, 0, 0, 0, 0, 0, 1, 0, 1, (byte)'d', 0, 1, (byte)'t', 0, 3, 3, 245, 1 };
        map.AddRange([1, 4]);        // metadata: JSON length size 4
        map.Add(0b110);              // null bitmap
        map.AddRange([1, 1, 0x40]);  // SIGNEDNESS: numeric columns (id, tiny) -> tiny unsigned
        map.AddRange([4, 7, 2, (byte)'i', (byte)'d', 1, (byte)'j', 1, (byte)'u']); // COLUMN_NAME
        map.AddRange([8, 1, 0]);     // SIMPLE_PRIMARY_KEY: column 0
        var tableMap = (TableMapEvent)parser.Parse(Event(BinlogEventType.TableMap, [.. map], crc: true));
        Assert.Equal(["id", "j", "u"], tableMap.Table.Columns.Select(c => c.Name));
        Assert.Equal([0], tableMap.Table.PrimaryKey);
        Assert.True(tableMap.Table.Columns[2].Unsigned);
        Assert.False(tableMap.Table.Columns[0].Unsigned);

        var rows = new List<byte> { 7, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0b111 };
        rows.Add(0); // no NULLs
        rows.AddRange(BitConverter.GetBytes(-5));
        rows.AddRange(BitConverter.GetBytes(JsonDocument.Length));
        rows.AddRange(JsonDocument);
        rows.Add(250);
        rows.Add(0b010); // second row: j NULL
        rows.AddRange(BitConverter.GetBytes(6));
        rows.Add(1);
        var evt = (RowsEvent)parser.Parse(Event(BinlogEventType.WriteRowsV2, [.. rows], crc: true));
        Assert.Equal(RowsEventKind.Insert, evt.Kind);
        Assert.True(evt.IsStatementEnd);
        Assert.Equal(2, evt.Rows.Count);
        Assert.Equal(["-5", "{\"a\": 1, \"b\": [true, null], \"c\": \"x\"}", "250"], evt.Rows[0].After!.Select(v => v.AsString()));
        Assert.True(evt.Rows[1].After![1].IsNull);
        Assert.Equal("1", evt.Rows[1].After![2].AsString());
    }

    [Fact]
    public void Dump_gtid_command_encodes_the_gtid_set()
    {
        var writer = new PayloadWriter();
        BinlogStream.WriteDumpGtid(writer, new BinlogStreamOptions { ServerId = 77, Start = GtidPosition.Parse($"{Uuid}:1-5:8", GtidFlavor.MySql) });
        var p = writer.Payload;
        Assert.Equal((byte)CommandKind.BinlogDumpGtid, p[0]);
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(p[1..]));
        Assert.Equal(77u, BinaryPrimitives.ReadUInt32LittleEndian(p[3..]));
        var dataSize = BinaryPrimitives.ReadUInt32LittleEndian(p[19..]);
        Assert.Equal(8 + 16 + 8 + (2 * 16), (int)dataSize);
        Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(p[23..]));
        Assert.Equal(Guid.Parse(Uuid), new Guid(p.Slice(31, 16), bigEndian: true));
        Assert.Equal(2UL, BinaryPrimitives.ReadUInt64LittleEndian(p[47..]));
        Assert.Equal([1UL, 6UL, 8UL, 9UL], [BinaryPrimitives.ReadUInt64LittleEndian(p[55..]), BinaryPrimitives.ReadUInt64LittleEndian(p[63..]),
            BinaryPrimitives.ReadUInt64LittleEndian(p[71..]), BinaryPrimitives.ReadUInt64LittleEndian(p[79..])]);
        Assert.Equal(87, p.Length);
    }
}
